"""Settings, keymap, help and palette, the command line, and the embedded default server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from textual.command import CommandPalette

from imagechat_tui.tui import embedded
from imagechat_tui.tui.screens.help import HelpScreen
from imagechat_tui.tui.settings import SettingsError, resolve

from ..conftest import Harness, wait_for
from ..redis_server import free_port
from .test_flows import SIZE, place, ready


def test_flags_win_over_the_environment_which_wins_over_the_file(tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('server = "https://file.example"\ntoken = "file-token"\ncafile = "/file/ca.pem"\n'
                      '[keymap]\nreply = "ctrl+r"\n')
    monkeypatch.setenv("IMAGECHAT_TOKEN", "env-token")
    monkeypatch.delenv("IMAGECHAT_SERVER", raising=False)
    settings = resolve(["https://flag.example"], None, None, config)
    assert (settings.servers, settings.token, settings.cafile) == (("https://flag.example",), "env-token",
                                                                   "/file/ca.pem")
    assert settings.keymap == {"reply": "ctrl+r"}
    config.write_text("server = [1")
    with pytest.raises(SettingsError, match=r"config\.toml"):
        resolve(None, None, None, config)


async def test_keys_can_be_remapped_and_are_listed_in_help_and_palette(server: Harness, make_app, sample) -> None:
    app = make_app(server, await server.token("u_ana", "Ana"), sample, keymap={"next": "ctrl+n", "bogus": "z"})
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert any("bogus" in str(n.message) for n in app._notifications)
        await place(pilot, "first")
        await pilot.press("escape")
        await pilot.press("n")  # no longer bound
        assert app.marker is None
        await pilot.press("ctrl+n")
        assert app.marker is not None
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert ("ctrl+n", "Next marker") in app.screen.rows
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await wait_for(lambda: isinstance(app.screen, CommandPalette), 5)
        await pilot.press(*"resolve", "enter")
        await wait_for(lambda: app.markers[0].status == "resolved", 3, "resolve from the palette")


def test_help_lists_the_settings() -> None:
    done = subprocess.run([sys.executable, "-m", "imagechat_tui.tui.cli", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0
    for word in ("--server", "--token", "--cafile", "--config", "IMAGECHAT_SERVER", "IMAGECHAT_TOKEN", "keymap"):
        assert word in done.stdout


def test_a_server_without_a_token_is_a_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path)}
    env.pop("IMAGECHAT_TOKEN", None)
    done = subprocess.run([sys.executable, "-m", "imagechat_tui.tui.cli", "x.png", "--server", "http://127.0.0.1:9"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2 and "no token" in done.stderr and "Traceback" not in done.stderr


def test_the_embedded_server_is_started_once_and_shared(tmp_path: Path) -> None:
    token = embedded.local_token(tmp_path)
    assert embedded.local_token(tmp_path) == token  # every terminal shares the identity
    assert oct((tmp_path / "local-token").stat().st_mode & 0o777) == "0o600"
    local = embedded.local_server(tmp_path, token, preferred=free_port())
    embedded.ensure_server(local)
    embedded.ensure_server(local)  # the second terminal finds it
    assert embedded.local_server(tmp_path, token) == local  # and the port recorded for it
    import httpx

    me = httpx.get(local.url + "/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["tenant"]["name"] == "local"
    stop(local)


def stop(local: embedded.LocalServer) -> None:
    pids = subprocess.run(["pgrep", "-f", "--", f"--port {local.port} "], capture_output=True, text=True,
                          check=False).stdout.split()
    assert len(pids) == 1
    subprocess.run(["kill", pids[0]], check=True)


def test_several_servers_come_from_repeated_flags_or_a_comma_separated_environment_variable(
        tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('server = "https://a.example, https://b.example"\n')
    monkeypatch.delenv("IMAGECHAT_SERVER", raising=False)
    assert resolve(None, None, None, config).servers == ("https://a.example", "https://b.example")
    monkeypatch.setenv("IMAGECHAT_SERVER", "https://c.example,https://d.example,")
    assert resolve(None, None, None, config).servers == ("https://c.example", "https://d.example")
    flags = ["https://e.example", "https://f.example,https://g.example"]  # --server e --server f,g
    assert resolve(flags, None, None, config).servers == ("https://e.example", "https://f.example",
                                                          "https://g.example")

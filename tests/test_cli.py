"""`imagechat-server` as an operator runs it: admin commands, the URL line, Ctrl-C, kill -9."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from imagechat_tui.server import cli
from imagechat_tui.server.options import SERVE, STORAGE, without_options

from .conftest import IMAGE, bid

SERVER = [sys.executable, "-m", "imagechat_tui.server.cli"]


def admin(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SERVER, "--data-dir", str(data_dir), *args], capture_output=True, text=True, timeout=60)


def token(data_dir: Path, user: str = "u_ana", role: str = "member") -> str:
    admin(data_dir, "tenant", "create", "acme")
    done = admin(data_dir, "token", "create", "--tenant", "acme", "--user", user, "--name", "Ana", "--role", role)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


class ServerProcess:
    def __init__(self, data_dir: Path, *options: str) -> None:
        self.proc = subprocess.Popen([*SERVER, "--data-dir", str(data_dir), "--port", "0", *options],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    async def url(self) -> str:
        return await self.url_of(self.proc)

    @staticmethod
    async def url_of(proc: subprocess.Popen[str]) -> str:
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 30)  # type: ignore[union-attr]
        match = re.fullmatch(r"imagechat-server serving on (http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        return match.group(1)


async def test_tenant_and_token_commands(tmp_path: Path) -> None:
    assert admin(tmp_path, "tenant", "create", "acme").returncode == 0
    again = admin(tmp_path, "tenant", "create", "acme")
    assert again.returncode == 2 and "exists already" in again.stderr and "Traceback" not in again.stderr
    created = admin(tmp_path, "token", "create", "--tenant", "acme", "--user", "u_ana", "--name", "Ana")
    secret = created.stdout.strip()
    assert secret.startswith("ict_") and "shown only now" in created.stderr
    listing = admin(tmp_path, "token", "list").stdout
    assert "u_ana" in listing and secret not in listing
    token_id = re.search(r"(tok_\w+)", listing).group(1)  # type: ignore[union-attr]
    assert admin(tmp_path, "token", "revoke", token_id).returncode == 0
    assert re.search(rf"{token_id} .* \d{{4}}-\d\d-\d\dT", admin(tmp_path, "token", "list").stdout)
    assert "no tenant" in admin(tmp_path, "token", "create", "--tenant", "nope", "--user", "u", "--name", "n").stderr
    db = (tmp_path / "imagechat.db").read_bytes()
    assert secret.encode() not in db  # stored only as a hash


def loops() -> list[Any]:
    """Both event loops the server runs on; uvloop only where it is installed (not on Windows)."""
    uvloop = pytest.mark.skipif(importlib.util.find_spec("uvloop") is None, reason="uvloop is not installed")
    return ["asyncio", pytest.param("uvloop", marks=uvloop)]


@pytest.mark.parametrize("loop", loops())
@pytest.mark.parametrize(("sig", "code", "status"), [
    pytest.param(signal.SIGINT, 1001, 0, id="ctrl-c-going-away"),
    pytest.param(signal.SIGTERM, 1012, -signal.SIGTERM, id="sigterm-service-restart"),
])
async def test_a_signal_closes_live_connections_with_its_code_and_exits_cleanly(
        tmp_path: Path, sig: signal.Signals, code: int, status: int, loop: str) -> None:
    """On either event loop: live frames, the signal handlers, the close codes and the exit status."""
    secret = token(tmp_path)
    server = ServerProcess(tmp_path, "--loop", loop)
    url = await server.url()
    ws = await connect(url.replace("http", "ws") + "/api/v1/live",
                       additional_headers={"Authorization": f"Bearer {secret}"})
    await ws.send(json.dumps({"type": "subscribe", "image": IMAGE, "since": None}))
    await ws.recv()
    server.proc.send_signal(sig)
    try:
        async with asyncio.timeout(10):
            await ws.recv()
    except ConnectionClosed:
        pass
    assert ws.close_code == code
    # uvicorn raises the signal again once shut down: SIGTERM ends the process as it asks
    assert await asyncio.to_thread(server.proc.wait, 15) == status
    assert "Traceback" not in server.proc.stderr.read()  # type: ignore[union-attr]


def test_asking_for_uvloop_where_it_is_missing_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "uvloop" else find_spec(name, *a))
    assert cli.main(["--data-dir", str(tmp_path), "--loop", "uvloop"]) == 2
    assert "--loop uvloop needs uvloop installed" in capsys.readouterr().err


async def test_an_acknowledged_write_survives_kill_9(tmp_path: Path) -> None:
    secret = token(tmp_path)
    server = ServerProcess(tmp_path)
    url = await server.url()
    headers = {"Authorization": f"Bearer {secret}"}
    async with httpx.AsyncClient(base_url=url + "/api/v1", headers=headers) as http:
        body = {"image": IMAGE, "x": 1, "y": 2, "text": "must survive", "broadcastId": bid()}
        created = await http.post("/chats", json=body)
        assert created.status_code == 201
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(10)
    again = ServerProcess(tmp_path)
    url = await again.url()
    async with httpx.AsyncClient(base_url=url + "/api/v1", headers=headers) as http:
        page = (await http.get("/chats", params={"image": IMAGE})).json()
    again.proc.send_signal(signal.SIGINT)
    again.proc.wait(15)
    assert page["seq"] == 1 and page["markers"] == [created.json()["marker"]]


async def test_a_newer_database_is_refused_with_one_clear_line(tmp_path: Path) -> None:
    import sqlite3

    admin(tmp_path, "tenant", "create", "acme")
    with sqlite3.connect(tmp_path / "imagechat.db") as db:
        db.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    done = subprocess.run([*SERVER, "--data-dir", str(tmp_path), "--port", "0"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert "schema version 999" in done.stderr and "Traceback" not in done.stderr


async def test_the_embedded_server_exits_by_itself_when_idle(tmp_path: Path) -> None:
    proc = subprocess.Popen([*SERVER, "--data-dir", str(tmp_path), "--port", "0", "--exit-when-idle", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert await asyncio.to_thread(proc.wait, 20) == 0


async def test_admin_output_shows_control_characters_in_names_instead_of_obeying_them(tmp_path: Path) -> None:
    hostile_tenant, hostile_name = "acme\x1b]0;pwned\x07", "\x1b[2J\x1b[31mEve\u202e\x9b"
    assert admin(tmp_path, "tenant", "create", hostile_tenant).returncode == 0
    created = admin(tmp_path, "token", "create", "--tenant", hostile_tenant, "--user", "u_\x1b[1meve",
                    "--name", hostile_name)
    listing = admin(tmp_path, "token", "list")
    for output in (created.stderr, listing.stdout):
        assert not any(c in output for c in "\x1b\x07\x9b\u202e"), output
    assert "␛[2J␛[31mEve⟨U+202E⟩⟨9B⟩" in created.stderr
    assert "acme␛]0;pwned␇" in listing.stdout and "u_␛[1meve" in listing.stdout


def test_every_serve_option_is_read_from_its_environment_variable_named_in_help(
        monkeypatch: pytest.MonkeyPatch) -> None:
    help_text = " ".join(cli._parser().format_help().split())  # unwrapped
    for option in STORAGE + SERVE:
        assert f"[env {option.env}]" in help_text, option.flag
    monkeypatch.setenv("IMAGECHAT_PORT", "9001")
    monkeypatch.setenv("IMAGECHAT_HOST", "0.0.0.0")
    monkeypatch.setenv("IMAGECHAT_REDIS_URL", "redis://r:6379/0")
    monkeypatch.setenv("IMAGECHAT_METRICS_TOKEN", "m")
    monkeypatch.setenv("IMAGECHAT_WRITE_RATE", "2.5")
    monkeypatch.setenv("IMAGECHAT_MAX_CONNECTIONS", "50")
    monkeypatch.setenv("IMAGECHAT_LOG_LEVEL", "info")
    args = cli._parser().parse_args([])
    assert (args.port, args.host, args.redis_url, args.metrics_token) == (9001, "0.0.0.0", "redis://r:6379/0", "m")
    assert (args.write_rate, args.max_connections, args.log_level, args.write_burst) == (2.5, 50, "info", 60.0)
    assert cli._parser().parse_args(["--port", "9002"]).port == 9002  # the flag wins


def test_a_bad_environment_value_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    done = subprocess.run([*SERVER, "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=60,
                          env=os.environ | {"IMAGECHAT_PORT": "eighty"})
    assert done.returncode == 2 and "IMAGECHAT_PORT='eighty'" in done.stderr and "Traceback" not in done.stderr


async def test_serve_takes_its_options_from_the_environment_alone(tmp_path: Path) -> None:
    proc = subprocess.Popen([*SERVER], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=os.environ | {"IMAGECHAT_DATA_DIR": str(tmp_path), "IMAGECHAT_PORT": "0",
                                              "IMAGECHAT_METRICS_TOKEN": "from-env"})
    try:
        url = await ServerProcess.url_of(proc)
        async with httpx.AsyncClient(base_url=url) as http:
            assert (await http.get("/metrics", headers={"Authorization": "Bearer from-env"})).status_code == 200
        assert (tmp_path / "imagechat.db").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


def test_the_viewers_own_server_is_started_without_the_operators_server_variables() -> None:
    environ = {"IMAGECHAT_DATABASE_URL": "postgresql+asyncpg://x/y", "IMAGECHAT_CERTFILE": "c.pem",
               "IMAGECHAT_TOKEN": "the viewer's", "PATH": "/bin"}
    assert without_options(environ) == {"IMAGECHAT_TOKEN": "the viewer's", "PATH": "/bin"}

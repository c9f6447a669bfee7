"""Presence in the viewer: who else is viewing in the status bar, who is writing where beside the
thread, the compose box announcing it, and hostile names shown literally."""

from __future__ import annotations

import httpx
import pytest
from textual.widgets import Static

from imagechat_tui.protocol.safe import visible
from imagechat_tui.tui.settings import SettingsError, resolve
from imagechat_tui.tui.widgets.status import StatusBar

from ..conftest import Harness, bid, wait_for
from .test_flows import ready, write

SIZE = (160, 48)
HOSTILE_NAME = "[bold red]Eve[/]\x1b[2J"


def status(app) -> str:
    return str(app.query_one(StatusBar).render())


def writing_line(app) -> str:
    line = app.query_one("#writing", Static)
    return str(line.render()) if line.display else ""


async def test_others_viewing_and_writing_are_shown(server: Harness, make_app, sample, sample_key, engines) -> None:
    bo_token = await server.token("u_bo", "Bo")
    async with httpx.AsyncClient(base_url=server.url + "/api/v1", headers={"Authorization": f"Bearer {bo_token}"}) as h:
        created = await h.post("/chats", json={"image": sample_key, "x": 40, "y": 40, "text": "first",
                                               "broadcastId": bid()})
        assert created.status_code == 201, created.text
    marker_id = created.json()["marker"]["id"]
    app = make_app(server, await server.token("u_ana", "Ana"), sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        bo = await engines(server.url, bo_token)
        bo.subscribe(sample_key)
        eve = await engines(server.url, await server.token("u_eve", HOSTILE_NAME))
        eve.subscribe(sample_key)
        await wait_for(lambda: "here: Bo, " in status(app), 2.0, "Bo and Eve in the status bar within 2 s")
        assert visible(HOSTILE_NAME)[:15] + "…" in status(app) and "\x1b" not in status(app)  # cut to 16
        assert "Ana" not in status(app).split("here:")[1].split("│")[0]  # not herself
        bo.writing(sample_key, marker_id)
        eve.writing(sample_key, None)
        await wait_for(lambda: "Bo is writing on 1" in writing_line(app), 2.0, "Bo writing on 1")
        assert f"{visible(HOSTILE_NAME)} is writing a new marker" in writing_line(app)
        assert app.is_running  # the markup in Eve's name did nothing
        bo.stopped_writing(sample_key)
        await eve.close()
        await wait_for(lambda: writing_line(app) == "" and "here: Bo" in status(app)
                       and "Eve" not in status(app), 2.0, "Eve gone, Bo no longer writing")


async def test_the_compose_box_announces_writing(server: Harness, make_app, sample, sample_key, engines) -> None:
    bo = await engines(server.url, await server.token("u_bo", "Bo"))
    bo.subscribe(sample_key)
    app = make_app(server, await server.token("u_ana", "Ana"), sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)

        def ana_writes() -> object:
            return next((u.writing for u in bo.people(sample_key) if u.id == "u_ana"), None)

        await pilot.press("a")
        await wait_for(lambda: ana_writes() is not None, 2.0, "Ana writing a new marker, seen by Bo")
        await write(pilot, "hello")
        await wait_for(lambda: app.marker is not None and ana_writes() is None, 2.0, "Ana no longer writing")


async def test_a_hidden_viewer_is_not_shown(server: Harness, make_app, sample, sample_key, engines) -> None:
    bo = await engines(server.url, await server.token("u_bo", "Bo"))
    bo.subscribe(sample_key)
    app = make_app(server, await server.token("u_ana", "Ana"), sample, presence=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await wait_for(lambda: "here: Bo" in status(app), 2.0, "Ana sees Bo")
        await pilot.press("a")  # the compose box: a visible viewer would announce writing now
        cy = await engines(server.url, await server.token("u_cy", "Cy"))
        cy.subscribe(sample_key)  # comes after Ana's compose box, so Bo hearing of Cy means a tick went by
        await wait_for(lambda: {u.id for u in bo.people(sample_key)} == {"u_bo", "u_cy"}, 2.0, "Bo sees Cy")
        assert "u_ana" not in {u.id for u in bo.people(sample_key)}


def test_presence_off_from_the_file_the_environment_or_the_flag(tmp_path, monkeypatch) -> None:
    config = tmp_path / "config.toml"
    monkeypatch.delenv("IMAGECHAT_PRESENCE", raising=False)
    assert resolve(None, None, None, config).presence is True
    config.write_text("presence = false\n")
    assert resolve(None, None, None, config).presence is False
    monkeypatch.setenv("IMAGECHAT_PRESENCE", "on")
    assert resolve(None, None, None, config).presence is True
    assert resolve(None, None, None, config, presence=False).presence is False
    monkeypatch.setenv("IMAGECHAT_PRESENCE", "maybe")
    with pytest.raises(SettingsError, match="IMAGECHAT_PRESENCE"):
        resolve(None, None, None, config)
    monkeypatch.delenv("IMAGECHAT_PRESENCE")
    config.write_text('presence = "no"\n')
    with pytest.raises(SettingsError, match="presence must be true or false"):
        resolve(None, None, None, config)

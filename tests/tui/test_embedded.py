"""The embedded server: one per user, restarted when gone, its failures shown in the viewer."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from imagechat_tui.client.engine import Backoff, LinkState, SyncEngine
from imagechat_tui.client.errors import ClientError
from imagechat_tui.tui import embedded
from imagechat_tui.tui.widgets.status import OfflineBanner

from ..conftest import wait_for
from ..redis_server import free_port
from .test_flows import SIZE
from .test_setup import stop


def test_a_second_user_gets_a_server_of_their_own(tmp_path: Path) -> None:
    port = free_port()
    ana_dir, bob_dir = tmp_path / "ana", tmp_path / "bob"
    ana = embedded.local_server(ana_dir, embedded.local_token(ana_dir), preferred=port)
    embedded.ensure_server(ana)
    try:
        bob_token = embedded.local_token(bob_dir)
        bob = embedded.local_server(bob_dir, bob_token, preferred=port)  # Ana's server holds the port
        assert bob.port != ana.port and (bob_dir / "server-port").read_text().strip() == str(bob.port)
        embedded.ensure_server(bob)
        assert embedded.knows(bob.url, bob_token) and not embedded.knows(ana.url, bob_token)
        stop(bob)
    finally:
        stop(ana)


def test_a_port_taken_by_another_program_is_avoided(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        local = embedded.local_server(tmp_path, embedded.local_token(tmp_path), preferred=port)
        assert local.port != port


async def test_the_engine_restarts_the_local_server_when_it_is_gone(tmp_path: Path) -> None:
    token = await asyncio.to_thread(embedded.local_token, tmp_path)
    local = embedded.local_server(tmp_path, token, preferred=free_port())
    engine = SyncEngine(local.url, token, backoff=Backoff(0.05, 0.3))
    engine.before_connect = lambda: embedded.keep_running(local)
    await engine.start()
    try:
        await wait_for(lambda: engine.link.state is LinkState.ONLINE, 20, "the first start")
        stop(local)
        await wait_for(lambda: engine.link.state is not LinkState.ONLINE, 10, "the server gone")
        await wait_for(lambda: engine.link.state is LinkState.ONLINE, 20, "the restart")
    finally:
        await engine.close()
        stop(local)


async def test_a_server_that_cannot_start_says_why_in_the_viewer(tmp_path: Path, make_app, sample) -> None:
    with socket.socket() as other:  # the port is taken between the choice and the start
        other.bind(("127.0.0.1", 0))
        other.listen()
        local = embedded.LocalServer(tmp_path, other.getsockname()[1])
        app = make_app(local.url, await asyncio.to_thread(embedded.local_token, tmp_path), sample)
        failed: list[ClientError] = []

        async def start_once() -> None:  # one start only: a retry still running after the test would succeed
            if not failed:
                try:
                    await embedded.keep_running(local)
                except ClientError as exc:
                    failed.append(exc)
            raise failed[0]

        app.engine.before_connect = start_once
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(lambda: app.query(OfflineBanner), 10, "the main screen")  # composed after start-up
            banner = app.query_one(OfflineBanner)
            await wait_for(lambda: "did not start" in str(banner.render()), 20, "the reason in the banner")
            await pilot.pause()
            text = str(banner.render())
            assert "address already in use" in text and str(local.log) in text
            assert "start the viewer again" in text

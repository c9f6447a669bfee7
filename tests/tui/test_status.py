"""Every state of the connection explained: never synced, token refused."""

from __future__ import annotations

import asyncio

from imagechat_tui.client.engine import LinkState
from imagechat_tui.server import admin
from imagechat_tui.tui.widgets.status import OfflineBanner, StatusBar

from ..conftest import Harness, wait_for
from .test_flows import SIZE, ready


def shown(widget) -> str:
    return str(widget.render())


async def test_an_image_never_synced_is_not_shown_as_having_no_markers(make_app, sample) -> None:
    app = make_app("http://127.0.0.1:9", "any-token", sample)  # nothing listens there, and no cache
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.key is not None and app.engine.link.state is LinkState.RECONNECTING, 5)
        await pilot.pause()
        status = shown(app.query_one(StatusBar))
        assert "not synced yet" in status and "0 markers" not in status


async def test_a_wrong_token_is_explained_and_not_retried(server: Harness, make_app, sample) -> None:
    app = make_app(server, "not-a-token", sample)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.engine.link.state is LinkState.REFUSED, 5, "the refusal")
        await pilot.pause()
        banner = shown(app.query_one(OfflineBanner))
        assert "TOKEN REFUSED" in banner and "token create" in banner and "--token" in banner
        assert "reconnecting in" not in banner and "until the connection is back" not in banner
        assert "token refused" in shown(app.query_one(StatusBar))
        await asyncio.sleep(0.5)  # reconnects come every 0.05-0.3 s in tests: none may come
        assert app.engine.link.state is LinkState.REFUSED and app.engine._task.done()


async def test_a_token_revoked_while_open_is_explained(server: Harness, make_app, sample) -> None:
    token_id, token = await server.token_with_id("u_ana", "Ana")
    app = make_app(server, token, sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await admin.revoke_token(server.app.db, token_id)
        await wait_for(lambda: app.engine.link.state is LinkState.REFUSED, 5, "the refusal")
        await pilot.pause()
        assert "TOKEN REFUSED" in shown(app.query_one(OfflineBanner))
        await pilot.press("a")
        assert any("refused your token" in str(n.message) for n in app._notifications)

"""The viewer driven with keys and the mouse (Pilot), against a real server on loopback."""

from __future__ import annotations

import httpx
import pytest
from textual.widgets import Static

from imagechat_tui.client.engine import LinkState
from imagechat_tui.protocol.models import CreateChat
from imagechat_tui.server.database import Database
from imagechat_tui.server.store import Store
from imagechat_tui.tui.app import ImageChatApp
from imagechat_tui.tui.screens.compose import ComposeScreen
from imagechat_tui.tui.screens.confirm import ConfirmScreen
from imagechat_tui.tui.widgets.image_view import ImageView
from imagechat_tui.tui.widgets.status import OfflineBanner

from ..conftest import Harness, bid, stop_server, wait_for

SIZE = (120, 36)


async def ready(app: ImageChatApp, pilot) -> None:
    await wait_for(lambda: app.key is not None and app.engine.link.state is LinkState.ONLINE
                   and app.engine.state(app.key).loaded, 10, "the viewer to load and sync")
    await pilot.pause()


async def write(pilot, text: str) -> None:
    await wait_for(lambda: isinstance(pilot.app.screen, ComposeScreen), 5, "the compose screen")
    await pilot.press(*text)
    await pilot.press("ctrl+s")


async def place(pilot, text: str) -> None:
    """Place a marker at the cursor with `text`, and wait until the server's marker is selected."""
    app = pilot.app
    await pilot.press("a")
    await write(pilot, text)
    await wait_for(lambda: app.marker is not None and not app.marker.id.startswith("pending"), 3, "the marker")


def notices(app: ImageChatApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


def thread_text(app: ImageChatApp) -> str:
    return "\n".join(str(w.render()) for w in app.query("#thread Static").results(Static))


async def test_place_reply_edit_resolve_and_delete_by_keyboard(server: Harness, make_app, sample) -> None:
    app = make_app(server, await server.token("u_ana", "Ana"), sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("right", "right", "l", "down", "j")
        await place(pilot, "Button cut off")
        marker = app.marker
        assert marker is not None and marker.comments[0].text == "Button cut off"
        assert marker.x > 50 and marker.y > 50  # the cursor moved right and down from the middle

        await pilot.press("r")
        await write(pilot, "Which one?")
        await wait_for(lambda: len(app.marker.comments) == 2, 3, "the reply")
        reply = app.marker.comments[1]
        assert reply.parent_id == marker.comments[0].id

        await pilot.press("right_square_bracket", "e")
        await wait_for(lambda: isinstance(app.screen, ComposeScreen), 5)
        await pilot.press("ctrl+a", "ctrl+k")  # clear the line in the editor
        await pilot.press(*"The blue one")
        await pilot.press("ctrl+s")
        await wait_for(lambda: app.marker.comments[1].text == "The blue one", 3, "the edit")
        assert "edited" in thread_text(app)

        await pilot.press("x")
        await wait_for(lambda: app.marker.status == "resolved", 3, "resolved")
        await pilot.press("x")
        await wait_for(lambda: app.marker.status == "open", 3, "reopened")

        await pilot.press("d", "y")  # the reply
        await wait_for(lambda: len(app.marker.comments) == 1, 3, "the comment delete")

        await pilot.press("D", "n")  # asked, and refused: nothing happens
        await pilot.pause()
        assert app.marker is not None
        await pilot.press("D", "y")
        await wait_for(lambda: app.markers == [], 3, "the marker delete")


async def test_place_and_select_with_the_mouse(server: Harness, make_app, sample) -> None:
    app = make_app(server, await server.token("u_ana", "Ana"), sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        view = app.query_one(ImageView)
        g = view.geometry
        cols, rows, left, top = g.cols, g.rows, g.left, g.top
        await pilot.click(ImageView, offset=(left + cols // 4, top + rows // 4))
        x, y = view.cursor
        assert 20 < x < 30 and 20 < y < 30
        await place(pilot, "top left")
        await pilot.press("escape")
        assert app.marker is None
        await pilot.click(ImageView, offset=(left + cols // 4, top + rows // 4))  # on the badge
        assert app.marker is not None and app.marker.comments[0].text == "top left"


async def test_changing_someone_elses_comment_or_marker_is_refused_before_typing(server: Harness, make_app, sample,
                                                                                 sample_key) -> None:
    bob_token = await server.token("u_bob", "Bob")
    bob = {"Authorization": f"Bearer {bob_token}"}
    async with httpx.AsyncClient(base_url=server.url + "/api/v1", headers=bob) as h:
        await h.post("/chats", json={"image": sample_key, "x": 30, "y": 30, "text": "Bob's", "broadcastId": bid()})
    app = make_app(server, await server.token("u_ana", "Ana", role="member"), sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("n")
        for key in ("e", "d", "D", "m"):
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, (ComposeScreen, ConfirmScreen)), key
        assert sum("Only its author or a moderator" in n for n in notices(app)) == 4
        assert app.marker.comments[0].text == "Bob's" and (app.marker.x, app.marker.y) == (30, 30)


async def test_offline_banner_refused_write_and_resync_with_missed_changes(
    make_server, sqlite_database, make_app, sample, sample_key
) -> None:
    server = await make_server(sqlite_database, port=0)
    port = int(server.url.rsplit(":", 1)[1])
    token = await server.token("u_ana", "Ana")
    other = await server.token("u_bob", "Bob")
    app = make_app(server, token, sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        banner = app.query_one(OfflineBanner)
        assert not banner.display
        await stop_server(make_server, server)
        await wait_for(lambda: banner.display, 5, "the offline banner")
        assert "OFFLINE" in str(banner.render())

        await pilot.press("a")  # refused at once, nothing to type
        assert not isinstance(app.screen, ComposeScreen)
        assert any("connection is down" in n for n in notices(app))

        # Two changes by someone else while this viewer can't hear of them, then the server returns.
        db = Database(sqlite_database)
        store = Store(db)
        bob = await store.principal(other)
        assert bob is not None
        for i in range(2):
            await store.create_marker(bob, CreateChat(image=sample_key, x=10, y=10 * i, text=f"while away {i}",
                                                      broadcast_id=bid()), fingerprint=bid())
        await db.dispose()
        await make_server(sqlite_database, port=port)
        await wait_for(lambda: not banner.display, 10, "the banner to clear")
        await wait_for(lambda: any("2 changes arrived" in n for n in notices(app)), 5, "the resync notice")
        await wait_for(lambda: len(app.markers) == 2, 2, "the missed markers on screen")


async def test_a_cold_start_while_the_server_is_down_shows_the_cached_state_then_syncs(
    make_server, sqlite_database, make_app, sample, sample_key
) -> None:
    server = await make_server(sqlite_database)
    port = int(server.url.rsplit(":", 1)[1])
    token = await server.token("u_ana", "Ana")
    other = await server.token("u_bob", "Bob")
    app = make_app(server, token, sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await place(pilot, "remembered")
    url = server.url
    await stop_server(make_server, server)

    cold = make_app(url, token, sample)
    async with cold.run_test(size=SIZE) as pilot:
        await wait_for(lambda: cold.key is not None, 5, "the image")
        await pilot.pause()
        assert [m.comments[0].text for m in cold.markers] == ["remembered"]
        banner = cold.query_one(OfflineBanner)
        assert banner.display
        await pilot.press("n")
        assert "remembered" in thread_text(cold)  # browsable offline

        back = await make_server(sqlite_database, port=port)
        async with httpx.AsyncClient(base_url=back.url + "/api/v1", headers={"Authorization": f"Bearer {other}"}) as h:
            await h.post("/chats", json={"image": sample_key, "x": 5, "y": 5, "text": "new while you were away",
                                         "broadcastId": bid()})
        await wait_for(lambda: len(cold.markers) == 2 and not banner.display, 10, "the sync once the server is back")


async def test_two_viewers_on_one_image_see_each_other(server: Harness, make_app, sample) -> None:
    ana = make_app(server, await server.token("u_ana", "Ana"), sample)
    bob = make_app(server, await server.token("u_bob", "Bob"), sample)
    async with ana.run_test(size=SIZE) as ana_pilot, bob.run_test(size=SIZE) as bob_pilot:
        await ready(ana, ana_pilot)
        await ready(bob, bob_pilot)
        await ana_pilot.press("a")
        await write(ana_pilot, "from Ana")
        await wait_for(lambda: len(bob.markers) == 1, 1.0, "Ana's marker at Bob's")
        await bob_pilot.press("n", "r")
        await write(bob_pilot, "Bob answers")
        await wait_for(lambda: ana.markers and len(ana.markers[0].comments) == 2, 1.0, "Bob's reply at Ana's")


@pytest.mark.parametrize("target, message", [
    ("missing.png", "no such file"),
    ("not-an-image.png", "not an image"),
    ("bomb.png", "decompression bomb"),
    ("huge.png", "larger than 25 MB"),
    ("http://127.0.0.1:9/shot.png", "can't be reached"),
])
async def test_images_that_cannot_be_opened_exit_with_a_clear_message(server: Harness, make_app, tmp_path,
                                                                      target, message) -> None:
    from PIL import Image

    (tmp_path / "not-an-image.png").write_text("hello")
    Image.new("1", (9000, 9000)).save(tmp_path / "bomb.png")
    with open(tmp_path / "huge.png", "wb") as huge:
        huge.truncate(26 * 2**20)
    path = target if target.startswith("http") else str(tmp_path / target)
    app = make_app(server, await server.token(), path)
    async with app.run_test(size=SIZE):
        await wait_for(lambda: app.return_code is not None, 10, "the app to give up")
    assert app.return_code == 1
    assert app.load_error is not None and message in app.load_error


async def test_the_image_is_redrawn_to_fit_on_resize_but_not_on_events(server: Harness, make_app, sample) -> None:
    app = make_app(server, await server.token("u_ana", "Ana"), sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        view = app.query_one(ImageView)
        cols, rows = view.geometry.cols, view.geometry.rows
        assert cols / (rows * 2) == pytest.approx(800 / 500, rel=0.1)  # aspect kept, two pixels a cell
        scaled = view.scaled
        await place(pilot, "an event")
        await pilot.pause()
        assert view.scaled == scaled  # events redraw badges only
        await pilot.resize_terminal(80, 30)
        await pilot.pause()
        assert view.scaled == scaled + 1 and view.geometry.cols < cols

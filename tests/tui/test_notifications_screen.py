"""Mentions and notifications in the viewer (Pilot, a real server): the unread count in the status
bar, the notifications screen, Enter to the marker, marking read, @ completion, hostile names."""

from __future__ import annotations

from textual.widgets import OptionList

from imagechat_tui.tui.app import ImageChatApp
from imagechat_tui.tui.screens.compose import ComposeScreen
from imagechat_tui.tui.screens.main import MainScreen
from imagechat_tui.tui.screens.notifications import NotificationsScreen
from imagechat_tui.tui.widgets.status import StatusBar

from ..conftest import Harness, bid, wait_for
from ..test_live import rest
from .test_flows import SIZE, place, ready, thread_text
from .test_inbox import inbox_ready, png, store

HOSTILE = "[b]Bo[/b]\x1b[31m"


def status_text(app: ImageChatApp) -> str:
    return str(app.main.query_one(StatusBar).render())


def listed(app: ImageChatApp) -> list[str]:
    options = app.screen.query_one(OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_unread_count_list_enter_to_the_marker_and_mark_all(server: Harness, make_app, sample) -> None:
    ana = await server.token("u_ana", "Ana")
    bo = await server.token("u_bo", HOSTILE)
    app = make_app(server, ana, sample)
    async with app.run_test(size=SIZE) as pilot, rest(server, bo) as bo_http:
        await ready(app, pilot)
        await place(pilot, "first")
        first = app.marker
        await pilot.press("escape")
        await pilot.press("left", "left", "left", "up", "up")
        await place(pilot, "second")
        second = app.marker
        assert first is not None and second is not None
        await pilot.press("escape")

        for marker, text in ((first, "look here <@u_ana>"), (second, "and here")):
            response = await bo_http.post(f"/chats/{marker.id}/comments", json={"text": text, "broadcastId": bid()})
            assert response.status_code == 201
        await wait_for(lambda: "✉ 2 unread" in status_text(app), 3, "the unread count in the status bar")
        assert any("[b]Bo[/b]␛[31m" in str(n.message) for n in app._notifications)  # the name literally

        await pilot.press("N")
        await wait_for(lambda: isinstance(app.screen, NotificationsScreen) and len(listed(app)) == 2, 3,
                       "the notifications screen")
        rows = listed(app)
        assert "commented on marker 2" in rows[0] and "and here" in rows[0]
        assert "mentioned you on marker 1" in rows[1] and "look here @Ana" in rows[1]
        assert "[b]Bo[/b]␛[31m" in rows[1]  # the name shown literally, its escape made visible

        await pilot.press("down", "enter")  # the older one: marker 1
        await wait_for(lambda: isinstance(app.screen, MainScreen) and app.marker is not None
                       and app.marker.id == first.id, 3, "marker 1 opened")
        assert "look here @Ana" in thread_text(app)
        await wait_for(lambda: "✉ 1 unread" in status_text(app), 3, "one read")

        await pilot.press("N")
        await wait_for(lambda: isinstance(app.screen, NotificationsScreen) and len(listed(app)) == 2, 3)
        await pilot.press("M")
        await wait_for(lambda: "all read" in str(app.screen.query_one("#notifications-title").render()), 3,
                       "all read")
        await pilot.press("escape")
        await wait_for(lambda: "unread" not in status_text(app), 3)


async def test_at_completes_a_name_and_the_mention_is_sent_as_the_id(server: Harness, make_app, sample) -> None:
    ana = await server.token("u_ana", "Ana")
    await server.token("u_bo", "Bo Lindqvist")
    app = make_app(server, ana, sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await wait_for(lambda: "u_bo" in app.engine.directory, 3, "the tenant's people")
        await pilot.press("a")
        await wait_for(lambda: isinstance(app.screen, ComposeScreen), 3)
        await pilot.press(*"ask @bo")
        await wait_for(lambda: app.screen.suggested == [("u_bo", "Bo Lindqvist")], 3, "the suggestion")
        await pilot.press("tab", *"please")
        await pilot.press("ctrl+s")
        await wait_for(lambda: app.marker is not None and not app.marker.id.startswith("pending"), 3)
        assert app.marker.comments[0].text == "ask <@u_bo> please"
        assert "ask @Bo Lindqvist please" in thread_text(app)


async def test_n_in_the_inbox_and_enter_opens_the_other_image_at_the_marker(server: Harness, make_app) -> None:
    ana, bo = await server.token("u_ana", "Ana"), await server.token("u_bo", "Bo")
    await store(server, bo, png("red"), "not this one")
    key = await store(server, bo, png("green"), "<@u_ana> is this the new logo?")
    app = make_app(server, ana, None)
    async with app.run_test(size=SIZE) as pilot:
        await inbox_ready(app, pilot)
        await wait_for(lambda: app.engine.notifications.unread == 1, 5, "the mention's notification")
        await pilot.press("N")  # in the inbox too
        await wait_for(lambda: isinstance(app.screen, NotificationsScreen) and len(listed(app)) == 1, 3,
                       "the notifications screen over the inbox")
        assert "mentioned you on marker 1" in listed(app)[0] and "@Ana is this the new logo?" in listed(app)[0]
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, MainScreen) and app.key == key and app.marker is not None
                       and app.marker.number == 1, 10, "the image opened at marker 1")
        assert "@Ana is this the new logo?" in thread_text(app)
        await wait_for(lambda: app.engine.notifications.unread == 0, 3, "read")

"""Unread markers in the viewer (Pilot, a real server): badges, marker rows and the status bar mark
what others wrote since the user read it; opening the thread reads it on every viewer of the user;
a comment arriving on the thread shown is read at once; the inbox's counts, `u` filter and live
rows; mentions as @Name in the inbox and the marker list."""

from __future__ import annotations

from textual.widgets import OptionList

from imagechat_tui.client.errors import OfflineError
from imagechat_tui.client.rest import RestClient
from imagechat_tui.tui.app import ImageChatApp
from imagechat_tui.tui.widgets.image_view import ImageView

from ..conftest import Harness, bid, wait_for
from ..test_live import rest
from .test_flows import SIZE, ready, thread_text
from .test_inbox import inbox_of, inbox_ready, png, shown, store
from .test_notifications_screen import status_text


def badges(app: ImageChatApp) -> list[str]:
    return [placed.text for placed in app.query_one(ImageView).placement.badges]


def marker_rows(app: ImageChatApp) -> list[str]:
    options = app.main.query_one("#markers", OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


def unread_here(app: ImageChatApp) -> frozenset[str]:
    assert app.key is not None
    return app.engine.unread(app.key)


async def test_opening_the_thread_reads_it_on_every_viewer_of_the_user(server: Harness, make_app, sample,
                                                                        sample_key) -> None:
    ana, bo = await server.token("u_ana", "Ana"), await server.token("u_bo", "Bo")
    async with rest(server, bo) as bo_http:
        created = await bo_http.post("/chats", json={"image": sample_key, "x": 30, "y": 30,
                                                     "text": "<@u_ana> the total is wrong", "broadcastId": bid()})
        assert created.status_code == 201
        marker_id = created.json()["marker"]["id"]
        first, second = make_app(server, ana, sample), make_app(server, ana, sample)
        async with first.run_test(size=SIZE) as pilot, second.run_test(size=SIZE) as other:
            await ready(first, pilot)
            await ready(second, other)
            for app in (first, second):  # Bo's new marker is unread for Ana, on both her viewers
                await wait_for(lambda app=app: marker_id in unread_here(app), 5, "the marker unread")
                await wait_for(lambda app=app: badges(app) == ["•1"] and "1 new" in status_text(app), 3)
                assert marker_rows(app)[0].startswith("  1 ● open   new  @Ana the total is wrong")

            await pilot.press("U")  # to the next unread marker: its thread opens, and is read
            await wait_for(lambda: first.marker is not None and first.marker.id == marker_id, 3)
            assert "@Ana the total is wrong" in thread_text(first)
            assert not unread_here(first) and "new" not in status_text(first)
            await wait_for(lambda: not unread_here(second) and badges(second) == ["1"], 3,
                           "the read mark on Ana's other viewer")
            assert "new" not in marker_rows(second)[0]

            # Bo replies while the thread shows on the first viewer: read there at once, and so on
            # the other too (its unread mark from the reply is dropped by the read frame).
            reply = await bo_http.post(f"/chats/{marker_id}/comments", json={"text": "see?", "broadcastId": bid()})
            assert reply.status_code == 201
            await wait_for(lambda: "see?" in thread_text(first), 3, "the reply shown")
            await wait_for(lambda: not unread_here(first) and not unread_here(second)
                           and first.engine.state(first.key).seq == second.engine.state(second.key).seq, 3,
                           "the reply read on both viewers")

            # On the list (the thread closed), a reply makes the marker unread again.
            await pilot.press("escape")
            again = await bo_http.post(f"/chats/{marker_id}/comments", json={"text": "hello?", "broadcastId": bid()})
            assert again.status_code == 201
            await wait_for(lambda: marker_id in unread_here(first) and badges(first) == ["•1"], 3)
            assert marker_id in unread_here(second)


async def test_a_read_mark_that_fails_comes_back_on_the_next_load(server: Harness, make_app, sample,
                                                                  sample_key, monkeypatch) -> None:
    ana, bo = await server.token("u_ana", "Ana"), await server.token("u_bo", "Bo")
    async with rest(server, bo) as bo_http:
        created = await bo_http.post("/chats", json={"image": sample_key, "x": 30, "y": 30, "text": "look",
                                                     "broadcastId": bid()})
        marker_id = created.json()["marker"]["id"]
    app = make_app(server, ana, sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await wait_for(lambda: marker_id in unread_here(app), 5)
        async def offline(*_: object) -> None:
            raise OfflineError("the server can't be reached")

        monkeypatch.setattr(RestClient, "mark_markers_read", offline)
        await pilot.press("n")
        await wait_for(lambda: app.marker is not None and not unread_here(app), 3, "read at once, optimistically")
        await pilot.press("escape")
        monkeypatch.undo()
        assert app.key is not None
        app.engine.resync(app.key)  # the next `subscribed` reloads the unread markers
        await wait_for(lambda: marker_id in unread_here(app), 5, "unread again after the next load")


async def test_the_inbox_counts_unread_filters_them_and_follows_reads(server: Harness, make_app) -> None:
    ana, bo = await server.token("u_ana", "Ana"), await server.token("u_bo", "Bo")
    red = await store(server, bo, png("red"), "<@u_ana> red is off")
    await store(server, ana, png("green"), "my own note")
    app = make_app(server, ana, None)
    async with app.run_test(size=SIZE) as pilot, rest(server, bo) as bo_http, rest(server, ana) as ana_http:
        await inbox_ready(app, pilot)
        view = inbox_of(app).view
        await wait_for(lambda: "@Ana red is off" in shown(app), 3, "the mention by name")
        assert "1 new" in shown(app) and shown(app).count(" new ") == 1

        await pilot.press("u")
        await wait_for(lambda: view.query.filter == "unread" and view.loaded and [r.key for r in view.rows] == [red],
                       5, "the unread filter")
        blue = await store(server, bo, png("blue"), "blue too")  # a row the inbox did not have: asked for
        await wait_for(lambda: [r.key for r in view.rows] == [blue, red], 5, "the new unread row live")
        assert shown(app).count("1 new") == 2

        marker = (await ana_http.get("/chats", params={"image": red})).json()["markers"][0]
        seq = (await ana_http.get(f"/images/{red}/unread")).json()["seq"]
        read = await ana_http.post(f"/images/{red}/read", json={"markerId": marker["id"], "seq": seq})
        assert read.status_code == 200, read.text
        await wait_for(lambda: [r.key for r in view.rows] == [blue], 3, "the read image leaves the filter")

        await pilot.press("a")  # every image: the read one is there, without a count
        await wait_for(lambda: view.query.filter == "all" and view.loaded and len(view.rows) == 3, 5)
        await bo_http.post(f"/chats/{marker['id']}/comments", json={"text": "still red", "broadcastId": bid()})
        await wait_for(lambda: next(r for r in view.rows if r.key == red).unread == [marker["id"]], 3,
                       "Bo's reply counted live")

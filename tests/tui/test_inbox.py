"""The inbox driven with keys (Pilot), against a real server on loopback: live rows, open and back,
filters, search, paging, hostile text."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import httpx
import pytest
from PIL import Image
from textual.command import CommandList, CommandPalette

from imagechat_tui.client.engine import LinkState
from imagechat_tui.client.rest import RestClient
from imagechat_tui.tui import app as app_module
from imagechat_tui.tui import loader
from imagechat_tui.tui.app import ImageChatApp
from imagechat_tui.tui.screens import inbox as inbox_screen
from imagechat_tui.tui.widgets.inbox_list import InboxList

from ..conftest import Harness, bid, wait_for
from .test_flows import ready, write

SIZE = (120, 36)


def png(color: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (160, 100), color).save(out, "PNG")
    return out.getvalue()


def key_of(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


async def store(server: Harness, token: str, data: bytes, text: str, source: str | None = None) -> str:
    """Upload an image and place a marker on it; its key."""
    key = key_of(data)
    async with httpx.AsyncClient(base_url=server.url + "/api/v1", headers={"Authorization": f"Bearer {token}"}) as h:
        params = {"source": source} if source else {}
        put = await h.put(f"/images/{key}", content=data, params=params,
                          headers={"Content-Type": "application/octet-stream"})
        assert put.status_code in (200, 201), put.text
        created = await h.post("/chats", json={"image": key, "x": 50, "y": 50, "text": text, "broadcastId": bid()})
        assert created.status_code == 201, created.text
    return key


@pytest.fixture
def calls(monkeypatch) -> list[tuple[str, str, str | None]]:
    """Every page the viewers ask for: (filter, q, cursor)."""
    made: list[tuple[str, str, str | None]] = []
    images = RestClient.images

    async def counted(self: RestClient, filter: Any = "open", q: str = "", cursor: str | None = None,
                      limit: int = 50) -> Any:
        made.append((filter, q, cursor))
        return await images(self, filter, q, cursor, limit)

    monkeypatch.setattr(RestClient, "images", counted)
    return made


@pytest.fixture
def opens_stored_images(monkeypatch, server: Harness):
    """Opens `sha256:` targets from the server's store, as `token` sees it: a stand-in for the loader of
    the viewer-images work (the target string resolved to bytes in client/), which this branch lacks."""

    def enable(token: str) -> None:
        load = loader.load

        async def load_target(target: str, **kwargs: Any) -> loader.LoadedImage:
            if not target.startswith("sha256:"):
                return await load(target, **kwargs)
            async with httpx.AsyncClient(base_url=server.url + "/api/v1",
                                         headers={"Authorization": f"Bearer {token}"}) as h:
                data = (await h.get(f"/images/{target}/content")).content
            return loader.decode(data, target, target[:19])

        monkeypatch.setattr(app_module, "load", load_target)

    return enable


def inbox_of(app: ImageChatApp) -> inbox_screen.InboxScreen:
    assert app.inbox is not None
    return app.inbox


async def inbox_ready(app: ImageChatApp, pilot) -> None:
    await wait_for(lambda: app.inbox is not None and app.screen is app.inbox and app.inbox.view.loaded
                   and app.engine.link.state is LinkState.ONLINE, 10, "the inbox to load")
    await pilot.pause()


def shown(app: ImageChatApp) -> str:
    rows = inbox_of(app).query_one(InboxList)
    return "\n".join(rows.row_text(i) for i in range(rows.row_count))


async def test_a_marker_placed_in_one_viewer_appears_in_the_others_inbox_live(server: Harness, make_app, sample,
                                                                               sample_key, calls) -> None:
    ana = make_app(server, await server.token("u_ana", "Ana"), sample, upload=False)
    bob = make_app(server, await server.token("u_bob", "Bob"), None)
    async with ana.run_test(size=SIZE) as ana_pilot, bob.run_test(size=SIZE) as bob_pilot:
        await ready(ana, ana_pilot)
        await inbox_ready(bob, bob_pilot)
        view = inbox_of(bob).view
        assert view.rows == [] and "built-in sample" in shown(bob)
        pages = len(calls)
        await ana_pilot.press("a")
        await write(ana_pilot, "The total is wrong")
        await wait_for(lambda: [r.key for r in view.rows] == [sample_key], 1.0, "Ana's image in Bob's inbox")
        row = view.rows[0]
        assert row.open_count == 1 and row.last_comment is not None and row.last_comment.user.name == "Ana"
        await bob_pilot.pause()
        assert "The total is wrong" in shown(bob) and "built-in sample" not in shown(bob)
        await bob_pilot.press("enter")  # not uploaded (Ana's upload is off), not from a URL: Bob can't open it
        await wait_for(lambda: any("open it from its file" in str(n.message) for n in bob._notifications), 2,
                       "the reason it can't be opened")
        assert bob.screen is bob.inbox
        await wait_for(lambda: ana.marker is not None and not ana.marker.id.startswith("pending"), 3, "the marker")
        await ana_pilot.press("x")  # resolved: nothing open, so it leaves Bob's inbox of open images
        await wait_for(lambda: view.rows == [], 1.0, "the resolved image to leave Bob's inbox")
        assert len(calls) == pages  # all of it from the feed, without reloading the list


async def test_enter_opens_the_selected_image_and_escape_comes_back_to_the_same_row(
        server: Harness, make_app, opens_stored_images) -> None:
    ana = await server.token("u_ana", "Ana")
    opens_stored_images(ana)
    keys = [await store(server, ana, png(color), f"{color} is off") for color in ("red", "green", "blue")]
    app = make_app(server, ana, None)
    async with app.run_test(size=SIZE) as pilot:
        await inbox_ready(app, pilot)
        view = inbox_of(app).view
        assert [r.key for r in view.rows] == keys[::-1]
        await pilot.press("down")
        await wait_for(lambda: view.key == keys[1], 2, "the second row selected")
        await pilot.press("enter")
        await wait_for(lambda: app.key == keys[1] and [m.comments[0].text for m in app.markers] == ["green is off"],
                       10, "the image open with its marker")
        assert app.screen is app.main
        await pilot.press("n", "escape")  # the thread closes first
        assert app.screen is app.main and app.marker is None
        await pilot.press("escape")
        await wait_for(lambda: app.screen is app.inbox, 2, "back in the inbox")
        assert view.key == keys[1] and inbox_of(app).query_one(InboxList).highlighted == 1
        loaded = app.loaded
        await pilot.press("enter")  # the image still open behind the inbox: shown again as it was
        await wait_for(lambda: app.screen is app.main, 2, "the same image again")
        assert app.loaded is loaded and app.key == keys[1]
        await pilot.press("escape")
        await wait_for(lambda: app.screen is app.inbox, 2, "back in the inbox")
        await pilot.press("up", "enter")  # another image: the one before is let go
        await wait_for(lambda: app.key == keys[2] and [m.comments[0].text for m in app.markers] == ["blue is off"],
                       10, "the other image with its marker")
        with pytest.raises(KeyError):
            app.engine.state(keys[1])


async def test_filters_and_search_drive_the_query(server: Harness, make_app, calls) -> None:
    ana, bob = await server.token("u_ana", "Ana"), await server.token("u_bob", "Bob")
    mine = await store(server, ana, png("red"), "Card declined at checkout")
    theirs = await store(server, bob, png("green"), "Logo is blurry")
    app = make_app(server, ana, None)
    async with app.run_test(size=SIZE) as pilot:
        await inbox_ready(app, pilot)
        view = inbox_of(app).view

        async def listed(expected: list[str], what: str) -> None:
            await wait_for(lambda: view.loaded and [r.key for r in view.rows] == expected, 5, what)

        await listed([theirs, mine], "both open images")
        assert calls[-1] == ("open", "", None)
        await pilot.press("m")
        await listed([mine], "only Ana's")
        assert calls[-1] == ("mine", "", None)
        await pilot.press("a", "slash")
        await pilot.press(*"declined", "enter")
        await listed([mine], "the search's match")
        assert calls[-1] == ("all", "declined", None)
        await pilot.press("escape")
        await listed([theirs, mine], "everything again")
        assert calls[-1] == ("all", "", None)
        await pilot.press("slash", *"blurry", "escape")  # cancelled: the search stays as it was
        await pilot.pause()
        assert calls[-1] == ("all", "", None) and app.focused is inbox_of(app).query_one(InboxList)
        await pilot.press("ctrl+p", *"images I placed")  # the filters are in the palette too
        await wait_for(lambda: isinstance(app.screen, CommandPalette)
                       and app.screen.query_one(CommandList).option_count > 0, 5, "the palette's hits")
        await pilot.press("down", "enter")
        await listed([mine], "only Ana's, from the palette")
        assert calls[-1] == ("mine", "", None)


async def test_more_rows_load_as_the_selection_nears_the_end(server: Harness, make_app, calls, monkeypatch) -> None:
    monkeypatch.setattr(inbox_screen, "PAGE", 8)
    ana = await server.token("u_ana", "Ana")
    for n in range(20):
        await store(server, ana, png(f"#{n:02x}{n:02x}{n:02x}"), f"issue {n}")
    app = make_app(server, ana, None)
    async with app.run_test(size=SIZE) as pilot:
        await inbox_ready(app, pilot)
        view = inbox_of(app).view
        assert len(view.rows) == 8
        for _ in range(200):  # as a user does: on down, pages loading meanwhile, until the very last row
            if view.index == 19:
                break
            await pilot.press("down")
            await pilot.pause(0.02)
        assert view.index == 19 and len(view.rows) == 20 and view.next_cursor is None
        excerpts = [r.last_comment.excerpt for r in view.rows if r.last_comment]
        assert excerpts == [f"issue {n}" for n in range(19, -1, -1)]
        assert sum(1 for c in calls if c[2] is not None) == 2


async def test_hostile_names_and_excerpts_render_literally(server: Harness, make_app) -> None:
    eve = await server.token("u_eve", "[@click=app.quit]E\x1b")
    await store(server, eve, png("red"), "[bold red]hi\x1b]52;c;aGk=\x1b\\ [/",
                source="https://shots.example.com/[b]x[/b].png")
    app = make_app(server, await server.token("u_ana", "Ana"), None)
    async with app.run_test(size=SIZE) as pilot:
        await inbox_ready(app, pilot)
        text = shown(app)
        assert "https://shots.example.com/[b]x[/b].png" in text
        assert "[@click=app.quit]E␛: " in text
        assert "[bold red]hi␛]52;c;aGk=␛\\ [/" in text
        assert "\x1b" not in text


async def test_the_empty_inbox_offers_the_sample_and_enter_opens_it(server: Harness, make_app, sample) -> None:
    app = make_app(server, await server.token("u_ana", "Ana"), None, sample=lambda: str(sample))
    async with app.run_test(size=SIZE) as pilot:
        await inbox_ready(app, pilot)
        hint = str(inbox_of(app).query_one("#inbox-hint").render())
        assert "imagechat-tui URL|FILE" in hint and "--share" in hint
        await pilot.press("enter")
        await ready(app, pilot)
        assert app.target == str(sample) and app.screen is app.main
        await pilot.press("escape")
        await wait_for(lambda: app.screen is app.inbox, 2, "back in the inbox")


@pytest.mark.parametrize(("key", "says"), [("m", "Nothing of yours"), ("u", "Nothing unread")])
async def test_an_empty_filter_says_what_it_lists_rather_than_offering_the_sample(
        server: Harness, make_app, sample, key: str, says: str) -> None:
    """The sample stands for an empty server: under `mine` or `unread` an empty list is only an empty filter."""
    app = make_app(server, await server.token("u_ana", "Ana"), None, sample=lambda: str(sample))
    async with app.run_test(size=SIZE) as pilot:
        await inbox_ready(app, pilot)
        assert inbox_of(app).query_one(InboxList).row_count == 1  # the sample
        await pilot.press(key)
        await wait_for(lambda: says in str(inbox_of(app).query_one("#inbox-hint").render()), 2, "the filter's hint")
        assert inbox_of(app).query_one(InboxList).row_count == 0


async def test_the_inbox_says_how_many_notifications_are_unread(server: Harness, make_app) -> None:
    """The unread count is shown from anywhere in the viewer: the inbox's head line too, live."""
    ana_token, bo_token = await server.token("u_ana", "Ana"), await server.token("u_bo", "Bo")
    await store(server, ana_token, png("teal"), "The total is wrong")
    app = make_app(server, ana_token, None)
    async with app.run_test(size=SIZE) as pilot:
        await inbox_ready(app, pilot)
        head = inbox_of(app).query_one("#inbox-head")
        assert "✉" not in str(head.render())
        async with httpx.AsyncClient(base_url=server.url + "/api/v1",
                                     headers={"Authorization": f"Bearer {bo_token}"}) as bo:
            [marker] = (await bo.get("/chats", params={"image": key_of(png("teal"))})).json()["markers"]
            reply = await bo.post(f"/chats/{marker['id']}/comments", json={"text": "Which one?", "broadcastId": bid()})
            assert reply.status_code == 201, reply.text
        await wait_for(lambda: "✉ 1 unread" in str(head.render()), 3, "the count in the inbox's head line")


async def test_under_a_search_or_mine_new_matches_join_live(server: Harness, make_app) -> None:
    """Whether a feed row matches a search or `mine` only the server can tell: the viewer asks for the
    first page again (at most once a second) and merges it, so new matches appear without a reload."""
    ana, bob = await server.token("u_ana", "Ana"), await server.token("u_bob", "Bob")
    await store(server, ana, png("red"), "Card declined at checkout")
    older = await store(server, bob, png("blue"), "Header overlaps")
    app = make_app(server, ana, None)
    async with app.run_test(size=SIZE) as pilot:
        await inbox_ready(app, pilot)
        view = inbox_of(app).view
        await pilot.press("slash", *"declined", "enter")
        await wait_for(lambda: view.loaded and len(view.rows) == 1, 5, "the search's one match")
        fresh = await store(server, bob, png("green"), "Declined again, on mobile")
        await store(server, bob, png("yellow"), "Logo is blurry")  # no match: never listed
        await wait_for(lambda: [r.key for r in view.rows][:1] == [fresh], 5, "the new match at the top")
        assert len(view.rows) == 2
        await pilot.press("escape", "m")
        await wait_for(lambda: view.loaded and len(view.rows) == 1 and view.query.filter == "mine", 5, "Ana's one")
        async with httpx.AsyncClient(base_url=server.url + "/api/v1",
                                     headers={"Authorization": f"Bearer {ana}"}) as h:
            [marker] = (await h.get("/chats", params={"image": older})).json()["markers"]
            assert (await h.post(f"/chats/{marker['id']}/comments",
                                 json={"text": "Seen it", "broadcastId": bid()})).status_code == 201
        await wait_for(lambda: [r.key for r in view.rows][:1] == [older], 5, "the image Ana just commented on")
        async with httpx.AsyncClient(base_url=server.url + "/api/v1",
                                     headers={"Authorization": f"Bearer {bob}"}) as h:
            assert (await h.post(f"/chats/{marker['id']}/comments",
                                 json={"text": "Thanks", "broadcastId": bid()})).status_code == 201
        await wait_for(lambda: view.rows[0].last_comment is not None and view.rows[0].last_comment.excerpt == "Thanks",
                       5, "Bob's reply on it, Ana's image all the same")

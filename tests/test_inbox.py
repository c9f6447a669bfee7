"""The inbox, server side: `GET /api/v1/images` (filters, names, search, keyset pages, tenant
isolation, the schema migration that fills its summaries) and the live inbox feed (one process,
and two over PostgreSQL and Redis); on SQLite and on a PostgreSQL database of each test's own."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from imagechat_tui.protocol.limits import EXCERPT_LENGTH
from imagechat_tui.protocol.models import AddComment
from imagechat_tui.server import search
from imagechat_tui.server.config import sqlite_url
from imagechat_tui.server.database import Database
from imagechat_tui.server.live_core import Frame, LiveCore
from imagechat_tui.server.schema import images, markers
from imagechat_tui.server.store import inbox_topic, key_hash

from .cluster import start_cluster
from .conftest import Harness, bid, fresh_postgres_database, stop_server, wait_for
from .old_schemas import back_to_version_3
from .test_adopt import KEY as ADOPT_KEY
from .test_adopt import LEGACY, adopt, legacy_marker
from .test_adopt import principal as adopt_principal
from .test_images import image_bytes, key_of, put
from .test_live import open_ws, recv, subscribe
from .test_rest import client

HOSTILE = ['"', "*", "NEAR(", "-", ")", "a OR b", "foo*", "'", "\\", "^", "col:x", '"unbalanced', "NOT", "--",
           "{x y}", "%", "_", " ", "AND AND", "( ) ( )", "a & b | !c", "x:*", "<->"]


def content_key(n: int) -> str:
    return "sha256:" + hashlib.sha256(f"image {n}".encode()).hexdigest()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    async with fresh_postgres_database() as url:
        yield url


@pytest.fixture
async def both(make_server, db_url: str) -> Harness:
    return await make_server(db_url)


async def chat(http: httpx.AsyncClient, key: str, text: str = "Button cut off here") -> dict[str, Any]:
    response = await http.post("/chats", json={"image": key, "x": 10, "y": 20, "text": text, "broadcastId": bid()})
    assert response.status_code == 201, response.text
    return response.json()["marker"]


async def reply(http: httpx.AsyncClient, marker_id: str, text: str) -> dict[str, Any]:
    response = await http.post(f"/chats/{marker_id}/comments", json={"text": text, "broadcastId": bid()})
    assert response.status_code == 201, response.text
    return response.json()["comment"]


async def listing(http: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await http.get("/images", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def keys(http: httpx.AsyncClient, **params: Any) -> list[str]:
    return [row["key"] for row in (await listing(http, **params))["images"]]


def as_fed(row: dict[str, Any]) -> dict[str, Any]:
    """A listed row as the inbox feed sends it: the same for the whole tenant, so without the caller's
    unread markers."""
    return row | {"unread": None}


def newest_first(rows: list[dict[str, Any]]) -> bool:
    times = [row["lastActivityAt"] for row in rows]
    return times == sorted(times, reverse=True)


async def test_filters_counts_names_and_last_comments(both: Harness) -> None:
    async with client(both, await both.token("u_ana", "Ana")) as ana, \
            client(both, await both.token("u_bob", "Bob")) as bob, \
            client(both, await both.token("u_cat", "Cat")) as cat:
        png = image_bytes(color="blue")
        assert (await put(ana, png, source="https://shots.example.com/a.png")).status_code == 201
        stored = await chat(ana, key_of(png), "on the stored image")
        bobs = await chat(bob, content_key(1), "Bob's marker")
        long_text = "x" * 150 + " tail"
        await reply(ana, bobs["id"], long_text)
        resolved = await chat(bob, content_key(2), "resolved soon")
        assert (await bob.patch(f"/chats/{resolved['id']}", json={"status": "resolved",
                                                                   "broadcastId": bid()})).status_code == 200
        await chat(bob, content_key(2), "a second marker, open")
        await bob.patch(f"/chats/{stored['id']}", json={"x": 30, "broadcastId": bid()})  # a move: activity only
        gone = await chat(cat, content_key(3), "deleted at once")
        assert (await cat.delete(f"/chats/{gone['id']}", params={"broadcastId": bid()})).status_code == 200

        page = await listing(ana)
        rows = {row["key"]: row for row in page["images"]}
        assert set(rows) == {key_of(png), content_key(1), content_key(2)} and page["nextCursor"] is None
        assert newest_first(page["images"])
        assert rows[key_of(png)] | {"lastActivityAt": None, "lastComment": None} == {
            "key": key_of(png), "name": "https://shots.example.com/a.png", "stored": True, "openCount": 1,
            "resolvedCount": 0, "lastActivityAt": None, "lastComment": None, "unread": []}
        last = rows[content_key(1)]["lastComment"]
        assert last["user"] == {"id": "u_ana", "name": "Ana"} and last["markerNumber"] == 1
        assert last["excerpt"] == long_text[:EXCERPT_LENGTH] and len(last["excerpt"]) == EXCERPT_LENGTH
        assert rows[content_key(1)]["stored"] is False and rows[content_key(1)]["name"] is None
        assert (rows[content_key(2)]["openCount"], rows[content_key(2)]["resolvedCount"]) == (1, 1)
        assert rows[content_key(2)]["lastComment"]["markerNumber"] == 2

        assert (await bob.patch(f"/chats/{bobs['id']}", json={"status": "resolved",
                                                              "broadcastId": bid()})).status_code == 200
        assert set(await keys(ana)) == {key_of(png), content_key(2)}
        assert set(await keys(ana, filter="all")) == {key_of(png), content_key(1), content_key(2)}
        assert set(await keys(ana, filter="mine")) == {key_of(png), content_key(1)}  # created, or commented on
        assert set(await keys(bob, filter="mine")) == {content_key(1), content_key(2)}
        assert await keys(cat, filter="mine") == []  # the marker and comment Cat wrote are gone
        assert newest_first((await listing(ana, filter="mine"))["images"])


async def test_an_image_of_the_previous_version_is_named_by_its_url_without_secrets(both: Harness) -> None:
    async with client(both, await both.token()) as ana:
        await chat(ana, content_key(1))
        legacy = "https://user:secret@files.example.com/shot.png?X-Amz-Signature=abc"
        await both.app.db.run(lambda conn: conn.execute(
            update(images).where(images.c.key == content_key(1)).values(key=legacy, key_hash=key_hash(legacy))))
        [row] = (await listing(ana))["images"]
        assert row["name"] == "https://files.example.com/shot.png"


async def test_an_uploaded_file_is_named_by_its_file_name(both: Harness) -> None:
    async with client(both, await both.token()) as ana:
        png = image_bytes(color="yellow")
        assert (await put(ana, png, name="login bug.png")).status_code == 201
        await chat(ana, key_of(png))
        assert (await listing(ana))["images"][0]["name"] == "login bug.png"


async def test_an_adopted_conversation_moves_its_inbox_row(both: Harness) -> None:
    """The previous version's URL-keyed conversation leaves the inbox and reappears, counted, under
    its content key, named by its URL without secrets; the feed says both."""
    p = await adopt_principal(both)
    old = await legacy_marker(both, p, "from the old viewer")
    await both.app.store.add_comment(p, old, AddComment(text="an old reply", broadcast_id=bid()), bid())
    token = await both.token("u_ana", "Ana")
    watcher = await open_ws(both, token)
    await subscribe_inbox(watcher)
    async with client(both, token) as ana:
        assert [row["name"] for row in (await listing(ana))["images"]] == ["https://shots.example.com/4711.png"]
        assert (await adopt(ana)).json()["adopted"] is True
        frames = [await next_row(watcher), await next_row(watcher)]
        [row] = (await listing(ana))["images"]
        assert {"type": "inbox-row", "row": as_fed(row)} in frames
        assert {"type": "inbox-removed", "key": LEGACY} in frames
        assert (row["key"], row["openCount"], row["lastComment"]["excerpt"]) == (ADOPT_KEY, 1, "an old reply")
        assert await keys(ana, q="old reply") == [ADOPT_KEY] and await keys(ana, filter="mine") == [ADOPT_KEY]
    await watcher.close()


async def test_deleting_comments_recounts_the_last_comment_and_who_took_part(both: Harness) -> None:
    async with client(both, await both.token("u_ana", "Ana")) as ana, \
            client(both, await both.token("u_bob", "Bob")) as bob:
        marker = await chat(ana, content_key(1), "first")
        comment = await reply(bob, marker["id"], "Bob was here")
        assert (await listing(ana))["images"][0]["lastComment"]["excerpt"] == "Bob was here"
        assert await keys(bob, filter="mine") == [content_key(1)]
        response = await bob.patch(f"/comments/{comment['id']}", json={"text": "edited", "broadcastId": bid()})
        assert response.status_code == 200
        assert (await listing(ana))["images"][0]["lastComment"]["excerpt"] == "edited"
        assert (await bob.delete(f"/comments/{comment['id']}", params={"broadcastId": bid()})).status_code == 200
        assert (await listing(ana))["images"][0]["lastComment"]["excerpt"] == "first"
        assert await keys(bob, filter="mine") == []


async def test_search_finds_comment_words_across_the_tenant_and_follows_edits_and_deletions(both: Harness) -> None:
    async with client(both, await both.token("u_ana", "Ana")) as ana, \
            client(both, await both.token("u_zed", "Zed", tenant="other")) as zed:
        first = await chat(ana, content_key(1), "The login button overlaps the logo")
        await reply(ana, first["id"], "Still broken on Safari")
        second = await chat(ana, content_key(2), "Colour contrast too low")
        note = await reply(ana, second["id"], "safari renders it darker")
        await chat(zed, content_key(3), "safari in another tenant")

        assert set(await keys(ana, q="Safari", filter="all")) == {content_key(1), content_key(2)}
        assert await keys(ana, q="login logo") == [content_key(1)]  # every word, in any comment order
        assert await keys(ana, q="login contrast") == []
        assert await keys(ana, q="  logo!!  ") == [content_key(1)]  # punctuation only separates
        assert await keys(zed, q="safari") == [content_key(3)]
        assert await keys(ana, q="safari", filter="mine") != []

        await ana.patch(f"/comments/{note['id']}", json={"text": "renders darker", "broadcastId": bid()})
        assert await keys(ana, q="safari") == [content_key(1)]
        assert await keys(ana, q="darker") == [content_key(2)]
        await ana.delete(f"/chats/{first['id']}", params={"broadcastId": bid()})
        assert await keys(ana, q="safari", filter="all") == []
        assert await keys(ana, q="login") == []


async def test_a_search_for_a_common_word_gives_what_a_rare_one_would(server: Harness, monkeypatch) -> None:
    """SQLite looks image by image for words in very many comments: the same rows, pages and filters."""
    async with client(server, await server.token("u_ana", "Ana")) as ana, \
            client(server, await server.token("u_bob", "Bob")) as bob:
        for n in range(12):
            marker = await chat(bob if n % 3 else ana, content_key(n), f"common word {n}")
            if n % 4 == 0:
                await reply(ana, marker["id"], "and a reply with the common word")
        await chat(ana, content_key(99), "nothing to find")
        gathered = {name: await paged(ana, q="common", filter=name) for name in ("open", "all", "mine")}
        monkeypatch.setattr(search, "COMMON", 1)
        assert {name: await paged(ana, q="common", filter=name) for name in ("open", "all", "mine")} == gathered
        assert len(gathered["all"]) == 12 and content_key(99) not in gathered["all"]


async def paged(http: httpx.AsyncClient, **params: Any) -> list[str]:
    """Every key of a listing, three to a page."""
    seen, cursor = [], None
    while True:
        page = await listing(http, limit=3, **params, **({"cursor": cursor} if cursor else {}))
        seen += [row["key"] for row in page["images"]]
        if (cursor := page["nextCursor"]) is None:
            return seen


async def test_search_follows_a_marker_moved_to_another_image(both: Harness) -> None:
    """However a conversation is moved between images (adoption), its words go with it."""
    async with client(both, await both.token()) as ana:
        marker = await chat(ana, content_key(1), "words that move")
        await chat(ana, content_key(2), "staying here")

        def move(conn: Any) -> None:
            target = conn.execute(select(images.c.id).where(images.c.key == content_key(2))).scalar_one()
            conn.execute(update(markers).where(markers.c.id == marker["id"]).values(image_id=target, number=2))

        await both.app.db.run(move)
        assert await keys(ana, q="move", filter="all") == [content_key(2)]


async def test_hostile_search_text_is_only_words(both: Harness) -> None:
    async with client(both, await both.token()) as ana:
        await chat(ana, content_key(1), 'near foo "quoted" a-b col x')
        for query in HOSTILE:
            response = await ana.get("/images", params={"q": query, "filter": "all"})
            assert response.status_code == 200, (query, response.text)
        assert await keys(ana, q="NEAR(") == [content_key(1)]
        assert await keys(ana, q='"quoted') == [content_key(1)]
        assert await keys(ana, q="-foo") == [content_key(1)]  # no negation: a word
        assert await keys(ana, q="col:x") == [content_key(1)]  # no column filter: two words
        assert await keys(ana, q="*") == []  # no words: nothing found
        assert (await ana.get("/images", params={"q": "w " * 101})).status_code == 422


async def test_bad_cursors_and_limits_are_refused_with_a_message(both: Harness) -> None:
    async with client(both, await both.token()) as ana:
        for cursor in ["", "zz", "not base64 !", "W10", "WyJ4Il0", "WzEsIDJd", "x" * 300]:
            response = await ana.get("/images", params={"cursor": cursor})
            assert response.status_code == 400, (cursor, response.text)
            assert response.json()["error"]["code"] == "bad_cursor"
            assert "cursor" in response.json()["error"]["message"]
        for params in [{"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"filter": "closed"}]:
            response = await ana.get("/images", params=params)
            assert response.status_code == 422 and response.json()["error"]["message"], response.text
        assert (await httpx.AsyncClient(base_url=both.url).get("/api/v1/images")).status_code == 401


async def test_pages_never_repeat_or_skip_a_row_while_rows_are_updated(both: Harness) -> None:
    async with client(both, await both.token()) as ana:
        markers = {content_key(n): (await chat(ana, content_key(n), f"image {n}"))["id"] for n in range(30)}
        touched: set[str] = set()
        seen: list[str] = []
        rng = random.Random(8)
        cursor = None
        while True:
            page = await listing(ana, limit=7, **({"cursor": cursor} if cursor else {}))
            assert newest_first(page["images"])
            seen += [row["key"] for row in page["images"]]
            for key in rng.sample(sorted(markers), 2):  # updated between pages: they jump to the top
                await reply(ana, markers[key], "bumped")
                touched.add(key)
            cursor = page["nextCursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)), "a row was given twice"
        assert set(markers) - touched <= set(seen), "a row that did not move was skipped"
        assert len(await keys(ana, limit=100)) == 30


async def test_other_tenants_see_nothing_of_the_inbox(both: Harness) -> None:
    async with client(both, await both.token("u_ana", "Ana")) as ana, \
            client(both, await both.token("u_ana", "Ana", tenant="other")) as same_user_elsewhere:
        await chat(ana, content_key(1), "secret words")
        for params in [{}, {"filter": "all"}, {"filter": "mine"}, {"q": "secret"}]:
            assert await keys(same_user_elsewhere, **params) == []
        cursor = (await listing(ana, limit=1))["nextCursor"]
        assert cursor is None
        await chat(ana, content_key(2))
        cursor = (await listing(ana, limit=1))["nextCursor"]
        assert await keys(same_user_elsewhere, cursor=cursor) == []


async def test_a_version_3_database_gets_its_summaries_filled(make_server, db_url: str) -> None:
    server = await make_server(db_url)
    async with client(server, await server.token("u_ana", "Ana")) as ana, \
            client(server, await server.token("u_bob", "Bob")) as bob:
        first = await chat(ana, content_key(1), "alpha")
        await reply(bob, first["id"], "beta")
        second = await chat(bob, content_key(2), "gamma")
        await bob.patch(f"/chats/{second['id']}", json={"status": "resolved", "broadcastId": bid()})
        before = {name: await inbox_state(ana, name) for name in ("all", "open", "mine", "q")}
    await stop_server(make_server, server)
    db = Database(db_url)
    try:
        await db.run(back_to_version_3)
    finally:
        await db.dispose()
    tenants = server.tenants
    server = await make_server(db_url)
    server.tenants = tenants
    async with client(server, await server.token("u_ana", "Ana")) as ana:
        assert {name: await inbox_state(ana, name) for name in ("all", "open", "mine", "q")} == before


async def inbox_state(http: httpx.AsyncClient, name: str) -> list[tuple[Any, ...]]:
    params = {"q": "beta", "filter": "all"} if name == "q" else {"filter": name}
    rows = (await listing(http, **params))["images"]
    return sorted((r["key"], r["openCount"], r["resolvedCount"], json.dumps(r["lastComment"])) for r in rows)


# The inbox feed


async def subscribe_inbox(ws: Any) -> None:
    await ws.send(json.dumps({"type": "subscribe-inbox"}))
    assert (await recv(ws))["type"] == "inbox-subscribed"


async def next_row(ws: Any, timeout: float = 1.0) -> dict[str, Any]:
    frame = await recv(ws, timeout)
    assert frame["type"] in ("inbox-row", "inbox-removed"), frame
    return frame


async def test_a_write_reaches_every_inbox_of_the_tenant_and_no_other(both: Harness) -> None:
    ana_token = await both.token("u_ana", "Ana")
    bob_token = await both.token("u_bob", "Bob")
    admin_token = await both.token("u_root", "Root", role="admin")
    zed_token = await both.token("u_zed", "Zed", tenant="other")
    ana_ws, zed_ws = await open_ws(both, ana_token), await open_ws(both, zed_token)
    await subscribe_inbox(ana_ws)
    await subscribe_inbox(zed_ws)
    async with client(both, bob_token) as bob, client(both, zed_token) as zed, client(both, admin_token) as root:
        marker = await chat(bob, content_key(1), "hello inbox")
        frame = await next_row(ana_ws)
        assert frame["type"] == "inbox-row"
        assert frame["row"] == as_fed((await listing(bob))["images"][0])
        assert frame["row"]["lastComment"]["markerNumber"] == 1 and frame["row"]["openCount"] == 1

        await bob.patch(f"/chats/{marker['id']}", json={"status": "resolved", "broadcastId": bid()})
        frame = await next_row(ana_ws)
        assert (frame["row"]["openCount"], frame["row"]["resolvedCount"]) == (0, 1)
        await bob.delete(f"/chats/{marker['id']}", params={"broadcastId": bid()})
        assert await next_row(ana_ws) == {"type": "inbox-removed", "key": content_key(1)}

        await chat(bob, content_key(2), "to be deleted by an admin")
        assert (await next_row(ana_ws))["row"]["key"] == content_key(2)
        assert (await root.delete(f"/images/{content_key(2)}")).status_code == 200
        assert await next_row(ana_ws) == {"type": "inbox-removed", "key": content_key(2)}

        # Zed's first row is his own tenant's: nothing of acme's reached him.
        await chat(zed, content_key(3), "elsewhere")
        assert (await next_row(zed_ws))["row"]["key"] == content_key(3)
    await ana_ws.close()
    await zed_ws.close()


async def test_an_upload_after_the_first_marker_sends_the_row_with_its_name_and_picture(both: Harness) -> None:
    """The viewer uploads alongside the first marker, so the row first goes out without a name or a
    stored picture; the upload sends it again, complete. Uploading it once more sends nothing."""
    token = await both.token("u_ana", "Ana")
    watcher = await open_ws(both, token)
    await subscribe_inbox(watcher)
    async with client(both, token) as ana:
        png = image_bytes(color="orange")
        await chat(ana, key_of(png))
        first = (await next_row(watcher))["row"]
        assert (first["name"], first["stored"]) == (None, False)
        assert (await put(ana, png, name="checkout.png")).status_code == 201
        again = (await next_row(watcher))["row"]
        assert (again["name"], again["stored"]) == ("checkout.png", True)
        assert again == as_fed((await listing(ana))["images"][0])
        assert (await put(ana, png, name="checkout.png")).status_code == 200
        await chat(ana, content_key(5))
        assert (await next_row(watcher))["row"]["key"] == content_key(5)
    await watcher.close()


async def test_unsubscribe_and_disconnect_leave_the_inbox_topic(server: Harness) -> None:
    token = await server.token()
    topic = inbox_topic(server.tenants["acme"])
    ws = await open_ws(server, token)
    await subscribe_inbox(ws)
    await subscribe_inbox(ws)  # again: acknowledged again, still one subscription
    assert list(server.app.hub.topics[topic]) and len(server.app.hub.topics[topic]) == 1
    await ws.send(json.dumps({"type": "unsubscribe-inbox"}))
    await wait_for(lambda: topic not in server.app.hub.topics, 2.0, "the inbox topic dropped")
    async with client(server, token) as ana:
        await chat(ana, content_key(1))
    assert (await subscribe(ws, image=content_key(1)))["type"] == "subscribed"  # no inbox row came first
    await subscribe_inbox(ws)
    await ws.close()
    await wait_for(lambda: topic not in server.app.hub.topics, 2.0, "the inbox topic dropped on disconnect")
    await server.app.hub.settle()
    assert topic not in server.app.hub.linked


async def test_after_a_lost_pub_sub_link_inbox_subscribers_are_told_to_reload(make_server, sqlite_database,
                                                                                own_redis) -> None:
    """Rows published while Redis was down never arrive: `inbox-subscribed` again makes the viewer
    reload its first page, which has them."""
    cluster = await start_cluster(make_server, sqlite_database, own_redis)
    first, second = cluster.servers
    token = await first.token("u_ana", "Ana")
    watcher = await open_ws(second, token)
    await subscribe_inbox(watcher)
    own_redis.kill()
    async with client(first, token) as ana:
        await chat(ana, content_key(1), "while Redis is down")
        own_redis.start()
        assert (await recv(watcher, timeout=10))["type"] == "inbox-subscribed"
        assert await keys(ana) == [content_key(1)]
        await chat(ana, content_key(2), "after")
        frame = await recv(watcher, timeout=5)
        while frame["type"] == "inbox-row" and frame["row"]["key"] == content_key(1):  # resent, at most once
            frame = await recv(watcher, timeout=5)
        assert frame["type"] == "inbox-row" and frame["row"]["key"] == content_key(2)
    await watcher.close()
    await cluster.close()


def test_inbox_frames_are_never_batched() -> None:
    """A `batch` holds an image's events only: queued inbox rows go out one by one."""
    core = LiveCore(0.0)
    core.wait()
    for frame in [Frame('{"type":"inbox-row"}', batchable=False), Frame('{"seq":1}'), Frame('{"seq":2}'),
                  Frame('{"type":"inbox-removed"}', batchable=False)]:
        assert core.push(True, frame) is None
    core.sent()
    texts = []
    while (item := core.next_frame()) is not None:
        texts.append(item[0].message["text"])
    assert texts == ['{"type":"inbox-row"}', '{"type":"batch","events":[{"seq":1},{"seq":2}]}',
                     '{"type":"inbox-removed"}']


@pytest.mark.postgres
async def test_two_processes_over_postgresql_and_redis_serve_one_inbox_and_one_image(
        make_server, own_redis, engines) -> None:
    async with fresh_postgres_database() as url:
        cluster = await start_cluster(make_server, url, own_redis)
        first, second = cluster.servers
        ana_token, bob_token = await first.token("u_ana", "Ana"), await first.token("u_bob", "Bob")
        second.tenants = first.tenants
        watchers = [await open_ws(server, ana_token) for server in cluster.servers]
        for ws in watchers:
            await subscribe_inbox(ws)
        png = image_bytes(color="green")
        async with client(first, bob_token) as bob, client(second, ana_token) as ana:
            assert (await put(bob, png)).status_code == 201
            assert (await ana.get(f"/images/{key_of(png)}/content")).content == png
            await chat(bob, key_of(png), "through the first process")
            rows = await asyncio.gather(*(next_row(ws) for ws in watchers))
            assert rows[0] == rows[1] and rows[0]["row"]["stored"] is True
            assert [as_fed(row) for row in (await listing(ana))["images"]] == [rows[0]["row"]]
            assert [as_fed(row) for row in (await listing(bob))["images"]] == [rows[0]["row"]]
        for ws in watchers:
            await ws.close()
        await cluster.close()
        for server in cluster.servers:
            await stop_server(make_server, server)

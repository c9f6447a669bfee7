"""Unread markers on the server: the rule case by case, `GET /images/{key}/unread` and
`POST /images/{key}/read`, the inbox rows' `unread` and `filter=unread`, the `markers-read` frame on
the user's feed, the notifications read with their marker, deletions, and the migration from schema 5;
on SQLite and on a PostgreSQL database of each test's own."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from sqlalchemy import func, select

from imagechat_tui.protocol.models import AddComment, CreateChat, PatchChat
from imagechat_tui.server.database import Database
from imagechat_tui.server.schema import SCHEMA_VERSION, images_read, meta, notifications, prepare, read_positions
from imagechat_tui.server.store import Store

from .conftest import bid
from .old_schemas import back_to_version_5
from .test_adopt import KEY as ADOPT_KEY
from .test_adopt import adopt, legacy_marker
from .test_adopt import principal as adopt_principal
from .test_images import PNG, image_bytes, key_of, put
from .test_inbox import content_key
from .test_live import recv
from .test_notifications import IMAGE, comment, feed, listed, people, place
from .test_numbers import principal as store_principal

OTHER = "sha256:" + "d" * 64


async def unread(http: httpx.AsyncClient, image: str = IMAGE) -> dict[str, int]:
    """The caller's unread markers of the image: marker id → seq of its newest unread comment."""
    response = await http.get(f"/images/{image}/unread")
    assert response.status_code == 200, response.text
    return {m["markerId"]: m["seq"] for m in response.json()["markers"]}


async def read(http: httpx.AsyncClient, seq: int, marker_id: str | None = None, image: str = IMAGE) -> dict[str, int]:
    """Mark read; the positions that moved."""
    response = await http.post(f"/images/{image}/read", json={"markerId": marker_id, "seq": seq})
    assert response.status_code == 200, response.text
    assert response.json()["image"] == image
    return {m["markerId"]: m["seq"] for m in response.json()["markers"]}


async def seq_of(http: httpx.AsyncClient, image: str = IMAGE) -> int:
    return int((await http.get(f"/images/{image}/unread")).json()["seq"])


async def close(clients: dict[str, httpx.AsyncClient]) -> None:
    for client in clients.values():
        await client.aclose()


async def test_the_rule_case_by_case(make_server: Any, database_url: str) -> None:
    server = await make_server(database_url)
    h = await people(server)
    marker = await place(h["ana"], "look")  # seq 1
    assert await unread(h["ana"]) == {}  # her own comment never makes anything unread for her
    assert await unread(h["bo"]) == {marker["id"]: 1}  # a colleague's new marker is unread
    assert await unread(h["eve"]) == {}  # the same user id in another tenant: another image altogether

    await comment(h["bo"], marker["id"], "seen")  # seq 2, and Bo's write marks it read for him
    assert await unread(h["bo"]) == {}
    assert await unread(h["ana"]) == {marker["id"]: 2}
    assert await unread(h["cy"]) == {marker["id"]: 2}

    assert await read(h["cy"], 1, marker["id"]) == {marker["id"]: 1}
    assert await unread(h["cy"]) == {marker["id"]: 2}  # read up to 1: the comment at 2 is still unread
    assert await read(h["cy"], 2, marker["id"]) == {marker["id"]: 2}
    assert await unread(h["cy"]) == {}
    assert await read(h["cy"], 1, marker["id"]) == {}  # never down
    assert await read(h["cy"], 2, marker["id"]) == {}  # already there: nothing moved

    late = await comment(h["ana"], marker["id"], "a newer one")  # seq 3
    assert await unread(h["cy"]) == {marker["id"]: 3}  # unread again
    deleted = await h["ana"].delete(f"/comments/{late['id']}", params={"broadcastId": bid()})  # seq 4
    assert deleted.status_code == 200
    assert await unread(h["cy"]) == {}  # a deleted comment makes nothing unread
    await h["ana"].patch(f"/chats/{marker['id']}", json={"status": "resolved", "broadcastId": bid()})  # seq 5
    await h["ana"].patch(f"/chats/{marker['id']}", json={"x": 50, "broadcastId": bid()})  # seq 6
    assert await unread(h["cy"]) == {}  # status changes and moves don't either

    assert await read(h["cy"], 1000, marker["id"]) == {marker["id"]: 6}  # clamped to the image's seq
    assert await seq_of(h["cy"]) == 6
    await close(h)


async def test_marking_a_whole_image_read(make_server: Any, database_url: str) -> None:
    server = await make_server(database_url)
    h = await people(server)
    first = await place(h["ana"], "one")  # seq 1
    second = await place(h["ana"], "two")  # seq 2
    await comment(h["ana"], first["id"], "more")  # seq 3
    third = await place(h["ana"], "three")  # seq 4
    assert await unread(h["bo"]) == {first["id"]: 3, second["id"]: 2, third["id"]: 4}
    # Read as of seq 3: the third marker was placed after; the others' positions move to 3.
    assert await read(h["bo"], 3) == {first["id"]: 3, second["id"]: 3}
    assert await unread(h["bo"]) == {third["id"]: 4}
    assert await read(h["bo"], 10) == {first["id"]: 4, second["id"]: 4, third["id"]: 4}
    assert await unread(h["bo"]) == {}
    assert await read(h["bo"], 0) == {}
    assert await read(h["bo"], 4, image=OTHER) == {}  # an image without a conversation: nothing to read
    assert (await h["bo"].get(f"/images/{OTHER}/unread")).json() == {"image": OTHER, "seq": 0, "markers": []}
    await close(h)


async def test_unknown_markers_bad_bodies_and_other_tenants(make_server: Any, database_url: str) -> None:
    server = await make_server(database_url)
    h = await people(server)
    marker = await place(h["ana"])
    elsewhere = await place(h["ana"], image=OTHER)
    for body, image in (({"markerId": "m_nope", "seq": 1}, IMAGE), ({"markerId": elsewhere["id"], "seq": 1}, IMAGE),
                        ({"markerId": marker["id"], "seq": 1}, OTHER.replace("d", "e"))):
        response = await h["bo"].post(f"/images/{image}/read", json=body)
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"
    for body in ({}, {"seq": -1}, {"seq": "x"}, {"seq": 1, "extra": 2}, {"markerId": 5, "seq": 1}, {"seq": 2**63}):
        response = await h["bo"].post(f"/images/{IMAGE}/read", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["code"] == "invalid"
    assert (await h["bo"].get("/images/not-a-key/unread")).status_code == 422
    assert (await httpx.AsyncClient(base_url=server.url + "/api/v1").get(f"/images/{IMAGE}/unread")).status_code == 401

    # Eve (another tenant, Ana's id) sees nothing of acme's image and can't touch its markers.
    assert await unread(h["eve"]) == {}
    response = await h["eve"].post(f"/images/{IMAGE}/read", json={"markerId": marker["id"], "seq": 1})
    assert response.status_code == 404
    assert await read(h["eve"], 5) == {}
    assert await unread(h["bo"]) == {marker["id"]: 1}  # nothing Eve did read anything for acme
    await close(h)


async def test_inbox_rows_and_the_unread_filter(make_server: Any, database_url: str) -> None:
    server = await make_server(database_url)
    h = await people(server)
    placed = {}
    for n in range(5):
        placed[n] = await place(h["ana"], f"image {n}", image=content_key(n))
    bos = await place(h["bo"], "Bo's own", image=content_key(9))

    async def rows(who: str, **params: Any) -> list[dict[str, Any]]:
        response = await h[who].get("/images", params=params)
        assert response.status_code == 200, response.text
        return response.json()["images"]

    listed_rows = {row["key"]: row["unread"] for row in await rows("bo", filter="all")}
    assert listed_rows == {content_key(n): [placed[n]["id"]] for n in range(5)} | {content_key(9): []}
    assert {row["key"]: row["unread"] for row in await rows("ana", filter="all")} == {
        content_key(n): [] for n in range(5)} | {content_key(9): [bos["id"]]}

    await read(h["bo"], 1, image=content_key(1))
    await read(h["bo"], 1, placed[3]["id"], image=content_key(3))
    wanted = [content_key(4), content_key(2), content_key(0)]  # newest first
    assert [row["key"] for row in await rows("bo", filter="unread")] == wanted
    # A page at a time, by keyset, as the other filters.
    first = (await h["bo"].get("/images", params={"filter": "unread", "limit": 2})).json()
    assert [row["key"] for row in first["images"]] == wanted[:2] and first["nextCursor"]
    rest = (await h["bo"].get("/images", params={"filter": "unread", "limit": 2, "cursor": first["nextCursor"]})).json()
    assert [row["key"] for row in rest["images"]] == wanted[2:] and rest["nextCursor"] is None
    # With a search.
    assert [row["key"] for row in await rows("bo", filter="unread", q="image 2")] == [content_key(2)]

    await comment(h["cy"], placed[1]["id"], "news on image 1")  # unread again, for Bo and Ana
    assert (await rows("bo", filter="unread"))[0]["key"] == content_key(1)
    assert content_key(1) in [row["key"] for row in await rows("ana", filter="unread")]
    await comment(h["bo"], placed[1]["id"], "answered")  # his reply reads it for him
    assert content_key(1) not in [row["key"] for row in await rows("bo", filter="unread")]
    assert await rows("eve", filter="unread") == []
    await close(h)


async def test_a_read_image_shortcut_is_never_wrong(make_server: Any, database_url: str) -> None:
    """`images_read` (a user had read the image whole as of its newest comment) never hides a marker
    made unread since, nor shows one: deletions, a newer comment, a new marker."""
    server = await make_server(database_url)
    h = await people(server)
    marker = await place(h["ana"], "first")
    said = await comment(h["bo"], marker["id"], "second")  # Bo has read the image whole
    rows = await server.app.db.run(lambda conn: conn.execute(select(images_read)).all(), snapshot=True)
    # Ana's, from her marker, no longer matches the image's newest comment: only ever a shortcut.
    assert {(r.user_id, r.last_comment_id) for r in rows} == {("u_ana", marker["comments"][0]["id"]),
                                                              ("u_bo", said["id"])}

    async def bo_unread() -> list[str]:
        page = (await h["bo"].get("/images", params={"filter": "unread"})).json()["images"]
        return [row["key"] for row in page]

    assert await bo_unread() == []
    other = await place(h["cy"], "a new marker")
    assert await bo_unread() == [IMAGE]
    await read(h["bo"], 100, other["id"])
    assert await bo_unread() == []
    await h["bo"].delete(f"/comments/{said['id']}", params={"broadcastId": bid()})  # the newest comment goes
    assert await bo_unread() == []  # the shortcut no longer matches; the rule says read all the same
    await comment(h["ana"], marker["id"], "third")
    assert await bo_unread() == [IMAGE]
    await close(h)


async def test_deleting_markers_and_images_deletes_their_read_rows(make_server: Any, database_url: str) -> None:
    server = await make_server(database_url)
    h = await people(server)
    admin = httpx.AsyncClient(base_url=server.url + "/api/v1",
                              headers={"Authorization": f"Bearer {await server.token('u_root', 'Root', 'admin')}"})
    png = image_bytes(color="red")
    assert (await put(h["ana"], png)).status_code == 201
    first = await place(h["ana"], "one", image=key_of(png))
    second = await place(h["ana"], "two", image=key_of(png))
    await read(h["bo"], 10, image=key_of(png))

    async def count(table: Any) -> int:
        query = select(func.count()).select_from(table)
        return int(await server.app.db.run(lambda conn: conn.execute(query).scalar_one(), snapshot=True))

    assert await count(read_positions) == 4 and await count(images_read) == 2
    assert (await h["ana"].delete(f"/chats/{first['id']}", params={"broadcastId": bid()})).status_code == 200
    assert await count(read_positions) == 2
    assert (await admin.delete(f"/images/{key_of(png)}")).status_code == 200
    assert await count(read_positions) == 0 and await count(images_read) == 0
    assert second["id"]
    await admin.aclose()
    await close(h)


async def test_markers_read_reaches_the_users_viewers_and_no_one_else(make_server: Any, database_url: str) -> None:
    server = await make_server(database_url)
    ana_token, bo_token = await server.token("u_ana", "Ana"), await server.token("u_bo", "Bo")
    eve_token = await server.token("u_ana", "Eve", tenant="globex")
    ana1, ana2, bo, eve = [await feed(server, t) for t in (ana_token, ana_token, bo_token, eve_token)]
    h = {"ana": httpx.AsyncClient(base_url=server.url + "/api/v1", headers={"Authorization": f"Bearer {ana_token}"}),
         "bo": httpx.AsyncClient(base_url=server.url + "/api/v1", headers={"Authorization": f"Bearer {bo_token}"})}

    async def silent(*sockets: Any) -> None:
        for ws in sockets:
            try:
                frame = await recv(ws, 0.3)
            except TimeoutError:
                continue
            raise AssertionError(f"unexpected {frame}")

    marker = await place(h["ana"])  # her write reads it for her, on both her viewers
    for ws in (ana1, ana2):
        assert await recv(ws, 1.0) == {"type": "markers-read", "image": IMAGE,
                                       "markers": [{"markerId": marker["id"], "seq": 1}]}
    await silent(bo, eve)

    await comment(h["bo"], marker["id"], "for you")  # seq 2: a notification to Ana; markers-read to Bo
    assert (await recv(bo, 1.0))["type"] == "markers-read"
    notified = [await recv(ws, 1.0) for ws in (ana1, ana2)]
    assert all(n["type"] == "notification" for n in notified)
    notification_id = notified[0]["notification"]["id"]

    assert await read(h["ana"], 2, marker["id"]) == {marker["id"]: 2}
    for ws in (ana1, ana2):
        assert await recv(ws, 1.0) == {"type": "markers-read", "image": IMAGE,
                                       "markers": [{"markerId": marker["id"], "seq": 2}]}
        assert await recv(ws, 1.0) == {"type": "notifications-read", "ids": [notification_id], "upTo": None}
    await silent(bo, eve)
    page = await listed(h["ana"])
    assert page["unreadCount"] == 0 and page["notifications"][0]["read"] is True
    assert await read(h["ana"], 2, marker["id"]) == {}  # nothing moved: nothing sent
    await silent(ana1, ana2)
    for ws in (ana1, ana2, bo, eve):
        await ws.close()
    await close(h)
    await asyncio.sleep(0)


async def test_notifications_of_a_marker_are_read_up_to_its_position(make_server: Any, database_url: str) -> None:
    server = await make_server(database_url)
    h = await people(server)
    marker = await place(h["ana"])  # 1
    other = await place(h["ana"], "elsewhere")  # 2
    await comment(h["bo"], marker["id"], "first")  # 3
    await comment(h["bo"], other["id"], "other")  # 4
    await comment(h["bo"], marker["id"], "second")  # 5
    await read(h["ana"], 3, marker["id"])
    states = {n["excerpt"]: n["read"] for n in (await listed(h["ana"]))["notifications"]}
    assert states == {"first": True, "other": False, "second": False}
    await comment(h["ana"], other["id"], "replying reads it")  # 6: her write reads `other` up to 6
    states = {n["excerpt"]: n["read"] for n in (await listed(h["ana"]))["notifications"]}
    assert states == {"first": True, "other": True, "second": False}
    await close(h)


async def test_adoption_moves_read_positions_with_their_comments(make_server: Any, database_url: str) -> None:
    server = await make_server(database_url)
    h = await people(server)
    store = server.app.store
    ana, bo = await adopt_principal(server, "u_ana"), await adopt_principal(server, "u_bo")
    old = await legacy_marker(server, ana)  # legacy seq 1
    await store.add_comment(bo, old, AddComment(text="on the old one", broadcast_id=bid()), bid())  # 2
    for _ in range(2):  # the content key's seq goes to 4 with no marker left: the moved seqs shift by 2
        placed = await place(h["ana"], "gone soon", image=ADOPT_KEY)
        assert (await h["ana"].delete(f"/chats/{placed['id']}", params={"broadcastId": bid()})).status_code == 200
    assert (await put(h["ana"], PNG)).status_code == 201
    assert (await adopt(h["ana"])).json()["adopted"] is True
    assert await unread(h["bo"], ADOPT_KEY) == {}  # his position moved with his comment, 2 → 4
    assert await unread(h["ana"], ADOPT_KEY) == {old: 4}
    assert (await h["bo"].get("/images", params={"filter": "unread"})).json()["images"] == []
    assert await read(h["ana"], 4, old, image=ADOPT_KEY) == {old: 4}
    assert (await listed(h["ana"]))["unreadCount"] == 0  # the notification's seq moved too
    await close(h)


async def test_a_version_5_database_is_migrated(database_url: str) -> None:
    """Positions as if writes had always read their marker for the writer, the images read whole,
    and notifications with their comment's seq (0 without one)."""
    db = Database(database_url)
    store = Store(db)
    try:
        await db.run(prepare)
        ana, bo, cy = [await store_principal(store, user) for user in ("u_ana", "u_bo", "u_cy")]
        marker = json.loads((await store.create_marker(ana, CreateChat(image=IMAGE, x=1, y=1, text="a",
                                                                       broadcast_id=bid()), bid())).body)["marker"]
        for who in (bo, cy):
            await store.add_comment(who, marker["id"], AddComment(text="b", broadcast_id=bid()), bid())  # 2, 3
        await store.patch_marker(bo, marker["id"], PatchChat(status="resolved", broadcast_id=bid()), bid())  # 4
        await db.run(back_to_version_5)

        assert await db.run(prepare) == SCHEMA_VERSION
        version = select(meta.c.value).where(meta.c.key == "schema_version")
        assert await db.run(lambda conn: conn.execute(version).scalar_one(), snapshot=True) == str(SCHEMA_VERSION)
        positions = select(read_positions.c.user_id, read_positions.c.seq)
        assert set(await db.run(lambda conn: conn.execute(positions).all(), snapshot=True)) == {
            ("u_ana", 1), ("u_bo", 2), ("u_cy", 3)}
        seqs = select(notifications.c.kind, notifications.c.seq).where(notifications.c.user_id == "u_ana")
        assert sorted(await db.run(lambda conn: conn.execute(seqs).all(), snapshot=True)) == [
            ("comment", 2), ("comment", 3), ("resolved", 0)]
        whole = select(images_read.c.user_id)
        assert await db.run(lambda conn: conn.execute(whole).scalars().all(), snapshot=True) == ["u_cy"]
        assert [(m.marker_id, m.seq) for m in (await store.unread(ana, IMAGE)).markers] == [(marker["id"], 3)]
        assert (await store.unread(cy, IMAGE)).markers == []
    finally:
        await db.dispose()

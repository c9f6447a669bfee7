"""Mentions and notifications on the server: each kind made for the right users and no one else,
the list and its cursor, marking read, the live per-user feed, and what goes with deletions."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from .conftest import Harness, bid
from .test_live import open_ws, recv, rest

IMAGE = "sha256:" + "c" * 64


async def people(server: Harness) -> dict[str, httpx.AsyncClient]:
    """Ana, Bo and Cy of acme, and Eve of globex, who shares an id with Ana."""
    tokens = {
        "ana": await server.token("u_ana", "Ana"),
        "bo": await server.token("u_bo", "Bo"),
        "cy": await server.token("u_cy", "Cy"),
        "eve": await server.token("u_ana", "Eve", tenant="globex"),
    }
    return {who: rest(server, token) for who, token in tokens.items()}


async def place(http: httpx.AsyncClient, text: str = "look", image: str = IMAGE) -> dict:
    response = await http.post("/chats", json={"image": image, "x": 1, "y": 2, "text": text, "broadcastId": bid()})
    assert response.status_code == 201, response.text
    return response.json()["marker"]


async def comment(http: httpx.AsyncClient, marker_id: str, text: str, parent: str | None = None) -> dict:
    body: dict[str, Any] = {"text": text, "broadcastId": bid()}
    if parent is not None:
        body["parentId"] = parent
    response = await http.post(f"/chats/{marker_id}/comments", json=body)
    assert response.status_code == 201, response.text
    return response.json()["comment"]


async def status(http: httpx.AsyncClient, marker_id: str, value: str) -> None:
    response = await http.patch(f"/chats/{marker_id}", json={"status": value, "broadcastId": bid()})
    assert response.status_code == 200, response.text


async def listed(http: httpx.AsyncClient, **params: Any) -> dict:
    response = await http.get("/notifications", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def kinds(http: httpx.AsyncClient) -> list[tuple[str, str, int]]:
    """(kind, who, marker number) of the caller's notifications, newest first."""
    return [(n["kind"], n["by"]["id"], n["markerNumber"]) for n in (await listed(http))["notifications"]]


async def test_each_kind_reaches_the_right_users_and_no_one_else(make_server: Any, database_url: str) -> None:
    server = await make_server(database_url)
    h = await people(server)
    marker = await place(h["ana"], "who can check this, <@u_cy>?")
    assert marker["comments"][0]["text"] == "who can check this, <@u_cy>?"  # stored as written: the id
    assert await kinds(h["cy"]) == [("mention", "u_ana", 1)]
    assert await kinds(h["ana"]) == [] and await kinds(h["bo"]) == []

    first = await comment(h["bo"], marker["id"], "I can")
    assert await kinds(h["ana"]) == [("comment", "u_bo", 1)]
    assert await kinds(h["cy"]) == [("mention", "u_ana", 1)]  # Cy has not commented: a mention is not taking part

    await comment(h["cy"], marker["id"], "thanks", parent=first["id"])
    assert (await kinds(h["bo"]))[0] == ("reply", "u_cy", 1)
    assert (await kinds(h["ana"]))[0] == ("comment", "u_cy", 1)

    await status(h["bo"], marker["id"], "resolved")
    await status(h["cy"], marker["id"], "open")
    assert (await kinds(h["ana"]))[:2] == [("reopened", "u_cy", 1), ("resolved", "u_bo", 1)]
    assert [k for k, _, _ in await kinds(h["bo"])] == ["reply"]  # not the creator: no status news
    assert [k for k, _, _ in await kinds(h["cy"])] == ["mention"]  # Bo's status change is not news to Cy

    await status(h["ana"], marker["id"], "resolved")  # her own: nobody else's marker
    await comment(h["ana"], marker["id"], "done")
    assert len((await listed(h["ana"]))["notifications"]) == 4  # never of her own writes
    assert (await kinds(h["bo"]))[0] == (await kinds(h["cy"]))[0] == ("comment", "u_ana", 1)
    assert await kinds(h["eve"]) == []  # the same user id in another tenant hears nothing

    page = await listed(h["bo"])
    n = page["notifications"][-1]
    assert n["image"] == IMAGE and n["imageName"] is None and n["markerId"] == marker["id"]
    assert n["excerpt"] == "thanks" and n["read"] is False and page["unreadCount"] == 2
    for client in h.values():
        await client.aclose()


async def test_mentions_of_strangers_are_refused_and_edits_notify_new_mentions(make_server: Any,
                                                                              database_url: str) -> None:
    server = await make_server(database_url)
    h = await people(server)
    await server.token("u_out", "Out", tenant="globex")
    for text in ("hi <@u_out>", "hi <@nobody>"):
        response = await h["ana"].post("/chats", json={"image": IMAGE, "x": 1, "y": 2, "text": text,
                                                       "broadcastId": bid()})
        assert response.status_code == 422, response.text
        assert "not in this tenant" in response.json()["error"]["message"]
    assert (await h["ana"].get("/chats", params={"image": IMAGE})).json()["markers"] == []

    marker = await place(h["ana"], "plain")
    own = marker["comments"][0]
    edit = await h["ana"].patch(f"/comments/{own['id']}", json={"text": "now <@u_bo>", "broadcastId": bid()})
    assert edit.status_code == 200
    assert await kinds(h["bo"]) == [("mention", "u_ana", 1)]
    again = await h["ana"].patch(f"/comments/{own['id']}", json={"text": "still <@u_bo>!", "broadcastId": bid()})
    assert again.status_code == 200
    assert len(await kinds(h["bo"])) == 1  # not mentioned anew
    assert (await listed(h["bo"]))["notifications"][0]["excerpt"] == "still <@u_bo>!"  # the excerpt follows edits
    bad = await h["ana"].patch(f"/comments/{own['id']}", json={"text": "<@u_out>", "broadcastId": bid()})
    assert bad.status_code == 422
    for client in h.values():
        await client.aclose()


async def test_pages_cursor_and_marking_read(make_server: Any, database_url: str) -> None:
    server = await make_server(database_url)
    h = await people(server)
    marker = await place(h["ana"])
    for i in range(5):
        await comment(h["bo"], marker["id"], f"note {i}")
    first = await listed(h["ana"], limit=2)
    assert [n["excerpt"] for n in first["notifications"]] == ["note 4", "note 3"]
    second = await listed(h["ana"], limit=2, cursor=first["nextCursor"])
    third = await listed(h["ana"], limit=2, cursor=second["nextCursor"])
    assert [n["excerpt"] for n in second["notifications"] + third["notifications"]] == ["note 2", "note 1", "note 0"]
    assert third["nextCursor"] is None and third["unreadCount"] == 5
    assert (await h["ana"].get("/notifications", params={"cursor": "nope!"})).status_code == 400

    ids = [n["id"] for n in first["notifications"]]
    assert (await h["bo"].post("/notifications/read", json={"ids": ids})).json()["read"] == 0  # not Bo's
    assert (await h["eve"].post("/notifications/read", json={"upTo": ids[0]})).json()["read"] == 0
    marked = await h["ana"].post("/notifications/read", json={"ids": [ids[1]]})
    assert marked.json() == {"read": 1, "unreadCount": 4}
    assert (await h["ana"].post("/notifications/read", json={"upTo": ids[1]})).json() == {"read": 3,
                                                                                         "unreadCount": 1}
    assert [n["read"] for n in (await listed(h["ana"]))["notifications"]] == [False, True, True, True, True]
    for body in ({}, {"ids": [1], "upTo": 2}, {"ids": "x"}):
        assert (await h["ana"].post("/notifications/read", json=body)).status_code == 422
    for client in h.values():
        await client.aclose()


async def test_deleting_a_comment_or_marker_takes_its_notifications(make_server: Any, database_url: str) -> None:
    server = await make_server(database_url)
    h = await people(server)
    marker = await place(h["ana"])
    said = await comment(h["bo"], marker["id"], "secret")
    await comment(h["bo"], marker["id"], "public")
    response = await h["bo"].delete(f"/comments/{said['id']}", params={"broadcastId": bid()})
    assert response.status_code == 200
    assert [n["excerpt"] for n in (await listed(h["ana"]))["notifications"]] == ["public"]
    response = await h["ana"].delete(f"/chats/{marker['id']}", params={"broadcastId": bid()})
    assert response.status_code == 200
    assert (await listed(h["ana"]))["notifications"] == []
    for client in h.values():
        await client.aclose()


async def feed(server: Harness, token: str) -> Any:
    ws = await open_ws(server, token)
    await ws.send(json.dumps({"type": "subscribe-notifications"}))
    assert (await recv(ws))["type"] == "notifications-subscribed"
    return ws


async def test_the_live_feed_reaches_every_viewer_of_the_user_and_no_one_else(make_server: Any,
                                                                             database_url: str) -> None:
    server = await make_server(database_url)
    ana_token, bo_token = await server.token("u_ana", "Ana"), await server.token("u_bo", "Bo")
    eve_token = await server.token("u_ana", "Eve", tenant="globex")
    ana1, ana2, bo, eve = [await feed(server, t) for t in (ana_token, ana_token, bo_token, eve_token)]
    async with rest(server, ana_token) as ana_http, rest(server, bo_token) as bo_http:
        marker = await place(ana_http)
        for ws in (ana1, ana2):  # her write read the marker for her (docs/protocol.md, "Unread markers")
            assert (await recv(ws, 1.0))["type"] == "markers-read"
        start = time.monotonic()
        await comment(bo_http, marker["id"], "over to you")
        got = [await recv(ws, 1.0) for ws in (ana1, ana2)]
        assert time.monotonic() - start < 1.0
        assert {g["notification"]["excerpt"] for g in got} == {"over to you"}
        assert all(g["type"] == "notification" and g["notification"]["kind"] == "comment" for g in got)
        assert (await recv(bo, 1.0))["type"] == "markers-read"  # his own write; no notification
        for silent in (bo, eve):  # Bo wrote it; Eve has Ana's id in another tenant
            try:
                frame = await recv(silent, 0.3)
            except TimeoutError:
                continue
            raise AssertionError(f"unexpected {frame}")

        read = await ana_http.post("/notifications/read", json={"upTo": got[0]["notification"]["id"]})
        assert read.json()["read"] == 1
        for ws in (ana1, ana2):
            frame = await recv(ws, 1.0)
            assert frame == {"type": "notifications-read", "ids": None, "upTo": got[0]["notification"]["id"]}
    for ws in (ana1, ana2, bo, eve):
        await ws.close()
    await asyncio.sleep(0)

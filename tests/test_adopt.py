"""Adoption (`POST /images/{key}/adopt`): a conversation of the previous version, on a URL key, moved
once under the image's content key, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import json

import httpx
import pytest
import pytest_asyncio

from imagechat_tui.protocol.imagekey import image_key, legacy_key_hash, legacy_source, legacy_url_key
from imagechat_tui.protocol.models import AddComment, CreateChat
from imagechat_tui.server.store import Principal

from .conftest import Harness, bid, key_of
from .test_images import PNG, put
from .test_live import open_ws, recv, subscribe
from .test_rest import client

SIGNED = "https://ana:s3cret@Shots.Example.com/4711.png?X-Amz-Signature=abc123#part"
"""An image opened with the previous version: its key kept the user info and the query."""
LEGACY = legacy_url_key(SIGNED)
KEY = key_of(PNG)


@pytest_asyncio.fixture
async def both(make_server, database_url: str) -> Harness:
    return await make_server(database_url)


async def principal(server: Harness, user: str = "u_ana", tenant: str = "acme") -> Principal:
    found = await server.app.store.principal(await server.token(user, user.removeprefix("u_").title(),
                                                                 "moderator", tenant))
    assert found is not None
    return found


async def legacy_marker(server: Harness, p: Principal, text: str = "old") -> str:
    """A marker as the previous version placed it, on the URL key (the API refuses that now)."""
    body = CreateChat.model_construct(image=LEGACY, x=10.0, y=20.0, text=text, broadcast_id=bid())
    committed = await server.app.store.create_marker(p, body, bid())
    return str(json.loads(committed.body)["marker"]["id"])


async def adopt(http: httpx.AsyncClient, key: str = KEY, url: str = SIGNED) -> httpx.Response:
    return await http.post(f"/images/{key}/adopt", json={"legacyKeyHash": legacy_key_hash(url)})


async def test_a_legacy_conversation_is_moved_once_with_its_comments_and_numbers(both: Harness) -> None:
    p = await principal(both)
    first, second, third = [await legacy_marker(both, p, f"marker {n}") for n in (1, 2, 3)]
    await both.app.store.delete_marker(p, second, bid(), bid())
    await both.app.store.add_comment(p, third, AddComment(text="an old reply", broadcast_id=bid()), bid())
    legacy_seq = 5
    token = await both.token("u_ana", "Ana")
    old_viewer, new_viewer = await open_ws(both, token), await open_ws(both, token)
    assert (await subscribe(old_viewer, image=LEGACY))["seq"] == legacy_seq
    assert (await subscribe(new_viewer, image=KEY))["seq"] == 0
    async with client(both, token) as http:
        assert (await put(http, PNG, name="4711.png")).status_code == 201
        answer = await adopt(http)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"adopted": True, "seq": 2}
        for secret in ("s3cret", "abc123", "Signature", "shots.example.com"):  # only a hash was sent
            assert secret not in str(answer.request.url) and secret.encode() not in answer.request.content

        page = (await http.get("/chats", params={"image": KEY})).json()
        assert page["seq"] == 2
        assert [(m["id"], m["number"], m["image"]) for m in page["markers"]] == [(first, 1, KEY), (third, 3, KEY)]
        assert [c["text"] for c in page["markers"][1]["comments"]] == ["marker 3", "an old reply"]
        assert (await http.get("/chats", params={"image": SIGNED})).json()["markers"] == []
        assert (await http.get(f"/images/{KEY}")).json()["source"] == "https://shots.example.com/4711.png"

        gone = await recv(old_viewer, timeout=5)
        assert (gone["type"], gone["image"], gone["seq"]) == ("deleted-image", LEGACY, legacy_seq + 1)
        arrived = [await recv(new_viewer, timeout=5) for _ in range(2)]
        assert [(e["type"], e["seq"], e["marker"]["number"]) for e in arrived] == [
            ("new-image-chat", 1, 1), ("new-image-chat", 2, 3)]
        assert arrived[1]["marker"] == page["markers"][1]
        replay = (await http.get("/events", params={"image": KEY, "since": 0})).json()
        assert [e["seq"] for e in replay["events"]] == [1, 2]

        # The conversation goes on under the content key: numbers never reused, replies in order.
        body = {"image": KEY, "x": 1, "y": 1, "text": "new", "broadcastId": bid()}
        assert (await http.post("/chats", json=body)).json()["marker"]["number"] == 4
        reply = {"text": "a new reply", "broadcastId": bid()}
        assert (await http.post(f"/chats/{first}/comments", json=reply)).status_code == 201
        thread = (await http.get("/chats", params={"image": KEY})).json()["markers"][0]["comments"]
        assert [c["text"] for c in thread] == ["marker 1", "a new reply"]

        again = await adopt(http)
        assert again.json() == {"adopted": False, "seq": 4}
    await old_viewer.close()
    await new_viewer.close()


async def test_nothing_is_adopted_when_the_content_key_has_markers_already(both: Harness) -> None:
    p = await principal(both)
    await legacy_marker(both, p)
    async with client(both, await both.token("u_ana", "Ana")) as http:
        body = {"image": KEY, "x": 1, "y": 1, "text": "new", "broadcastId": bid()}
        assert (await http.post("/chats", json=body)).status_code == 201
        assert (await adopt(http)).json() == {"adopted": False, "seq": 1}
        assert len((await http.get("/chats", params={"image": LEGACY})).json()["markers"]) == 1
        assert len((await http.get("/chats", params={"image": KEY})).json()["markers"]) == 1


async def test_an_image_that_is_not_stored_is_adopted_too(both: Harness) -> None:
    await legacy_marker(both, await principal(both))
    async with client(both, await both.token("u_ana", "Ana")) as http:
        assert (await adopt(http)).json() == {"adopted": True, "seq": 1}
        assert (await http.get(f"/images/{KEY}")).status_code == 404


async def test_another_tenants_hash_adopts_nothing(both: Harness) -> None:
    await legacy_marker(both, await principal(both))
    async with client(both, await both.token("u_eve", "Eve", tenant="globex")) as eve:
        assert (await adopt(eve)).json() == {"adopted": False, "seq": 0}
        assert (await eve.get("/chats", params={"image": KEY})).json()["markers"] == []
    async with client(both, await both.token("u_ana", "Ana")) as ana:
        assert len((await ana.get("/chats", params={"image": LEGACY})).json()["markers"]) == 1


async def test_concurrent_adoptions_move_the_conversation_once(both: Harness) -> None:
    await legacy_marker(both, await principal(both))
    other = key_of(b"another screenshot")
    async with client(both, await both.token("u_ana", "Ana")) as http:
        answers = await asyncio.gather(*(adopt(http, key) for key in [KEY, other, KEY, other]))
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        assert [a.json()["adopted"] for a in answers].count(True) == 1
        moved = [len((await http.get("/chats", params={"image": key})).json()["markers"]) for key in (KEY, other)]
        assert sorted(moved) == [0, 1]


async def test_bad_adoptions_are_refused_saying_why(server: Harness) -> None:
    async with client(server, await server.token("u_ana", "Ana")) as http:
        for body in [{"legacyKeyHash": "abc"}, {"legacyKeyHash": SIGNED}, {}, {"legacyKeyHash": "a" * 64, "x": 1}]:
            answer = await http.post(f"/images/{KEY}/adopt", json=body)
            assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid", answer.text
        url_key = await http.post("/images/https%3A%2F%2Fe.com%2Fa.png/adopt", json={"legacyKeyHash": "a" * 64})
        assert url_key.status_code in (404, 422)
        unknown = await http.post(f"/images/{KEY}/adopt", json={"legacyKeyHash": "A" * 64})
        assert unknown.json() == {"adopted": False, "seq": 0}
    async with client(server, None) as anonymous:
        assert (await adopt(anonymous)).status_code == 401


def test_the_legacy_key_hash_is_the_digest_of_the_old_key_with_its_user_info_and_query() -> None:
    assert LEGACY == "https://ana:s3cret@shots.example.com/4711.png?X-Amz-Signature=abc123"
    assert legacy_key_hash(SIGNED) == hashlib.sha256(LEGACY.encode()).hexdigest()
    assert legacy_source(LEGACY) == "https://shots.example.com/4711.png"
    assert image_key(f" {SIGNED} ") == LEGACY  # still readable under it
    with pytest.raises(ValueError, match="sha256"):
        image_key("ftp://shots.example.com/4711.png")

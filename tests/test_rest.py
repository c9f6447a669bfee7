"""The REST API: validation, permissions, tenant isolation, idempotency, rate limits, usage, docs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection

from imagechat_tui.protocol.limits import MAX_TEXT_LENGTH
from imagechat_tui.server import admin

from .conftest import IMAGE, Harness, bid
from .test_live import open_ws, subscribe


def client(server: Harness, token: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=server.url + "/api/v1", headers=headers, timeout=10)


async def create(http: httpx.AsyncClient, text: str = "Button cut off here", **extra) -> dict:
    body = {"image": IMAGE, "x": 25, "y": 40.5, "text": text, "broadcastId": bid()} | extra
    response = await http.post("/chats", json=body)
    assert response.status_code == 201, response.text
    return response.json()


@pytest_asyncio.fixture
async def ana(server: Harness) -> AsyncIterator[httpx.AsyncClient]:
    async with client(server, await server.token("u_ana", "Ana")) as http:
        yield http


@pytest_asyncio.fixture
async def bob(server: Harness) -> AsyncIterator[httpx.AsyncClient]:
    async with client(server, await server.token("u_bob", "Bob")) as http:
        yield http


async def subscriber(server: Harness, token: str) -> ClientConnection:
    ws = await open_ws(server, token)
    await subscribe(ws)
    return ws


async def test_a_marker_round_trip_matches_the_protocol(ana: httpx.AsyncClient) -> None:
    created = await create(ana, image="HTTPS://Shots.Example.COM:443/4711.png#frag")
    marker = created["marker"]
    assert created["seq"] == 1
    assert marker["image"] == IMAGE  # normalised
    assert set(marker) == {"id", "image", "number", "x", "y", "status", "createdAt", "createdBy", "comments"}
    assert marker["number"] == 1
    assert set(marker["comments"][0]) == {"id", "markerId", "parentId", "user", "text", "createdAt", "editedAt",
                                          "deleted"}
    assert marker["createdAt"].endswith("Z")
    page = (await ana.get("/chats", params={"image": IMAGE})).json()
    assert page == {"image": IMAGE, "seq": 1, "markers": [marker]}
    me = (await ana.get("/me")).json()
    assert me["user"] == {"id": "u_ana", "name": "Ana", "role": "member"} and me["tenant"]["name"] == "acme"


BAD_CREATES = [
    pytest.param({"x": "25"}, 422, id="string-for-number"),
    pytest.param({"x": 101}, 422, id="x-101"),
    pytest.param({"y": -0.5}, 422, id="y-negative"),
    pytest.param({"x": True}, 422, id="bool-for-number"),
    pytest.param({"text": "   "}, 422, id="empty-text"),
    pytest.param({"text": "x" * 2001}, 422, id="2001-characters"),
    pytest.param({"text": 5}, 422, id="number-for-text"),
    pytest.param({"image": "ftp://example.com/a.png"}, 422, id="not-an-image-key"),
    pytest.param({"image": "https://e.com/" + "a" * 2100}, 422, id="image-key-too-long"),
    pytest.param({"broadcastId": "not-a-uuid"}, 422, id="bad-broadcast-id"),
    pytest.param({"extra": 1}, 422, id="unknown-field"),
]


@pytest.mark.parametrize(("change", "status"), BAD_CREATES)
async def test_bad_creates_are_refused_and_nothing_is_written_or_broadcast(
    server: Harness, ana: httpx.AsyncClient, change: dict, status: int
) -> None:
    ws = await subscriber(server, await server.token("u_watch", "Watcher"))
    body = {"image": IMAGE, "x": 25, "y": 40.5, "text": "fine", "broadcastId": bid()} | change
    response = await ana.post("/chats", json=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] and error["message"] and "Traceback" not in response.text
    # The next good write is seq 1 and the first thing the subscriber hears of.
    assert (await create(ana))["seq"] == 1
    assert json.loads(await ws.recv())["seq"] == 1
    await ws.close()


async def test_more_bad_input_case_by_case(server: Harness, ana: httpx.AsyncClient, bob: httpx.AsyncClient) -> None:
    ws = await subscriber(server, await server.token("u_watch", "Watcher"))
    other = (await create(ana, "another marker"))["marker"]
    marker = (await create(ana))["marker"]
    comment = marker["comments"][0]
    assert (await ana.post("/chats", content=b"{not json", headers={"Content-Type": "application/json"})).json()[
        "error"]["code"] == "bad_json"
    cases = [
        (ana.post("/chats/m_nope/comments", json={"text": "hi", "broadcastId": bid()}), 404),
        (ana.post(f"/chats/{other['id']}/comments", json={"text": "hi", "parentId": comment["id"],
                                                          "broadcastId": bid()}), 422),
        (ana.post(f"/chats/{marker['id']}/comments", json={"text": "hi", "parentId": "c_nope",
                                                           "broadcastId": bid()}), 422),
        (ana.patch(f"/chats/{marker['id']}", json={"broadcastId": bid()}), 422),
        (ana.patch(f"/chats/{marker['id']}", json={"status": "closed", "broadcastId": bid()}), 422),
        (ana.delete(f"/chats/{marker['id']}"), 422),
        (ana.patch("/comments/c_nope", json={"text": "x", "broadcastId": bid()}), 404),
        (bob.patch(f"/comments/{comment['id']}", json={"text": "not mine", "broadcastId": bid()}), 403),
        (bob.delete(f"/comments/{comment['id']}", params={"broadcastId": bid()}), 403),
        (bob.patch(f"/chats/{marker['id']}", json={"x": 1, "broadcastId": bid()}), 403),
        (bob.delete(f"/chats/{marker['id']}", params={"broadcastId": bid()}), 403),
        (ana.post("/chats", content=b"x" * (100 * 1024), headers={"Content-Type": "application/json"}), 413),
        (ana.get("/events", params={"image": IMAGE, "since": -1}), 422),
        (ana.get("/chats"), 422),
    ]
    for request, status in cases:
        response = await request
        assert response.status_code == status, response.text
        assert set(response.json()["error"]) == {"code", "message"}
    # Members may comment, reply and resolve on others' markers.
    reply = await bob.post(f"/chats/{marker['id']}/comments",
                           json={"text": "me too", "parentId": comment["id"], "broadcastId": bid()})
    assert reply.status_code == 201 and reply.json()["seq"] == 3
    assert (await bob.patch(f"/chats/{marker['id']}", json={"status": "resolved", "broadcastId": bid()})).json()[
        "marker"]["status"] == "resolved"
    seqs = [json.loads(await ws.recv())["seq"] for _ in range(4)]
    assert seqs == [1, 2, 3, 4]  # the refused writes took no seq and broadcast nothing
    await ws.close()


async def test_tokens_missing_wrong_and_revoked(server: Harness) -> None:
    token_id, token = await server.token_with_id("u_eve", "Eve")
    for headers in ({}, {"Authorization": "Bearer ict_wrong"}, {"Authorization": f"Basic {token}"}):
        async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
            response = await http.get("/api/v1/chats", params={"image": IMAGE})
            assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    async with client(server, token) as http:
        assert (await http.get("/me")).status_code == 200
        await admin.revoke_token(server.app.db, token_id)
        assert (await http.get("/me")).status_code == 401


async def test_moderators_may_edit_delete_and_move_what_others_wrote(server: Harness, ana: httpx.AsyncClient) -> None:
    marker = (await create(ana))["marker"]
    async with client(server, await server.token("u_mod", "Mo", "moderator")) as mod:
        edited = await mod.patch(f"/comments/{marker['comments'][0]['id']}", json={"text": "tidied",
                                                                                "broadcastId": bid()})
        assert edited.status_code == 200 and edited.json()["comment"]["editedAt"]
        moved = await mod.patch(f"/chats/{marker['id']}", json={"x": 3, "y": 4, "broadcastId": bid()})
        assert moved.status_code == 200
        assert (await mod.delete(f"/chats/{marker['id']}", params={"broadcastId": bid()})).json() == {"seq": 4}


async def test_deleting_a_comment_with_replies_leaves_a_tombstone(ana: httpx.AsyncClient, bob) -> None:
    marker = (await create(ana))["marker"]
    first = marker["comments"][0]
    reply = (await bob.post(f"/chats/{marker['id']}/comments",
                            json={"text": "reply", "parentId": first["id"], "broadcastId": bid()})).json()["comment"]
    await ana.delete(f"/comments/{first['id']}", params={"broadcastId": bid()})
    thread = (await ana.get("/chats", params={"image": IMAGE})).json()["markers"][0]["comments"]
    assert [(c["id"], c["deleted"], c["text"]) for c in thread] == [(first["id"], True, ""), (reply["id"], False,
                                                                                              "reply")]
    await bob.delete(f"/comments/{reply['id']}", params={"broadcastId": bid()})
    # The last reply gone, the tombstone has nothing left to hold together.
    assert (await ana.get("/chats", params={"image": IMAGE})).json()["markers"][0]["comments"] == []


async def test_other_tenants_see_nothing_and_touch_nothing(server: Harness, ana: httpx.AsyncClient) -> None:
    outsider_token = await server.token("u_ana", "Ana", tenant="globex")  # even with the same user id
    ws = await subscriber(server, outsider_token)
    marker = (await create(ana))["marker"]
    comment_id = marker["comments"][0]["id"]
    async with client(server, outsider_token) as eve:
        assert (await eve.get("/chats", params={"image": IMAGE})).json() == {"image": IMAGE, "seq": 0, "markers": []}
        assert (await eve.get("/events", params={"image": IMAGE, "since": 0})).json()["events"] == []
        for response in [
            await eve.post(f"/chats/{marker['id']}/comments", json={"text": "hi", "broadcastId": bid()}),
            await eve.patch(f"/chats/{marker['id']}", json={"status": "resolved", "broadcastId": bid()}),
            await eve.delete(f"/chats/{marker['id']}", params={"broadcastId": bid()}),
            await eve.patch(f"/comments/{comment_id}", json={"text": "x", "broadcastId": bid()}),
            await eve.delete(f"/comments/{comment_id}", params={"broadcastId": bid()}),
        ]:
            assert response.status_code == 404
        assert (await eve.post("/chats", json={"image": IMAGE, "x": 1, "y": 1, "text": "theirs",
                                               "broadcastId": bid()})).json()["seq"] == 1
    # The outsider's subscriber heard only its own tenant's write.
    assert json.loads(await ws.recv())["marker"]["comments"][0]["text"] == "theirs"
    assert (await ana.get("/chats", params={"image": IMAGE})).json()["markers"] == [marker]
    await ws.close()


async def test_a_retry_with_the_same_broadcast_id_makes_one_marker(ana: httpx.AsyncClient) -> None:
    body = {"image": IMAGE, "x": 25, "y": 40.5, "text": "once", "broadcastId": bid()}
    first, second = await ana.post("/chats", json=body), await ana.post("/chats", json=body)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert len((await ana.get("/chats", params={"image": IMAGE})).json()["markers"]) == 1
    reused = await ana.post("/chats", json=body | {"text": "something else"})
    assert reused.status_code == 409


async def test_a_retry_answers_as_the_first_attempt_did_even_when_it_could_no_longer_succeed(
        ana: httpx.AsyncClient) -> None:
    marker = (await create(ana))["marker"]
    comment = {"text": "later", "broadcastId": bid()}
    added = await ana.post(f"/chats/{marker['id']}/comments", json=comment)
    delete = {"broadcastId": bid()}
    deleted = await ana.delete(f"/chats/{marker['id']}", params=delete)
    assert added.status_code == 201 and deleted.status_code == 200
    # The marker is gone: done anew, both would be 404s; as retries they get their first answers.
    assert (await ana.post(f"/chats/{marker['id']}/comments", json=comment)).json() == added.json()
    assert (await ana.delete(f"/chats/{marker['id']}", params=delete)).json() == deleted.json()
    assert (await ana.delete(f"/chats/{marker['id']}", params={"broadcastId": bid()})).status_code == 404
    # Nothing of the retries was committed: the next write takes the next seq.
    assert (await create(ana))["seq"] == deleted.json()["seq"] + 1


async def test_writes_are_rate_limited_per_user(make_server, sqlite_database) -> None:
    server = await make_server(sqlite_database, write_rate=0.5, write_burst=3)
    async with client(server, await server.token()) as http:
        for _ in range(3):
            await create(http)
        limited = await http.post("/chats", json={"image": IMAGE, "x": 1, "y": 1, "text": "x", "broadcastId": bid()})
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert (await http.get("/chats", params={"image": IMAGE})).status_code == 200  # reads are not limited


async def test_usage_figures_and_metrics(make_server, sqlite_database) -> None:
    server = await make_server(sqlite_database, metrics_token="m-secret")
    async with client(server, await server.token("u_ana", "Ana")) as ana:
        await usage_figures_and_metrics(server, ana)


async def usage_figures_and_metrics(server: Harness, ana: httpx.AsyncClient) -> None:
    watchers = [await subscriber(server, await server.token(f"u_w{i}", "W")) for i in range(2)]
    for _ in range(3):
        await create(ana)
    received = [json.loads(await ws.recv()) for ws in watchers for _ in range(3)]
    sizes = sum(len(json.dumps(f, separators=(",", ":"), ensure_ascii=False).encode()) for f in received)
    async with client(server, await server.token("u_root", "Root", "admin")) as root:
        usage = (await root.get("/usage")).json()
    assert usage["pubSubMessageCount"] == 6
    assert usage["pubSubBandwidth"] == sizes
    assert usage["conversationCreateCount"] == 3
    assert usage["connections"] == 2
    assert (await ana.get("/usage")).status_code == 403
    async with httpx.AsyncClient(base_url=server.url) as http:
        for headers in ({}, ana.headers, {"Authorization": "Bearer m-secre"}):  # a user's token is not enough
            refused = await http.get("/metrics", headers=headers)
            assert refused.status_code == 401 and server.tenants["acme"] not in refused.text
        metrics = (await http.get("/metrics", headers={"Authorization": "Bearer m-secret"})).text
    assert f'imagechat_pubsub_messages_total{{tenant="{server.tenants["acme"]}"}} 6.0' in metrics
    for ws in watchers:
        await ws.close()


async def test_events_since_and_gone(server: Harness, ana: httpx.AsyncClient, monkeypatch) -> None:
    monkeypatch.setattr("imagechat_tui.server.store.KEPT_EVENTS", 3)
    monkeypatch.setattr("imagechat_tui.server.store.TRIM_EVERY", 1)
    for _ in range(5):
        await create(ana)
    page = (await ana.get("/events", params={"image": IMAGE, "since": 3})).json()
    assert page["seq"] == 5 and [e["seq"] for e in page["events"]] == [4, 5]
    gone = await ana.get("/events", params={"image": IMAGE, "since": 1})
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "gone"


async def test_openapi_and_docs_are_served(server: Harness) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        schema = (await http.get("/openapi.json")).json()
        assert {"/api/v1/chats", "/api/v1/events", "/api/v1/usage", "/api/v1/me"} <= set(schema["paths"])
        assert (await http.get("/docs")).status_code == 200
        assert (await http.get("/healthz")).json()["status"] == "ok"


async def test_metrics_are_off_without_a_metrics_token(server: Harness) -> None:
    await server.token()  # a tenant exists
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.get("/metrics")
    assert response.status_code == 404 and server.tenants["acme"] not in response.text
    assert "--metrics-token" in response.json()["error"]["message"]


async def test_the_schema_publishes_the_comment_length_the_server_enforces(server: Harness) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        schemas = (await http.get("/openapi.json")).json()["components"]["schemas"]
    for body in ("CreateChat", "AddComment", "EditComment"):
        assert schemas[body]["properties"]["text"]["maxLength"] == MAX_TEXT_LENGTH == 2000


@pytest.mark.parametrize("body", [
    pytest.param(b"[" * 30_000 + b"]" * 30_000, id="deep-json"),
    pytest.param(b'{"x": ' + b"9" * 5000 + b"}", id="5000-digit-integer"),
    pytest.param(b'{"text": "\xff\xfe"}', id="invalid-utf-8"),
])
async def test_every_body_that_does_not_parse_is_bad_json(ana: httpx.AsyncClient, body: bytes) -> None:
    for request in (ana.post("/chats", content=body, headers={"Content-Type": "application/json"}),
                    ana.patch("/comments/c_x", content=body, headers={"Content-Type": "application/json"})):
        response = await request
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "bad_json"


async def test_nul_characters_are_refused_with_422_on_both_databases(make_server, database_url: str) -> None:
    server = await make_server(database_url)
    async with client(server, await server.token()) as http:
        marker = (await create(http))["marker"]
        comment_id = marker["comments"][0]["id"]
        body = {"image": IMAGE, "x": 1, "y": 2, "text": "fine", "broadcastId": bid()}
        comment = {"text": "fine", "broadcastId": bid()}
        for request in [
            http.post("/chats", json=body | {"text": "a\x00b"}),
            http.post("/chats", json=body | {"image": IMAGE + "\x00"}),
            http.post(f"/chats/{marker['id']}/comments", json=comment | {"text": "\x00"}),
            http.post(f"/chats/{marker['id']}/comments", json=comment | {"parentId": comment_id + "\x00"}),
            http.patch(f"/comments/{comment_id}", json=comment | {"text": "x\x00"}),
            http.post(f"/chats/{marker['id']}%00/comments", json=comment),
            http.patch(f"/chats/%00{marker['id']}", json={"status": "resolved", "broadcastId": bid()}),
            http.delete(f"/chats/{marker['id']}%00", params={"broadcastId": bid()}),
            http.patch(f"/comments/{comment_id}%00", json=comment),
            http.delete(f"/comments/%00{comment_id}", params={"broadcastId": bid()}),
            http.get("/chats", params={"image": IMAGE + "\x00"}),
            http.get("/events", params={"image": IMAGE + "\x00", "since": 0}),
        ]:
            response = await request
            assert response.status_code == 422, (response.request.url, response.text)
            assert response.json()["error"]["code"] == "invalid" and "NUL" in response.json()["error"]["message"]
        # Nothing was half-written, and the same connection still serves.
        assert (await create(http))["seq"] == 2
        assert [m["comments"][0]["text"] for m in (await http.get("/chats", params={"image": IMAGE})).json()[
            "markers"]] == ["Button cut off here"] * 2

"""The live endpoint with a plain WebSocket client: auth, bad frames, replay and snapshot,
frame sizes, batching, slow readers, revocation and shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from types import SimpleNamespace

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from imagechat_tui.server import admin, live
from imagechat_tui.server.live import DirectWriter, fan_out
from imagechat_tui.server.live_core import Frame, LiveCore
from imagechat_tui.server.runner import build_runner
from imagechat_tui.server.store import topic_of
from imagechat_tui.server.usage import TenantUsage

from . import conftest
from .conftest import IMAGE, Harness, bid, stop_server, wait_for


def ws_url(server: Harness) -> str:
    return server.url.replace("http", "ws") + "/api/v1/live"


async def open_ws(server: Harness, token: str | None, **kwargs) -> ClientConnection:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return await connect(ws_url(server), additional_headers=headers, **kwargs)


async def recv(ws: ClientConnection, timeout: float = 2.0) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def subscribe(ws: ClientConnection, since: int | None = None, image: str = IMAGE) -> dict:
    await ws.send(json.dumps({"type": "subscribe", "image": image, "since": since}))
    frame = await recv(ws)
    assert frame["type"] == "subscribed", frame
    return frame


async def closed_with(ws: ClientConnection, timeout: float = 7.0) -> int | None:
    try:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    except ConnectionClosed:
        pass
    return ws.close_code


async def write(http: httpx.AsyncClient, text: str = "hello", marker_id: str | None = None) -> dict:
    if marker_id is None:
        body = {"image": IMAGE, "x": 10, "y": 20, "text": text, "broadcastId": bid()}
        response = await http.post("/chats", json=body)
    else:
        response = await http.post(f"/chats/{marker_id}/comments", json={"text": text, "broadcastId": bid()})
    assert response.status_code == 201, response.text
    return response.json()


def rest(server: Harness, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url + "/api/v1", headers={"Authorization": f"Bearer {token}"})


async def test_authentication_by_header_or_first_frame(server: Harness) -> None:
    token = await server.token()
    by_header = await open_ws(server, token)
    assert (await subscribe(by_header))["recovered"] is False
    by_frame = await open_ws(server, None)
    await by_frame.send(json.dumps({"type": "auth", "token": token}))
    assert (await subscribe(by_frame))["seq"] == 0
    for ws in (by_header, by_frame):
        await ws.close()


@pytest.mark.parametrize("how", ["wrong-header", "wrong-frame", "other-first-frame", "nothing-for-5s"])
async def test_unauthenticated_connections_are_closed_with_4401(server: Harness, how: str) -> None:
    ws = await open_ws(server, "ict_wrong" if how == "wrong-header" else None)
    if how == "wrong-frame":
        await ws.send(json.dumps({"type": "auth", "token": "ict_wrong"}))
    elif how == "other-first-frame":
        await ws.send(json.dumps({"type": "subscribe", "image": IMAGE, "since": None}))
    assert await closed_with(ws) == 4401


async def test_bad_frames_get_error_frames_and_the_connection_stays(server: Harness) -> None:
    ws = await open_ws(server, await server.token())
    for frame, code in [
        ("{nope", "bad_json"),
        (json.dumps({"type": "dance"}), "unknown_type"),
        (json.dumps([1, 2]), "unknown_type"),
        ("null", "unknown_type"),
        (json.dumps({"type": "subscribe", "image": "file:///etc/passwd", "since": None}), "invalid"),
        (json.dumps({"type": "subscribe", "image": IMAGE, "since": "3"}), "invalid"),
        (json.dumps({"type": "subscribe", "image": IMAGE, "since": -1}), "invalid"),
        (json.dumps({"type": "auth", "token": "x"}), "bad_frame"),
    ]:
        await ws.send(frame)
        answer = await recv(ws)
        assert (answer["type"], answer["code"]) == ("error", code), answer
    await ws.send(b"\x00binary")
    assert (await recv(ws))["code"] == "bad_frame"
    assert (await subscribe(ws))["type"] == "subscribed"  # still up
    await ws.close()


HOSTILE_FRAMES = [
    ("[" * 10_000 + "]" * 10_000, "bad_json"),
    ('{"type": "subscribe", "image": ' + '{"a": ' * 5_000 + "1" + "}" * 5_000 + "}", "bad_json"),
    ('{"type": "subscribe", "image": "https://shots.example.com/\\ud800.png", "since": null}', "bad_json"),
    ('{"type": "unsubscribe", "image": "https://shots.example.com/\\udfff"}', "bad_json"),
    (json.dumps({"type": "subscribe", "image": IMAGE + "\x00", "since": None}), "invalid"),
    (json.dumps({"type": "auth", "token": {"type": "auth", "token": "x"}}), "invalid"),
    (json.dumps({"type": {"type": "auth"}, "token": "x"}), "unknown_type"),
    (json.dumps({"token": "x"}), "unknown_type"),
    (json.dumps({"type": "subscribe", "image": ["x"], "since": None}), "invalid"),
    (json.dumps({"type": "subscribe", "image": IMAGE, "since": True}), "invalid"),
    (json.dumps({"type": "subscribe", "image": IMAGE, "since": 1.5}), "invalid"),
    ('{"type": "subscribe", "image": "' + IMAGE + '", "since": ' + "9" * 5000 + "}", "bad_json"),
    (json.dumps({"type": "unsubscribe"}), "invalid"),
    (json.dumps({"type": "unsubscribe", "image": IMAGE, "since": 3}), "invalid"),
    ('"\\ud800"', "bad_json"),
]


async def test_hostile_frames_get_error_frames_never_a_dropped_connection(server: Harness, caplog) -> None:
    ws = await open_ws(server, await server.token())
    for frame, code in HOSTILE_FRAMES:
        await ws.send(frame)
        answer = await recv(ws)
        assert (answer["type"], answer["code"]) == ("error", code), (frame[:80], answer)
        assert answer["message"]
    assert (await subscribe(ws))["type"] == "subscribed"  # still up
    await ws.close()
    assert "Traceback" not in caplog.text and "Exception in ASGI application" not in caplog.text


@pytest.mark.parametrize("frame", [frame for frame, _ in HOSTILE_FRAMES[:8]], ids=lambda frame: frame[:24])
async def test_a_hostile_first_frame_is_an_authentication_failure(server: Harness, caplog, frame: str) -> None:
    ws = await open_ws(server, None)
    await ws.send(frame)
    assert await closed_with(ws) == 4401
    assert "Exception in ASGI application" not in caplog.text


async def test_a_frame_over_64_kib_closes_with_1009_and_the_server_keeps_serving(server: Harness) -> None:
    token = await server.token()
    ws = await open_ws(server, token)
    await ws.send(json.dumps({"type": "subscribe", "image": IMAGE, "since": None, "pad": "x" * 100 * 1024}))
    assert await closed_with(ws) == 1009
    again = await open_ws(server, token)
    assert (await subscribe(again))["type"] == "subscribed"
    await again.close()


async def test_a_flood_of_frames_closes_with_1008(server: Harness) -> None:
    ws = await open_ws(server, await server.token())
    for _ in range(400):
        try:
            await ws.send(json.dumps({"type": "unsubscribe", "image": IMAGE}))
        except ConnectionClosed:
            break
    assert await closed_with(ws) == 1008


async def test_the_new_marker_frame_is_under_1_kb(server: Harness) -> None:
    token = await server.token("u_ana", "Ana Lima")
    ws = await open_ws(server, token)
    await subscribe(ws)
    async with rest(server, token) as http:
        await write(http, "This button is cut off at the right edge on narrow windows; please check the CSS." [:80])
    raw = await asyncio.wait_for(ws.recv(), 2)
    size = len(raw.encode())
    print(f"\nnew-image-chat frame with an 80-character comment: {size} bytes")
    assert json.loads(raw)["type"] == "new-image-chat"
    assert size < 1024
    await ws.close()


async def test_unsubscribe_and_subscribe_back_to_back_keeps_live_updates(server: Harness) -> None:
    """The hub once unsubscribed pub/sub after the resubscribe, silencing the image for good."""
    token = await server.token()
    ws = await open_ws(server, token)
    await subscribe(ws)
    await ws.send(json.dumps({"type": "unsubscribe", "image": IMAGE}))
    await subscribe(ws)
    async with rest(server, token) as http:
        marker = await write(http, "still live")
    frame = await recv(ws)
    assert (frame["type"], frame["marker"]["id"]) == ("new-image-chat", marker["marker"]["id"]), frame
    await ws.close()


async def test_reconnect_with_since_replays_exactly_the_missed_events(server: Harness) -> None:
    token = await server.token()
    async with rest(server, token) as http:
        marker = (await write(http))["marker"]
        ws = await open_ws(server, token)
        last = (await subscribe(ws))["seq"]
        await ws.close()
        missed = [(await write(http, f"missed {i}", marker["id"]))["seq"] for i in range(5)]
    ws = await open_ws(server, token)
    frame = await subscribe(ws, since=last)
    assert frame["recovered"] is True and frame["seq"] == 6
    assert [e["seq"] for e in frame["events"]] == missed == [2, 3, 4, 5, 6]
    assert [e["comment"]["text"] for e in frame["events"]] == [f"missed {i}" for i in range(5)]
    await ws.close()


async def test_since_older_than_the_kept_history_gets_a_snapshot(server: Harness, monkeypatch) -> None:
    monkeypatch.setattr("imagechat_tui.server.store.KEPT_EVENTS", 3)
    monkeypatch.setattr("imagechat_tui.server.store.TRIM_EVERY", 1)
    token = await server.token()
    async with rest(server, token) as http:
        for i in range(6):
            await write(http, f"m{i}")
    ws = await open_ws(server, token)
    frame = await subscribe(ws, since=1)
    assert frame["recovered"] is False and frame["seq"] == 6 and len(frame["markers"]) == 6
    assert (await subscribe(ws, since=4))["recovered"] is True  # still kept: replayed
    assert (await subscribe(ws, since=99))["recovered"] is False  # ahead of the server: snapshot
    await ws.close()


async def test_other_tenants_cannot_subscribe_to_or_receive_this_tenants_events(server: Harness) -> None:
    ours = await server.token()
    async with rest(server, ours) as http:
        await write(http, "secret")
        theirs = await open_ws(server, await server.token("u_eve", "Eve", tenant="globex"))
        snapshot = await subscribe(theirs)
        assert snapshot["markers"] == [] and snapshot["seq"] == 0
        replay = await subscribe(theirs, since=0)
        assert replay["events"] == []
        await write(http, "another secret")
        with pytest.raises(TimeoutError):
            await recv(theirs, timeout=0.3)
    await theirs.close()


def small_buffer_socket(server: Harness) -> socket.socket:
    """A client socket with a tiny receive buffer, so a client that stops reading backs up fast."""
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.setblocking(False)
    return sock


@pytest.mark.parametrize("direct", [True, False], ids=["direct-writes", "asgi-send-only"])
async def test_a_slow_reader_gets_batches_and_never_holds_up_the_others(server: Harness, direct: bool,
                                                                       monkeypatch) -> None:
    if not direct:  # as under an ASGI server other than uvicorn's websockets-sansio
        monkeypatch.setattr(DirectWriter, "of", classmethod(lambda cls, send, core: None))
    token = await server.token()
    fast = await open_ws(server, token)
    await subscribe(fast)
    slow = await open_ws(server, token, sock=small_buffer_socket(server), max_queue=1)
    await subscribe(slow)
    topic = topic_of(server.tenants["acme"], IMAGE)
    padding = "p" * 16000  # 6.4 MB in all: more than the kernel buffers hold
    events = [json.dumps({"type": "image-chat-updated", "image": IMAGE, "seq": seq, "broadcastId": bid(),
                          "markerId": "m_x", "change": "status", "pad": padding}) for seq in range(1, 401)]
    for seq, event in enumerate(events, 1):
        server.app.hub.on_message(topic, seq, event)
    fast_seqs = []
    while len(fast_seqs) < 400:
        frame = await recv(fast)
        fast_seqs += [e["seq"] for e in frame["events"]] if frame["type"] == "batch" else [frame["seq"]]
    assert fast_seqs == list(range(1, 401))

    slow_seqs, batches = [], 0
    while len(slow_seqs) < 400:
        frame = await recv(slow)
        if frame["type"] == "batch":
            batches += 1
            assert 1 < len(frame["events"]) <= 64
            slow_seqs += [e["seq"] for e in frame["events"]]
        else:
            slow_seqs.append(frame["seq"])
    assert slow_seqs == list(range(1, 401)) and batches > 0
    for ws in (fast, slow):
        await ws.close()


async def test_a_reader_that_stops_is_dropped_past_the_backlog(server: Harness) -> None:
    token = await server.token()
    slow = await open_ws(server, token, sock=small_buffer_socket(server), max_queue=1)
    await subscribe(slow)
    fast = await open_ws(server, token)
    await subscribe(fast)
    topic = topic_of(server.tenants["acme"], IMAGE)
    received = 0

    async def read_fast() -> None:
        nonlocal received
        async for raw in fast:
            frame = json.loads(raw)
            received += len(frame["events"]) if frame["type"] == "batch" else 1

    reader = asyncio.create_task(read_fast())
    event = json.dumps({"type": "x", "seq": 0, "pad": "p" * 8000})
    published = 0
    while len(server.app.hub.topics[topic]) == 2 and published < 5000:
        for _ in range(50):
            published += 1
            server.app.hub.on_message(topic, published, event)
        await wait_for(lambda: received == published, 5, "the fast reader to keep up")
    assert len(server.app.hub.topics[topic]) == 1, "the slow reader was never dropped"
    assert await closed_with(slow, timeout=10) in (1013, 1006)
    print(f"\nslow reader dropped after {published} events of 8 KB; the fast one got all {received}")
    reader.cancel()
    await fast.close()


async def test_a_revoked_token_closes_its_open_websockets(server: Harness) -> None:
    token_id, token = await server.token_with_id("u_eve", "Eve")
    ws = await open_ws(server, token)
    await subscribe(ws)
    await admin.revoke_token(server.app.db, token_id)
    assert await closed_with(ws, timeout=3) == 4401


async def test_shutdown_closes_connections_with_1001(make_server, sqlite_database) -> None:
    server = await make_server(sqlite_database)
    ws = await open_ws(server, await server.token())
    await subscribe(ws)
    await stop_server(make_server, server)
    assert await closed_with(ws, timeout=5) == 1001


async def test_frames_are_written_straight_to_uvicorn_s_transport_under_the_server_as_we_run_it(
        server: Harness, monkeypatch, caplog) -> None:
    """`DirectWriter` relies on uvicorn's websockets-sansio internals: if they change, this fails."""
    direct: list[bool] = []
    write_now = DirectWriter.write

    def spy(self: DirectWriter, frame) -> bool:
        direct.append(written := write_now(self, frame))
        return written

    monkeypatch.setattr(DirectWriter, "write", spy)
    token = await server.token()
    ws = await open_ws(server, token)
    await subscribe(ws)
    (conn,) = server.app.hub.connections
    assert conn.direct is not None and direct == [True]  # the subscribed frame
    asgi_sends: list[dict] = []
    send = conn.send

    async def asgi_send(message: dict) -> None:
        asgi_sends.append(message)
        await send(message)

    conn.send = asgi_send
    # Events go out by one os.write to the socket, which the hub's fan-out found in the transport.
    fd_writes: list[int] = []

    def write_fd(fd: int, data: bytes) -> int:
        fd_writes.append(fd)
        return os.write(fd, data)

    monkeypatch.setattr(live, "os", SimpleNamespace(write=write_fd, name=os.name))
    usage = server.app.hub.meter.tenant(conn.principal.tenant_id)
    messages, bandwidth = usage.messages, usage.bandwidth
    async with rest(server, token) as http:
        marker = await write(http, "straight to the socket")
    assert (await recv(ws))["marker"]["id"] == marker["marker"]["id"]
    assert conn.direct.fd >= 0 and fd_writes == [conn.direct.fd]
    assert direct == [True] and asgi_sends == []
    assert usage.messages == messages + 1 and usage.bandwidth > bandwidth  # counted as any delivery
    assert "go through the ASGI send" not in caplog.text
    await ws.close()
    await wait_for(lambda: conn not in server.app.hub.connections, 5, "the connection to end")
    assert conn.core.straight == -1 and conn.direct.proto.watcher is None


async def test_asyncio_closes_a_socket_only_after_telling_its_protocol() -> None:
    """The hub's fan-out writes to a socket's file descriptor while the protocol has not been told
    the connection is lost: asyncio's selector transport (the only one DirectWriter gives a line
    to) must not close the socket, and free its number for reuse, before that."""
    loop = asyncio.get_running_loop()
    for how in ("close", "abort", "peer reset", "peer closed"):
        seen: list[tuple[int, int]] = []

        class Watching(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport
                self.fd = transport.get_extra_info("socket").fileno()

            def connection_lost(self, exc: Exception | None) -> None:
                seen.append((self.fd, self.transport.get_extra_info("socket").fileno()))

        protocols: list[Watching] = []
        server = await loop.create_server(lambda: protocols.append(Watching()) or protocols[-1], "127.0.0.1", 0)
        client = socket.create_connection(server.sockets[0].getsockname()[:2])
        await wait_for(lambda: protocols, 5, "the connection")
        (proto,) = protocols
        assert type(proto.transport).__module__ == "asyncio.selector_events"
        if how == "close":
            proto.transport.close()
        elif how == "abort":
            proto.transport.abort()
        elif how == "peer reset":
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        client.close()
        await wait_for(lambda: seen, 5, f"connection_lost after {how}")
        fd, still = seen[0]
        assert still == fd, f"after {how} the socket was closed before the protocol was told"
        server.close()
        await server.wait_closed()


def test_every_entry_point_of_uvicorn_s_protocol_that_writes_or_closes_is_watched() -> None:
    """`LiveWebSocketProtocol` tells the endpoint after each entry point of uvicorn's protocol that
    can queue data in the transport, close it, or pause it: if uvicorn adds another, this fails."""
    import ast
    import inspect

    from uvicorn.protocols.websockets import websockets_sansio_impl

    from imagechat_tui.server.ws_protocol import LiveWebSocketProtocol

    base = websockets_sansio_impl.WebSocketsSansIOProtocol
    watched = {name for name in vars(LiveWebSocketProtocol) if not name.startswith("_")} - {"watcher"}
    # Reached only from a watched entry point (data_received), before the accept, or once the
    # app (the endpoint, which releases its line first) has returned.
    within = {"handle_connect", "handle_ping", "handle_close", "handle_parser_exception", "handle_events",
              "send_500_response", "run_asgi", "schedule_ping"}
    source = inspect.getsource(base)
    changes = ("transport.write", "transport.close", "transport.abort", "close_sent = True", "writable.clear",
               "disconnected = True", "call_later")
    for node in ast.parse(source).body[0].body:  # type: ignore[attr-defined]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            body = ast.get_source_segment(source, node) or ""
            if any(change in body for change in changes):
                assert node.name in watched | within, f"uvicorn's {node.name} changes the connection, unwatched"
    assert watched <= set(vars(base)), "a watched method is gone from uvicorn's protocol"


def test_fan_out_writes_straight_leaves_a_short_write_s_rest_to_the_transport_and_counts_once() -> None:
    """A socket that takes part of a frame gets the rest through the transport (in order, before
    anything later); one that takes none, and one with no line, go through `deliver`."""

    class Subscriber:
        def __init__(self, line: int, usage: TenantUsage) -> None:
            self.core = LiveCore(0.0)
            self.core.set_line(line)
            self.rest: list[bytes] = []
            self.direct = SimpleNamespace(write_rest=self.rest.append)
            self.usage = usage
            self.delivered: list[int] = []

        def deliver(self, topic: str, seq: int, frame: Frame) -> None:
            self.delivered.append(seq)

    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    usage = TenantUsage()
    full, closed = Subscriber(ours.fileno(), usage), Subscriber(-1, usage)
    frame = Frame("x" * 2_000_000)  # more than any socket buffer holds
    fan_out((full, closed), "t", 1, frame)
    assert full.rest and closed.delivered == [1] and not full.delivered
    assert usage.messages == 1 and usage.bandwidth == len(frame.payload)  # `deliver` counts its own
    fan_out((full,), "t", 2, Frame("y" * 10))  # ours is full: no byte taken, so `deliver`
    assert full.delivered == [2] and len(full.rest) == 1 and usage.messages == 1
    theirs.setblocking(False)
    received = b""
    while True:
        try:
            received += theirs.recv(1 << 20)
        except BlockingIOError:
            break
    assert received + full.rest[0] == frame.wire
    ours.close()
    theirs.close()


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore:The `websockets` implementation is deprecated")
@pytest.mark.parametrize("how", ["uvicorn-websockets-legacy", "asgi-middleware"])
async def test_without_uvicorn_s_sansio_protocol_frames_go_through_asgi_send_said_once(
        make_server, sqlite_database, monkeypatch, caplog, how: str) -> None:
    """As under another ASGI server or WebSocket implementation, behind a middleware that wraps
    `send`, or with a uvicorn whose protocol object changed."""
    real = build_runner

    def with_other_protocol(*args, **kwargs):
        runner = real(*args, **kwargs)
        runner.config.ws = "websockets"  # uvicorn's older implementation
        return runner

    if how == "uvicorn-websockets-legacy":
        monkeypatch.setattr(conftest, "build_runner", with_other_protocol)
    server = await make_server(sqlite_database)
    if how == "asgi-middleware":
        endpoint = server.app.live

        async def wrapped(scope, receive, send):
            async def wrapped_send(message):
                await send(message)

            await endpoint(scope, receive, wrapped_send)

        monkeypatch.setattr(server.app, "live", wrapped)
    token = await server.token()
    sockets = [await open_ws(server, token) for _ in range(2)]
    for ws in sockets:
        await subscribe(ws)
    assert all(conn.direct is None for conn in server.app.hub.connections)
    async with rest(server, token) as http:
        marker = await write(http, "through ASGI")
    for ws in sockets:
        assert (await recv(ws))["marker"]["id"] == marker["marker"]["id"]
    fallbacks = [r.getMessage() for r in caplog.records if "go through the ASGI send" in r.getMessage()]
    assert len(fallbacks) == 1, fallbacks
    assert ("websockets_impl.WebSocketProtocol" if how == "uvicorn-websockets-legacy" else "wrapped_send") \
        in fallbacks[0]
    for ws in sockets:
        await ws.close()


def test_direct_writes_are_refused_for_a_protocol_object_that_is_not_the_one_they_know() -> None:
    class Changed:  # uvicorn's protocol object without the attributes DirectWriter reads
        async def send(self, message: dict) -> None: ...

    class Compressing(Changed):  # the right attributes, but an extension rewrites frames
        writable = conn = transport = close_sent = disconnected = request = response = None

    Compressing.conn = type("Conn", (), {"extensions": ["permessage-deflate"]})()
    for send in (Changed().send, Compressing().send, lambda message: None):
        assert DirectWriter.of(send, LiveCore(0.0)) is None

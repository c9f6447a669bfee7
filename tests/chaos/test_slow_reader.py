"""A client that never reads, among hundreds that do: the server (a process of its own) keeps the
others' delivery prompt and its own memory bounded."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
from pathlib import Path

import psutil
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from imagechat_tui.client.rest import RestClient
from imagechat_tui.protocol.models import AddComment, CreateChat
from imagechat_tui.server.config import sqlite_url
from imagechat_tui.server.database import Database
from imagechat_tui.server.schema import prepare

from ..conftest import IMAGE, bid, wait_for
from .processes import ServerProcess

READERS = 200
WRITES = 100
WRITE_GAP = 1 / 25
TEXT = "x" * 1900  # big events fill the non-reader's socket quickly


SEQ = re.compile(rb'"seq":(\d+)')
SUBSCRIBE = json.dumps({"type": "subscribe", "image": IMAGE, "since": None})


class Reader(asyncio.Protocol):
    """A live client that reads everything at once and notes when each event arrived. Sans-I/O
    websockets on a bare asyncio protocol: hundreds of them must not be what the test measures."""

    def __init__(self, url: str, token: str, arrived: dict[int, list[float]]) -> None:
        self.ws = ClientProtocol(parse_uri(url.replace("http", "ws") + "/api/v1/live"))
        self.request = self.ws.connect()
        self.request.headers["Authorization"] = f"Bearer {token}"
        self.arrived = arrived
        self.subscribed = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.ws.send_request(self.request)
        self._flush()

    def data_received(self, data: bytes) -> None:
        now = asyncio.get_running_loop().time()
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Response):
                self.ws.send_text(SUBSCRIBE.encode())
            elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                text = bytes(event.data)
                if text.startswith(b'{"type":"subscribed"'):
                    self.subscribed = True
                else:
                    for seq in SEQ.findall(text):  # an event, or a batch of them
                        self.arrived.setdefault(int(seq), []).append(now)
        self._flush()

    def _flush(self) -> None:
        assert self.transport is not None
        for chunk in self.ws.data_to_send():
            if chunk:
                self.transport.write(chunk)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def never_reading(port: int, token: str) -> socket.socket:
    """A live connection that subscribes to IMAGE and then reads nothing, ever."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /api/v1/live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                  f"Authorization: Bearer {token}\r\n\r\n").encode())
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    assert response.startswith(b"HTTP/1.1 101"), response
    sock.sendall(Frame(Opcode.TEXT, SUBSCRIBE.encode()).serialize(mask=True, extensions=[]))
    return sock


async def test_a_client_that_never_reads_does_not_slow_the_others(tmp_path: Path, figures) -> None:
    db = Database(sqlite_url(tmp_path))
    await db.run(prepare)
    server = ServerProcess(db, sqlite_url(tmp_path))
    readers: list[Reader] = []
    received: dict[int, list[float]] = {}
    loop = asyncio.get_running_loop()

    try:
        await server.start()
        token = await server.token("u_reader", "Reader")
        stuck = never_reading(server.port, token)
        for _ in range(READERS):
            _, reader = await loop.create_connection(lambda: Reader(server.url, token, received),
                                                     "127.0.0.1", server.port)
            readers.append(reader)
        await wait_for(lambda: all(r.subscribed for r in readers), 10.0, "every reader subscribed")
        process = psutil.Process(server.process.pid)  # type: ignore[union-attr]
        rss_before = process.memory_info().rss
        sent: dict[int, float] = {}
        writer = RestClient(server.url, await server.token("u_writer", "Writer"))
        try:
            created = await writer.create_chat(CreateChat(image=IMAGE, x=1, y=1, text="m", broadcast_id=bid()))
            for _ in range(WRITES):
                started = loop.time()
                result = await writer.add_comment(created.marker.id, AddComment(text=TEXT, broadcast_id=bid()))
                sent[result.seq] = started
                await asyncio.sleep(max(0.0, started + WRITE_GAP - loop.time()))
            last = max(sent)
            await wait_for(lambda: len(received.get(last, ())) == READERS, 10.0, "every reader at the last event")
            present = len((await writer.chats(IMAGE)).markers[0].comments)
        finally:
            await writer.aclose()
        rss_growth = process.memory_info().rss - rss_before
        delays = sorted(t - sent[seq] for seq, times in received.items() if seq in sent for t in times)
        p99 = delays[int(len(delays) * 0.99)]
        assert len(delays) == READERS * WRITES
        # The goal is p99 under 50 ms (met here when the machine is quiet: see the figures); timing
        # goals are not asserted (bench/ measures them), only that nobody waits on the stuck client,
        # which would cost each event seconds.
        assert p99 < 0.25
        assert rss_growth < 64 * 2**20
        figures(1, WRITES + 1, present, 0.0, f"others' p99 {p99 * 1000:.0f} ms, server memory "
                f"{rss_growth / 2**20:+.1f} MiB")
        stuck.close()
    finally:
        for reader in readers:
            reader.close()
        server.stop()
        await db.dispose()

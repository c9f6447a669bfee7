"""Presence benchmark: what 1,000 viewers of one image cost each, per second, when nobody comes,
goes or types (issue 9's budget: under 1 KB/s per viewer).

Two server processes' worth of servers (each its own hub and presence board, in this process) on
one SQLite database and Redis pub/sub, half the viewers on each: so the accounts that the servers
publish to each other are measured too. Every viewer is a distinct user with a real WebSocket that
takes up presence, subscribes and sends its heartbeats, as the viewer does. Counted, after the
joins have settled, for a quiet window:

- down: the presence frames the server sends each viewer (WebSocket header included);
- up: each viewer's heartbeats (header and mask included);
- pub/sub: the presence accounts published to Redis, shared out over the viewers.

WebSocket pings (uvicorn's, every 20 s) are the transport's keep-alive, there with or without
presence, and are not counted. Also printed: what the joins cost (each viewer hears of every
other once), and one viewer starting to write (one frame to each of the others).

    python bench/presence.py                     # 1,000 viewers, a 15 s quiet window
    python bench/presence.py --viewers 200 --quiet 6
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

from imagechat_tui.protocol.limits import PRESENCE_HEARTBEAT
from imagechat_tui.server import admin
from imagechat_tui.server.app import ImageChatServer
from imagechat_tui.server.config import ServerConfig
from imagechat_tui.server.redis_pubsub import RedisPubSub
from imagechat_tui.server.runner import build_runner

IMAGE = "sha256:" + hashlib.sha256(b"presence bench").hexdigest()
HEARTBEAT = json.dumps({"type": "heartbeat"})


def frame_bytes(payload: int, masked: bool) -> int:
    """A text frame's size on the wire: header, extended length, mask key."""
    head = 2 if payload < 126 else 4 if payload < 65536 else 10
    return head + payload + (4 if masked else 0)


class CountingPubSub(RedisPubSub):
    """Redis pub/sub that counts what presence publishes (seq 0)."""

    published = 0

    async def publish(self, topic: str, seq: int, event: str) -> None:
        if not seq:
            CountingPubSub.published += len(f"{seq}\n{event}".encode()) + len(topic)
        await super().publish(topic, seq, event)


class Viewer:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.down = 0
        self.up = 0
        self.people: set[str] = set()
        self.reader = asyncio.get_running_loop().create_task(self._read())
        self.beat = asyncio.get_running_loop().create_task(self._heartbeats())

    async def _read(self) -> None:
        async for text in self.ws:
            assert isinstance(text, str)
            frame = json.loads(text)
            if frame["type"] in ("presence", "presence-changed"):
                self.down += frame_bytes(len(text.encode()), masked=False)
                if frame["type"] == "presence":
                    self.people = {user["id"] for user in frame["users"]}
                else:
                    self.people.difference_update(frame["left"])
                    self.people.update(user["id"] for user in frame["users"])

    async def _heartbeats(self) -> None:
        await asyncio.sleep(PRESENCE_HEARTBEAT * (hash(self) % 1000) / 1000)  # spread out, as real viewers are
        while True:
            await self.ws.send(HEARTBEAT)
            self.up += frame_bytes(len(HEARTBEAT), masked=True)
            await asyncio.sleep(PRESENCE_HEARTBEAT)


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.1)


async def main(viewers: int, quiet: float, redis_url: str) -> None:
    data = Path(tempfile.mkdtemp(prefix="imagechat-presence-bench-"))
    prefix = f"imagechat-bench-{uuid.uuid4().hex[:8]}:"
    config = ServerConfig(database_url=f"sqlite:///{data / 'bench.db'}", write_rate=1e9, write_burst=1e9)
    servers, runners = [], []
    for _ in range(2):
        app = ImageChatServer(config, CountingPubSub(redis_url, prefix=prefix))
        runner = build_runner(app, host="127.0.0.1", port=0, announce=False)
        runners.append((runner, asyncio.create_task(runner.serve())))
        servers.append(app)
        await wait_until(lambda r=runner: r.started, 20, "a server to start")
    await admin.create_tenant(servers[0].db, "bench")
    tokens = [(await admin.create_token(servers[0].db, "bench", f"u_{i}", f"Viewer {i}", "member"))[1]
              for i in range(viewers)]

    started = time.monotonic()
    crowd: list[Viewer] = []
    for i, token in enumerate(tokens):
        url = runners[i % 2][0].url.replace("http", "ws") + "/api/v1/live"
        ws = await connect(url, additional_headers={"Authorization": f"Bearer {token}"}, ping_interval=None,
                           compression=None, max_size=None, open_timeout=120)
        await ws.send(json.dumps({"type": "use-presence", "visible": True}))
        await ws.send(json.dumps({"type": "subscribe", "image": IMAGE, "since": None}))
        crowd.append(Viewer(ws))
    await wait_until(lambda: all(len(v.people) == viewers for v in crowd), 300, "every viewer to list every other")
    joined = time.monotonic() - started
    join_down = sum(v.down for v in crowd) / viewers
    await asyncio.sleep(1.0)  # the last accounts published

    for v in crowd:
        v.down = v.up = 0
    CountingPubSub.published = 0
    await asyncio.sleep(quiet)
    down = sum(v.down for v in crowd) / viewers / quiet
    up = sum(v.up for v in crowd) / viewers / quiet
    pubsub = CountingPubSub.published / viewers / quiet

    for v in crowd:
        v.down = 0
    await crowd[0].ws.send(json.dumps({"type": "writing", "image": IMAGE, "markerId": "m_1"}))
    await asyncio.sleep(1.0)
    writing = sum(v.down for v in crowd[1:]) / (viewers - 1)

    print(f"presence, {viewers} viewers of one image on 2 server processes over Redis pub/sub")
    print(f"  joining: all listed after {joined:.1f} s; {join_down / 1024:.1f} KB of presence frames per viewer, once")
    print(f"  quiet, per viewer: {down:.1f} B/s down + {up:.1f} B/s up (heartbeats) + {pubsub:.1f} B/s of pub/sub"
          f" = {down + up + pubsub:.1f} B/s (budget 1024 B/s)")
    print(f"  one viewer starts writing: {writing:.0f} B to each other viewer")

    for v in crowd:
        v.beat.cancel()
        await v.ws.close()
    for runner, task in runners:
        runner.should_exit = True
        await task


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--quiet", type=float, default=15.0, help="seconds of the quiet window")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0",
                        help="a Redis to publish through (a channel prefix of the run's own is used)")
    args = parser.parse_args()
    asyncio.run(main(args.viewers, args.quiet, args.redis_url))

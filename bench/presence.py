"""Presence benchmark: how fast 1,000 viewers of one image all list each other when they join
together, what each costs per second when nobody comes, goes or types (issue 9's budget: under
1 KB/s per viewer), and how soon a single late joiner is seen (issue 9: within 2 s).

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

Joining: the viewers connect AT_ONCE at a time (as after a server restart), and the time until
every one lists every other is taken from the first connection, and from the last `subscribe`;
with the CPU time this process spent meanwhile, which the machine's load does not change.
A late joiner: one more viewer, on each server in turn, subscribes and later closes, LATE times;
join-to-seen is from its `subscribe` until each other viewer lists it (and leave-to-gone from its
close until each has dropped it), as p50 and p99 over every (joiner, viewer) pair. The clients run
in this process with the servers: their frames' parsing is counted in the times too.

First, the presence rules alone (`PresenceBoard`, no sockets): what the same joins cost them, with
a tick every AT_ONCE joins, and one tick when nobody comes or goes.

    python bench/presence.py                     # 1,000 viewers, a 15 s quiet window
    python bench/presence.py --viewers 200 --quiet 6 --late 5
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
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
from imagechat_tui.server.presence_core import PresenceBoard
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
        self.watched: str | None = None
        """The late joiner's id: when it came and went in `people` is noted."""
        self.came = self.went = 0.0
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
                if self.watched is not None:
                    if self.watched in self.people and not self.came:
                        self.came = time.monotonic()
                    elif self.watched not in self.people and self.came and not self.went:
                        self.went = time.monotonic()

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


async def join(url: str, token: str) -> Viewer:
    """A viewer that took up presence and subscribed to the image."""
    ws = await connect(url, additional_headers={"Authorization": f"Bearer {token}"}, ping_interval=None,
                       compression=None, max_size=None, open_timeout=120)
    await ws.send(json.dumps({"type": "use-presence", "visible": True}))
    await ws.send(json.dumps({"type": "subscribe", "image": IMAGE, "since": None}))
    return Viewer(ws)


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def late_joiner(url: str, token: str, user_id: str, crowd: list[Viewer]) -> tuple[list[float], list[float]]:
    """One more viewer comes, and later goes: how long after each the crowd saw it."""
    for v in crowd:
        v.watched, v.came, v.went = user_id, 0.0, 0.0
    started = time.monotonic()
    late = await join(url, token)
    await wait_until(lambda: all(v.came for v in crowd), 30, "the crowd to see a late joiner")
    seen = [v.came - started for v in crowd]
    await asyncio.sleep(0.5)
    late.beat.cancel()
    closed = time.monotonic()
    await late.ws.close()
    await wait_until(lambda: all(v.went for v in crowd), 30, "the crowd to see a late joiner go")
    return seen, [v.went - closed for v in crowd]


def board_alone(viewers: int, at_once: int) -> None:
    board = PresenceBoard("bench")
    started = time.process_time()
    for i in range(viewers):
        board.use(i, f"u_{i}", f"Viewer {i}", True, 0.0)
        board.view(i, "bench/image", IMAGE, 0.0)
        if i % at_once == at_once - 1:
            board.tick(0.0)
    board.tick(0.0)
    joins = time.process_time() - started
    started = time.process_time()
    for _ in range(100):
        board.tick(0.1)
    print(f"presence rules alone, {viewers} viewers joining {at_once} at a time: {joins * 1000:.0f} ms of CPU;"
          f" a quiet tick (every 0.5 s) {(time.process_time() - started) * 10:.2f} ms")


async def main(viewers: int, quiet: float, redis_url: str, at_once: int, late: int) -> None:
    board_alone(viewers, at_once)
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
              for i in range(viewers + 1)]  # the last one for the late joiners
    urls = [runner.url.replace("http", "ws") + "/api/v1/live" for runner, _ in runners]

    started, cpu = time.monotonic(), time.process_time()
    crowd: list[Viewer] = []
    for first in range(0, viewers, at_once):
        batch = range(first, min(first + at_once, viewers))
        crowd += await asyncio.gather(*(join(urls[i % 2], tokens[i]) for i in batch))
    subscribed = time.monotonic()
    await wait_until(lambda: all(len(v.people) == viewers for v in crowd), 300, "every viewer to list every other")
    joined, join_cpu = time.monotonic() - started, time.process_time() - cpu
    after_last = time.monotonic() - subscribed
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
    await crowd[0].ws.send(json.dumps({"type": "stopped-writing", "image": IMAGE}))

    seen: list[float] = []
    gone: list[float] = []
    for trial in range(late):
        came, went = await late_joiner(urls[trial % 2], tokens[viewers], f"u_{viewers}", crowd)
        seen += came
        gone += went

    print(f"presence, {viewers} viewers of one image on 2 server processes over Redis pub/sub"
          f" (load average {os.getloadavg()[0]:.2f})")
    print(f"  joining, {at_once} at a time: all list all {joined:.1f} s after the first connected,"
          f" {after_last:.1f} s after the last subscribed ({join_cpu:.1f} s of CPU, servers and clients);"
          f" {join_down / 1024:.1f} KB of presence frames per viewer, once")
    print(f"  quiet, per viewer: {down:.1f} B/s down + {up:.1f} B/s up (heartbeats) + {pubsub:.1f} B/s of pub/sub"
          f" = {down + up + pubsub:.1f} B/s (budget 1024 B/s)")
    print(f"  one viewer starts writing: {writing:.0f} B to each other viewer")
    if late:
        print(f"  a late joiner ({late} in turn, on either server): seen by the others after"
              f" p50 {percentile(seen, 50):.2f} s, p99 {percentile(seen, 99):.2f} s;"
              f" gone after p50 {percentile(gone, 50):.2f} s, p99 {percentile(gone, 99):.2f} s")

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
    parser.add_argument("--at-once", type=int, default=50, help="viewers connecting together")
    parser.add_argument("--late", type=int, default=10, help="late joiners, one after another")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0",
                        help="a Redis to publish through (a channel prefix of the run's own is used)")
    args = parser.parse_args()
    asyncio.run(main(args.viewers, args.quiet, args.redis_url, args.at_once, args.late))

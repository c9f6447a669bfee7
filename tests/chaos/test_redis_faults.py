"""Redis faults under a write stream: two server processes on one SQLite database, over a Redis of
the test's own, two sync engines on each; every test ends with every subscriber exactly at a fresh
snapshot and every acknowledged write present once."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest
import redis.asyncio as redis
from websockets.asyncio.client import ClientConnection, connect

from imagechat_tui.server.store import is_user_topic, topic_of

from ..cluster import Cluster, start_cluster
from ..conftest import IMAGE, wait_for

WRITES = 40
OTHER = "https://shots.example.com/other.png"


@pytest.fixture
async def cluster(make_server, sqlite_database, own_redis, engines):
    made = await start_cluster(make_server, sqlite_database, own_redis)
    await made.subscribe(engines, per_server=2)
    yield made
    await made.close()


def channel(cluster: Cluster, image: str) -> str:
    return cluster.prefix + topic_of(next(iter(cluster.servers[0].tenants.values())), image)


async def test_redis_killed_mid_stream(cluster: Cluster, figures) -> None:
    for i in range(WRITES):
        if i == 15:
            cluster.redis.kill()
        if i == 25:
            cluster.redis.start()
        await cluster.write(f"write {i}")
    result = await cluster.converge()
    figures(1, result.acked, result.present, result.seconds)


async def test_redis_killed_at_the_end_of_a_stream(cluster: Cluster, figures) -> None:
    """Nothing is written after Redis returns: no later event shows the subscribers their gap."""
    for i in range(WRITES):
        if i == WRITES - 10:
            cluster.redis.kill()
        await cluster.write(f"write {i}")
    cluster.redis.start()
    result = await cluster.converge()
    figures(1, result.acked, result.present, result.seconds)


async def test_malformed_messages_mid_stream(cluster: Cluster, figures) -> None:
    garbage = [b"\xff\xfe", b"no newline", b"x\n{}", b"12\nnot an event"]
    client = redis.from_url(cluster.redis.url)
    try:
        for i in range(WRITES):
            if i % 10 == 5:
                await client.publish(channel(cluster, IMAGE), garbage[i // 10])
            await cluster.write(f"write {i}")
    finally:
        await client.aclose()
    result = await cluster.converge()
    for server in cluster.servers:
        assert server.app.hub.pubsub.counts.malformed == len(garbage)
    figures(len(garbage), result.acked, result.present, result.seconds)


class Storming:
    """A raw live connection that subscribes and unsubscribes at random, reading all the while."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.subscribed: dict[str, int] = {}  # image -> seq of its last `subscribed` frame
        self.seen: dict[str, set[int]] = {}  # image -> seqs of events since then
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for text in self.ws:
            frame: dict[str, Any] = json.loads(text)
            if frame["type"] == "subscribed":
                self.subscribed[frame["image"]] = frame["seq"]
                self.seen[frame["image"]] = {e["seq"] for e in frame.get("events", ())}
            for event in frame["events"] if frame["type"] == "batch" else [frame]:
                if "seq" in event and event.get("type") != "subscribed":
                    self.seen.setdefault(event["image"], set()).add(event["seq"])

    async def send(self, kind: str, image: str) -> None:
        frame = {"type": kind, "image": image} | ({"since": None} if kind == "subscribe" else {})
        await self.ws.send(json.dumps(frame))

    def has_all(self, image: str, seq: int) -> bool:
        first = self.subscribed.get(image)
        return first is not None and set(range(first + 1, seq + 1)) <= self.seen.get(image, set())


async def test_subscription_storms(cluster: Cluster, figures) -> None:
    """Random subscribes and unsubscribes on both processes, writes between them: afterwards every
    process's pub/sub is subscribed to exactly the images it has subscribers for, and they all get
    every event."""
    rng = random.Random(1013)
    storms = []
    for server in cluster.servers:
        token = await server.token("u_storm", "Storm")
        for _ in range(6):
            ws = await connect(server.url.replace("http", "ws") + "/api/v1/live",
                               additional_headers={"Authorization": f"Bearer {token}"})
            storms.append(Storming(ws))
    ops = 0
    for round_ in range(25):
        for storm in storms:
            for _ in range(rng.randint(0, 3)):
                await storm.send(rng.choice(["subscribe", "unsubscribe"]), rng.choice([IMAGE, OTHER]))
                ops += 1
        if round_ % 3 == 0:
            await cluster.write(f"storm write {round_}")
        await asyncio.sleep(0)
    for storm in storms:
        storm.subscribed.pop(IMAGE, None)
        await storm.send("subscribe", IMAGE)
        await storm.send("unsubscribe", OTHER)
    await wait_for(lambda: all(IMAGE in s.subscribed for s in storms), 5.0, "every storm subscribed")
    for i in range(3):
        await cluster.write(f"after the storm {i}")
    result = await cluster.converge()
    seq = (await cluster.snapshot()).seq
    await wait_for(lambda: all(s.has_all(IMAGE, seq) for s in storms), 5.0, "every storm at the last event")
    for server in cluster.servers:
        await server.app.hub.settle()
        # The engines also follow their users' notifications: the image topics are the question here.
        images = {t for t in server.app.hub.topics if not is_user_topic(t)}
        linked = {t for t in server.app.hub.linked if not is_user_topic(t)}
        assert images == linked == {topic_of(next(iter(cluster.servers[0].tenants.values())), IMAGE)}
    client = redis.from_url(cluster.redis.url)
    try:
        counts = dict(await client.pubsub_numsub(channel(cluster, IMAGE), channel(cluster, OTHER)))
    finally:
        await client.aclose()
    assert list(counts.values()) == [len(cluster.servers), 0]
    for storm in storms:
        await storm.ws.close()
        await storm.reader
    figures(ops, result.acked, result.present, result.seconds)

"""One contract for the `PubSub` interface, run against every implementation, and the hub's
subscription bookkeeping above it: pub/sub is subscribed to exactly the topics that have local
subscribers, whatever order joins and leaves come in."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagechat_tui.server.live import Hub
from imagechat_tui.server.live_core import LiveCore
from imagechat_tui.server.pubsub import LocalPubSub, PubSub
from imagechat_tui.server.store import History
from imagechat_tui.server.usage import UsageMeter

from .conftest import services_unavailable, wait_for
from .redis_server import RedisServer

REDIS_URL = "redis://127.0.0.1:6379/0"
CONTROL = "control"
"""A topic always subscribed: a message on it, published last, arrives after every earlier one
(Redis keeps one connection's publishes in order), so absences can be checked without sleeping."""


class Received:
    """The handler given to `start`: what arrived, in order, and how often the link came back."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, int, str]] = []
        self.relinks = 0

    def __call__(self, topic: str, seq: int, event: str) -> None:
        self.messages.append((topic, seq, event))

    def relinked(self) -> None:
        self.relinks += 1

    def on(self, topic: str) -> list[int]:
        return [seq for t, seq, _ in self.messages if t == topic]


def redis_reachable() -> bool:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


class Flavour:
    """How to make one implementation, and how to ask it what it is subscribed to."""

    def __init__(self, name: str, server: RedisServer | None = None) -> None:
        self.name = name
        self.server = server
        self.url = server.url if server is not None else REDIS_URL
        self.prefix = ""
        self.losses = 0

    def make(self) -> PubSub:
        """A new instance, on channels of its own."""
        self.prefix = f"imagechat-test-{uuid.uuid4().hex[:8]}:"
        if self.name == "local":
            return LocalPubSub()
        from imagechat_tui.server.redis_pubsub import RedisPubSub

        return RedisPubSub(self.url, prefix=self.prefix)

    def kill(self) -> None:
        """Lose the link: Redis dies (a local pub/sub has no link to lose)."""
        if self.server is not None:
            self.server.kill()
            self.losses += 1

    def restart(self) -> None:
        if self.server is not None:
            self.server.start()

    async def subscribed(self, pubsub: PubSub, topics: list[str]) -> set[str]:
        if isinstance(pubsub, LocalPubSub):
            return {t for t in topics if t in pubsub._topics}
        import redis.asyncio as redis

        client = redis.from_url(self.url)
        try:
            counts = await client.pubsub_numsub(*(self.prefix + t for t in topics))
        finally:
            await client.aclose()
        return {name.decode().removeprefix(self.prefix) for name, count in counts if count}


@pytest.fixture(params=["local", "redis"])
def flavour(request: pytest.FixtureRequest) -> Flavour:
    if request.param == "redis" and not redis_reachable():
        services_unavailable("Redis")
    return Flavour(request.param)


@pytest.fixture(params=["local", "redis"])
def breakable(request: pytest.FixtureRequest) -> Flavour:
    """Each implementation, Redis on a server of the test's own that it may kill."""
    return Flavour(request.param, request.getfixturevalue("own_redis") if request.param == "redis" else None)


@asynccontextmanager
async def started(flavour: Flavour) -> AsyncIterator[tuple[PubSub, Received]]:
    pubsub, received = flavour.make(), Received()
    await pubsub.start(received, received.relinked)
    await pubsub.subscribe(CONTROL)
    try:
        yield pubsub, received
    finally:
        await pubsub.close()


async def flush(pubsub: PubSub, received: Received) -> None:
    """Wait until everything published before now has arrived."""
    token = len(received.on(CONTROL)) + 1
    await pubsub.publish(CONTROL, token, "{}")
    await wait_for(lambda: token in received.on(CONTROL), 5.0, "the control message")


# The interface


async def test_a_subscribed_topic_receives_what_is_published_in_order(flavour: Flavour) -> None:
    async with started(flavour) as (pubsub, received):
        await pubsub.subscribe("a")
        for seq in range(1, 6):
            await pubsub.publish("a", seq, f'{{"seq": {seq}}}')
        await flush(pubsub, received)
        assert received.on("a") == [1, 2, 3, 4, 5]
        assert received.messages[0] == ("a", 1, '{"seq": 1}')


async def test_an_unsubscribed_topic_receives_nothing(flavour: Flavour) -> None:
    async with started(flavour) as (pubsub, received):
        await pubsub.publish("a", 1, '{"never": "subscribed"}')
        await pubsub.subscribe("a")
        await pubsub.unsubscribe("a")
        await pubsub.publish("a", 2, '{"un": "subscribed"}')
        await flush(pubsub, received)
        assert received.on("a") == []


async def test_subscribe_and_unsubscribe_are_idempotent(flavour: Flavour) -> None:
    async with started(flavour) as (pubsub, received):
        await pubsub.unsubscribe("a")
        await pubsub.subscribe("a")
        await pubsub.subscribe("a")
        await pubsub.publish("a", 1, '{"once": true}')
        await flush(pubsub, received)
        assert received.on("a") == [1]
        await pubsub.unsubscribe("a")
        await pubsub.unsubscribe("a")
        assert await flavour.subscribed(pubsub, ["a"]) == set()


async def test_a_lost_link_comes_back_subscribed_and_says_so(breakable: Flavour) -> None:
    async with started(breakable) as (pubsub, received):
        await pubsub.subscribe("a")
        breakable.kill()
        breakable.restart()
        await wait_for(lambda: received.relinks == breakable.losses, 5.0, "the link to be reported back")
        await pubsub.publish("a", 1, "{}")
        await flush(pubsub, received)
        assert received.on("a") == [1]
        assert pubsub.counts.relinks == breakable.losses


async def test_an_unsubscribe_while_the_link_is_down_holds_once_it_is_back(breakable: Flavour) -> None:
    async with started(breakable) as (pubsub, received):
        await pubsub.subscribe("a")
        await pubsub.subscribe("b")
        breakable.kill()
        await pubsub.unsubscribe("a")
        breakable.restart()
        await wait_for(lambda: received.relinks == breakable.losses, 5.0, "the link to be reported back")
        assert await breakable.subscribed(pubsub, ["a", "b"]) == {"b"}


async def test_a_publish_the_broker_could_not_take_is_sent_once_it_can(breakable: Flavour) -> None:
    async with started(breakable) as (pubsub, received):
        await pubsub.subscribe("a")
        breakable.kill()
        await pubsub.publish("a", 1, "{}")  # neither raises nor vanishes
        assert pubsub.counts.publish_failures == breakable.losses
        breakable.restart()
        await wait_for(lambda: received.on("a") == [1], 5.0, "the kept message")


async def test_the_first_publish_after_redis_restarts_goes_out(own_redis: RedisServer) -> None:
    """Its pooled connection died with Redis: the publish is sent again on a new one."""
    import redis.asyncio as redis

    flavour = Flavour("redis", own_redis)
    async with started(flavour) as (pubsub, received):
        await flush(pubsub, received)  # the pool holds a connection now
        own_redis.kill()
        own_redis.start()
        client = redis.from_url(own_redis.url)
        listener = client.pubsub()
        try:
            await listener.subscribe(flavour.prefix + "a")
            assert (await listener.get_message(timeout=5.0) or {}).get("type") == "subscribe"
            await pubsub.publish("a", 1, "{}")
            message = await listener.get_message(timeout=5.0)
        finally:
            await listener.aclose()
            await client.aclose()
        assert (message or {}).get("data") == b"1\n{}"
        assert pubsub.counts.publish_failures == 0


async def test_malformed_messages_are_skipped_and_counted_and_delivery_goes_on(
        own_redis: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    import redis.asyncio as redis

    flavour = Flavour("redis", own_redis)
    async with started(flavour) as (pubsub, received):
        await pubsub.subscribe("a")
        garbage = [b"\xff\xfe", b"no newline", b"x\n{}", b"-1\n{}", b"9" * 40 + b"\n{}", b"7\nnot json", b"7\n"]
        client = redis.from_url(own_redis.url)
        try:
            for message in garbage:
                await client.publish(flavour.prefix + "a", message)
            await client.publish(b"\xff" + flavour.prefix.encode(), b"1\n{}")  # nobody's channel
        finally:
            await client.aclose()
        await pubsub.publish("a", 8, "{}")
        await flush(pubsub, received)
        assert received.on("a") == [8]
        assert pubsub.counts.malformed == len(garbage)
        logged = [r for r in caplog.records if "malformed" in r.getMessage()]
        assert len(logged) == 1, "a flood of bad messages must not flood the log"


async def test_the_listener_outlives_an_error_in_its_handler(own_redis: RedisServer) -> None:
    from imagechat_tui.server.redis_pubsub import RedisPubSub

    received = Received()

    def handler(topic: str, seq: int, event: str) -> None:
        if seq == 1:
            raise RuntimeError("a bug downstream")
        received(topic, seq, event)

    pubsub = RedisPubSub(own_redis.url, prefix="t:")
    await pubsub.start(handler, received.relinked)
    try:
        await pubsub.subscribe("a")
        await pubsub.publish("a", 1, "{}")
        await pubsub.publish("a", 2, "{}")
        await wait_for(lambda: received.on("a") == [2], 5.0, "the message after the failing one")
    finally:
        await pubsub.close()


# The hub above it


class FakeConnection:
    """What the hub asks of a live connection: its core (with no `straight` line, so that every
    event comes through `deliver`), its subscriptions, its usage, `deliver` and `close`."""

    def __init__(self, meter: UsageMeter) -> None:
        self.core = LiveCore(0.0)
        self.subs = self.core.subs
        self.usage = meter.tenant("t")
        self.got: list[tuple[str, int]] = []
        self.closed: int | None = None

    def deliver(self, topic: str, seq: int, frame: object) -> None:
        self.got.append((topic, seq))

    def close(self, code: int, reason: str = "") -> None:
        self.closed = code


class FakeStore:
    """The hub's history reader: each image (named like its topic) has events 1..seq, of which
    those from `kept` on are still kept."""

    def __init__(self) -> None:
        self.seq: dict[str, int] = {}
        self.kept: dict[str, int] = {}

    async def history(self, tenant_id: str, key: str, since: int) -> History:
        seq = self.seq.get(key, 0)
        if since > seq or since + 1 < self.kept.get(key, 1):
            return History(key, seq, None)
        return History(key, seq, [f'{{"seq": {n}}}' for n in range(since + 1, seq + 1)])


@asynccontextmanager
async def hub_on(flavour: Flavour) -> AsyncIterator[tuple[Hub, Callable[[], FakeConnection]]]:
    meter = UsageMeter()
    pubsub = flavour.make()
    store = FakeStore()
    hub = Hub(pubsub, meter, store.history)
    hub.store = store  # type: ignore[attr-defined]
    received = Received()

    def handler(topic: str, seq: int, event: str) -> None:
        received(topic, seq, event)
        hub.on_message(topic, seq, event)

    await pubsub.start(handler, hub.on_relinked)
    await pubsub.subscribe(CONTROL)
    hub.received = received  # type: ignore[attr-defined]
    try:
        yield hub, lambda: FakeConnection(meter)
    finally:
        await hub.settle()
        await pubsub.close()


async def join(hub: Hub, conn: FakeConnection, topic: str) -> None:
    conn.core.subscribe(topic)
    await hub.join(conn, topic)  # type: ignore[arg-type]


def leave(hub: Hub, conn: FakeConnection, topic: str) -> None:
    hub.leave(conn, topic)  # type: ignore[arg-type]


async def test_what_pubsub_lost_is_sent_from_the_store_in_order_once_the_link_is_back() -> None:
    """Nothing later arrives to show the subscribers their gap: the hub fills it itself."""
    async with hub_on(Flavour("local")) as (hub, connection):
        first, second = connection(), connection()
        for conn in (first, second):
            await join(hub, conn, "img")
        hub.follow("img", "t", "img", 3)
        hub.store.seq["img"] = 6  # type: ignore[attr-defined]  # 4..6 committed, never delivered
        hub.on_relinked()
        await hub.settle()
        assert first.got == second.got == [("img", 4), ("img", 5), ("img", 6)]
        assert hub.pubsub.counts.repaired == 3
        hub.on_relinked()  # nothing more was lost: nothing more is sent
        await hub.settle()
        assert len(first.got) == 3


async def test_subscribers_resync_when_what_pubsub_lost_is_no_longer_kept() -> None:
    async with hub_on(Flavour("local")) as (hub, connection):
        conn = connection()
        await join(hub, conn, "img")
        hub.follow("img", "t", "img", 3)
        hub.store.seq["img"], hub.store.kept["img"] = 2000, 1000  # type: ignore[attr-defined]
        hub.on_relinked()
        await hub.settle()
        assert (conn.got, conn.closed) == ([], 1013)
        assert hub.pubsub.counts.resyncs == 1


async def test_a_link_back_while_subscribers_read_their_first_state_catches_up_after_it() -> None:
    async with hub_on(Flavour("local")) as (hub, connection):
        conn = connection()
        await join(hub, conn, "img")
        hub.store.seq["img"] = 5  # type: ignore[attr-defined]
        hub.on_relinked()  # before the subscriber's snapshot (at seq 4) is sent
        await hub.settle()
        hub.follow("img", "t", "img", 4)
        await hub.settle()
        assert conn.got == [("img", 5)]


async def test_resubscribing_at_once_keeps_the_topic(flavour: Flavour) -> None:
    """The issue's repro: subscribe, then unsubscribe and subscribe back to back on one socket."""
    async with hub_on(flavour) as (hub, connection):
        conn = connection()
        await join(hub, conn, "img")
        leave(hub, conn, "img")
        await join(hub, conn, "img")
        await hub.settle()
        assert await flavour.subscribed(hub.pubsub, ["img"]) == {"img"}
        await hub.pubsub.publish("img", 7, "{}")
        await wait_for(lambda: conn.got == [("img", 7)], 5.0, "the event after the resubscribe")


async def test_the_last_subscriber_leaving_as_another_joins_keeps_the_topic(flavour: Flavour) -> None:
    async with hub_on(flavour) as (hub, connection):
        first, second = connection(), connection()
        await join(hub, first, "img")
        leave(hub, first, "img")
        joining = asyncio.create_task(join(hub, second, "img"))
        await joining
        await hub.settle()
        await hub.pubsub.publish("img", 1, "{}")
        await wait_for(lambda: second.got == [("img", 1)], 5.0, "the event for the new subscriber")
        assert first.got == []


OPS = st.lists(
    st.tuples(st.sampled_from(["join", "leave", "yield"]), st.integers(0, 2), st.sampled_from(["a", "b"])),
    max_size=30,
)


async def _interleaving(flavour: Flavour, ops: list[tuple[str, int, str]]) -> None:
    async with hub_on(flavour) as (hub, connection):
        conns = [connection() for _ in range(3)]
        joins: list[asyncio.Task[None]] = []
        for op, who, topic in ops:
            conn = conns[who]
            if op == "join" and topic not in conn.subs:
                joins.append(asyncio.create_task(join(hub, conn, topic)))
            elif op == "leave":
                leave(hub, conn, topic)
            else:
                await asyncio.sleep(0)
        await asyncio.gather(*joins)
        await hub.settle()
        wanted = {topic for topic, subscribers in hub.topics.items() if subscribers}
        assert await flavour.subscribed(hub.pubsub, ["a", "b"]) == wanted
        for seq, topic in enumerate(["a", "b"], 1):
            await hub.pubsub.publish(topic, seq, "{}")
        await flush(hub.pubsub, hub.received)  # type: ignore[attr-defined]
        for conn in conns:
            assert sorted(conn.got) == sorted((t, s) for s, t in enumerate(["a", "b"], 1) if t in conn.subs)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_random_interleavings_end_subscribed_to_exactly_the_wanted_topics(flavour: Flavour, ops) -> None:
    asyncio.run(_interleaving(flavour, ops))

"""Fan-out between server processes through Redis pub/sub: one channel per image topic.

Each process subscribes to the channels of the images its own clients follow, and publishes every
committed event to its image's channel (its own subscribers hear it back through Redis, like
everyone else's). Redis pub/sub is fire-and-forget, so three things keep live delivery whole when
Redis or the network hiccups:

- the listener never stops: a message it can't read is skipped and counted, a lost connection is
  retried every `RETRY_WAIT`, and any other error restarts it;
- when the connection is back (redis-py resubscribes every channel as it reconnects), channels
  unsubscribed while it was down are dropped, and the hub is told (`relinked`) and fetches what its
  subscribers missed from the store;
- a publish is sent once more on a fresh connection if its own was dead (Redis restarted); one that
  still fails is counted and kept, the latest per topic, and sent again until Redis takes it (not
  before this process's own subscriptions are back, so that they hear it too).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from .pubsub import Handler, LinkCounts, Relinked, pack, unpack

log = logging.getLogger("imagechat.redis")

RETRY_WAIT = 0.25
"""Seconds between attempts to reach Redis again, after a lost connection or a failed publish."""
LOG_EVERY = 10.0
"""At most one log line per kind of trouble in this many seconds: a flood must not flood the log."""


class RedisPubSub:
    def __init__(self, url: str, prefix: str = "imagechat:") -> None:
        self._redis = redis.from_url(url, retry=Retry(NoBackoff(), 1))
        self._pubsub = self._redis.pubsub()
        self._prefix = prefix
        self.counts = LinkCounts()
        self._topics: set[str] = set()  # what the hub wants subscribed
        self._handler: Handler | None = None
        self._relinked: Relinked | None = None
        self._relink_due = False
        self._linked = asyncio.Event()  # clear from a lost connection until the listener has it back
        self._listening = asyncio.Event()  # set once there is a subscription to listen on
        self._task: asyncio.Task[None] | None = None
        self._unsent: dict[str, tuple[int, str]] = {}
        self._resender: asyncio.Task[None] | None = None
        self._log = _Throttled(LOG_EVERY)

    async def start(self, handler: Handler, relinked: Relinked) -> None:
        self._handler, self._relinked = handler, relinked
        await self._redis.ping()  # fail at start-up, with a clear error, if Redis is not there
        self._linked.set()
        self._task = asyncio.create_task(self._listen(), name="imagechat-redis")

    async def subscribe(self, topic: str) -> None:
        await self._pubsub.subscribe(self._prefix + topic)
        self._topics.add(topic)
        if not self._listening.is_set():
            connection = self._pubsub.connection
            assert connection is not None  # made by the first subscribe, kept until close
            connection.register_connect_callback(self._reconnected)  # called on every reconnect
            self._listening.set()

    async def unsubscribe(self, topic: str) -> None:
        self._topics.discard(topic)
        try:
            await self._pubsub.unsubscribe(self._prefix + topic)
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            pass  # the link is down: redis-py would restore the channel with it, `_relay` drops it

    async def publish(self, topic: str, seq: int, event: str) -> None:
        try:
            await self._redis.publish(self._prefix + topic, pack(seq, event))
        except (redis.RedisError, OSError) as exc:
            self.counts.publish_failures += 1
            if not seq:  # presence (seq 0) is published again anyway, and a stale one must not come back late
                return
            self._log.warning("publish", "Redis did not take seq %d of %s (%s); sending it again until it does",
                              seq, topic, exc)
            self._keep(topic, seq, event)

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        for task in (self._task, self._resender):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self._pubsub.aclose()
        await self._redis.aclose()

    # Receiving

    def _reconnected(self, _connection: Any) -> None:
        self._relink_due = True  # reported once the listener has read from the new connection
        self._linked.clear()

    async def _listen(self) -> None:
        await self._listening.wait()
        while True:
            try:
                await self._relay()
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                self._linked.clear()
                self._log.warning("link", "Redis pub/sub connection lost (%s); retrying every %g s", exc, RETRY_WAIT)
            except Exception:  # whatever it was, live delivery goes on: log it and listen again
                self._log.warning("listener", "Redis pub/sub listener failed; restarting it", exc_info=True)
            await asyncio.sleep(RETRY_WAIT)

    async def _relay(self) -> None:
        while True:
            message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if self._relink_due and self._relinked is not None:
                # The read above came from the new connection, after redis-py resubscribed on it.
                self._relink_due = False
                await self._drop_unwanted()
                self.counts.relinks += 1
                self._linked.set()
                self._relinked()
            if message is not None and message.get("type") == "message" and self._handler is not None:
                self._dispatch(self._handler, message)

    async def _drop_unwanted(self) -> None:
        unwanted = [c for c in self._pubsub.channels if c.decode().removeprefix(self._prefix) not in self._topics]
        if unwanted:
            await self._pubsub.unsubscribe(*unwanted)

    def _dispatch(self, handler: Handler, message: dict[str, Any]) -> None:
        try:
            seq, event = unpack(message["data"])
            topic = message["channel"].decode().removeprefix(self._prefix)
        except (ValueError, AttributeError, KeyError) as exc:
            self.counts.malformed += 1
            self._log.warning("malformed", "skipped a malformed message on %r: %s", message.get("channel"), exc)
            return
        handler(topic, seq, event)

    # Publishing again

    def _keep(self, topic: str, seq: int, event: str) -> None:
        """Keep the topic's latest unsent message: a subscriber that gets it after missing earlier
        ones sees the gap and resyncs, so older ones need not be kept."""
        kept = self._unsent.get(topic)
        if kept is None or kept[0] < seq:
            self._unsent[topic] = (seq, event)
        if self._resender is None or self._resender.done():
            self._resender = asyncio.get_running_loop().create_task(self._resend())

    async def _resend(self) -> None:
        while self._unsent:
            await asyncio.sleep(RETRY_WAIT)
            await self._linked.wait()
            for topic, (seq, event) in list(self._unsent.items()):
                try:
                    await self._redis.publish(self._prefix + topic, pack(seq, event))
                except (redis.RedisError, OSError):
                    break  # still unreachable: the rest waits for the next round
                if self._unsent.get(topic, (0, ""))[0] == seq:
                    del self._unsent[topic]


class _Throttled:
    """Warnings, at most one per kind per `every` seconds; the next one says how many were held."""

    def __init__(self, every: float) -> None:
        self.every = every
        self._quiet_until: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def warning(self, kind: str, message: str, *args: object, exc_info: bool = False) -> None:
        now = time.monotonic()
        if now < self._quiet_until.get(kind, 0.0):
            self._held[kind] = self._held.get(kind, 0) + 1
            return
        self._quiet_until[kind] = now + self.every
        held = self._held.pop(kind, 0)
        if held:
            message += f" ({held} more like it not logged)"
        log.warning(message, *args, exc_info=exc_info)

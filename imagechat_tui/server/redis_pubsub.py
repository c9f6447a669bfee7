"""Fan-out between server processes through Redis pub/sub: one channel per image topic.

Each process subscribes to the channels of the images its own clients follow, and publishes every
committed event to its image's channel (its own subscribers hear it back through Redis, like
everyone else's). Redis pub/sub is fire-and-forget, which is all the design asks: a message lost
while Redis or the network hiccups is a gap in seq, repaired by the clients' resync.
"""

from __future__ import annotations

import asyncio
import logging

import redis.asyncio as redis

from .pubsub import Handler, pack, unpack

log = logging.getLogger("imagechat.redis")


class RedisPubSub:
    def __init__(self, url: str, prefix: str = "imagechat:") -> None:
        self._redis = redis.from_url(url)
        self._pubsub = self._redis.pubsub()
        self._prefix = prefix
        self._handler: Handler | None = None
        self._listening = asyncio.Event()  # set once there is a subscription to listen on
        self._task: asyncio.Task[None] | None = None

    async def start(self, handler: Handler) -> None:
        self._handler = handler
        await self._redis.ping()  # fail at start-up, with a clear error, if Redis is not there
        self._task = asyncio.create_task(self._listen(), name="imagechat-redis")

    async def subscribe(self, topic: str) -> None:
        await self._pubsub.subscribe(self._prefix + topic)
        self._listening.set()

    async def unsubscribe(self, topic: str) -> None:
        await self._pubsub.unsubscribe(self._prefix + topic)

    async def publish(self, topic: str, seq: int, event: str) -> None:
        await self._redis.publish(self._prefix + topic, pack(seq, event))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._pubsub.aclose()
        await self._redis.aclose()

    async def _listen(self) -> None:
        await self._listening.wait()
        while True:
            try:
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                log.warning("Redis pub/sub connection lost (%s); retrying in 1 s", exc)
                await asyncio.sleep(1.0)
                continue
            if message is None or message.get("type") != "message" or self._handler is None:
                continue
            channel = message["channel"].decode()
            seq, event = unpack(message["data"].decode())
            self._handler(channel.removeprefix(self._prefix), seq, event)

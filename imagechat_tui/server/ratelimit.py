"""Per-user token buckets for writes: in this process, or shared by every process through Redis."""

from __future__ import annotations

import logging
import math
import time
from typing import Protocol

log = logging.getLogger("imagechat.server")

Key = tuple[str, str]
"""(tenant id, user id)"""


class Limiter(Protocol):
    async def retry_after(self, key: Key) -> int:
        """Take one token for `key`; 0 if granted, else the whole seconds until one is free."""

    async def close(self) -> None: ...


class RateLimiter:
    """The buckets of this process alone."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[Key, tuple[float, float]] = {}

    async def retry_after(self, key: Key) -> int:
        return self.take(key)

    async def close(self) -> None:
        pass  # nothing held

    def take(self, key: Key) -> int:
        now = time.monotonic()
        tokens, then = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return 0
        self._buckets[key] = (tokens, now)
        return max(1, math.ceil((1 - tokens) / self.rate))


# The same bucket as `RateLimiter.take`, kept in Redis and changed atomically, on Redis's clock so
# that processes on hosts whose clocks differ share one. A test checks that both answer alike.
TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
    tokens = tokens - 1
else
    wait = math.max(1, math.ceil((1 - tokens) / rate))
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%.17g', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return wait
"""


class RedisRateLimiter:
    """One bucket per user for the whole cluster. While Redis does not answer, this process's own
    buckets decide: a write is never refused, nor let through unlimited, because Redis is away."""

    def __init__(self, url: str, rate: float, burst: float, prefix: str = "imagechat:") -> None:
        import redis.asyncio as redis  # the scale-out extra
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._redis = redis.from_url(url, retry=Retry(NoBackoff(), 1), socket_timeout=1, socket_connect_timeout=1)
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self._take = self._redis.register_script(TAKE)
        self._prefix = prefix + "rate:"
        self.rate, self.burst = rate, burst
        self._local = RateLimiter(rate, burst)
        self._warned = False

    async def retry_after(self, key: Key) -> int:
        try:
            wait = int(await self._take(keys=[f"{self._prefix}{key[0]}:{key[1]}"], args=[self.rate, self.burst]))
        except self._errors as exc:
            if not self._warned:
                log.warning("rate limits are per process while Redis does not answer: %s", exc)
                self._warned = True
            return self._local.take(key)
        self._warned = False
        return wait

    async def close(self) -> None:
        await self._redis.aclose()

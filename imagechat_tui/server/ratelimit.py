"""Per-user token buckets for writes."""

from __future__ import annotations

import math
import time


class RateLimiter:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def retry_after(self, key: tuple[str, str]) -> int:
        """Take one token for `key`; 0 if granted, else the whole seconds until one is free."""
        now = time.monotonic()
        tokens, then = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return 0
        self._buckets[key] = (tokens, now)
        return max(1, math.ceil((1 - tokens) / self.rate))

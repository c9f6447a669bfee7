"""Which server the live connection tries next, and after how long: rules only, no I/O.

Several URLs are tried in turn when there is no load balancer in front of the processes. A server
that says it is restarting (close code 1012) is left at once for the next URL, without backoff:
its clients must be back within moments for a rolling restart to lose nothing. A URL that can't
be reached, or whose connection is lost, is left at once for the next too; only when every URL has
failed in a row does the engine back off, exponentially, round after round. A connection that
stayed up a while starts a fresh round; one lost at once counts as a failure, so that servers that
accept and drop every connection are not hammered."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

STABLE_AFTER = 10.0
"""Seconds online after which a lost connection no longer counts against its server."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Jittered exponential backoff: attempt n waits between half and all of initial * 2**n, capped."""

    initial: float = 0.5
    maximum: float = 15.0

    def delay(self, attempt: int) -> float:
        return min(self.maximum, self.initial * 2.0**attempt) * random.uniform(0.5, 1.0)


@dataclass(frozen=True, slots=True)
class Ended:
    """How one connection attempt ended."""

    reason: str
    online_for: float | None = None
    """Seconds it was online before it ended; None if it never got online."""
    restart: bool = False
    """The server closed it saying it is restarting (1012)."""

    @property
    def stable(self) -> bool:
        return self.online_for is not None and self.online_for >= STABLE_AFTER


class Servers:
    def __init__(self, urls: Sequence[str], backoff: Backoff) -> None:
        if not urls:
            raise ValueError("at least one server URL is needed")
        self.urls = tuple(urls)
        self.current = 0
        self._backoff = backoff
        self._failures = 0  # attempts in a row that did not get, or stay, online

    @property
    def url(self) -> str:
        return self.urls[self.current]

    def after(self, ended: Ended) -> float:
        """Move on to the server to try next; how many seconds to wait before trying it."""
        if ended.restart:
            self._failures = 0
            self._next()
            return 0.0
        if ended.stable:
            self._failures = 0
        self._failures += 1
        self._next()
        rounds, rest = divmod(self._failures, len(self.urls))
        return self._backoff.delay(rounds - 1) if rest == 0 else 0.0

    def _next(self) -> None:
        self.current = (self.current + 1) % len(self.urls)

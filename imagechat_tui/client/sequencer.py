"""Gap-free ordering of an image's events by seq (sans-I/O: the caller supplies the clock)."""

from __future__ import annotations

from ..protocol.events import AnyEvent
from ..protocol.limits import GAP_WAIT


class Sequencer:
    """Releases events strictly as last+1, last+2, …; drops old ones; holds early ones.

    When an event arrives early, the gap opens; if it is not filled within GAP_WAIT the caller
    resubscribes with `since=last` (docs/protocol.md, client rules)."""

    def __init__(self, last: int = 0) -> None:
        self.last = last
        self.held: dict[int, AnyEvent] = {}
        self.gap_since: float | None = None

    def offer(self, event: AnyEvent, now: float) -> list[AnyEvent]:
        if event.seq > self.last:
            self.held[event.seq] = event
        return self._drain(now)

    def reset(self, last: int, now: float) -> list[AnyEvent]:
        """Continue after `last` (a snapshot or replay reached it): keep only later held events."""
        self.last = last
        self.held = {seq: e for seq, e in self.held.items() if seq > self.last}
        self.gap_since = None
        return self._drain(now)

    def gap_expired(self, now: float) -> bool:
        return self.gap_since is not None and now - self.gap_since >= GAP_WAIT

    def _drain(self, now: float) -> list[AnyEvent]:
        ready = []
        while self.last + 1 in self.held:
            self.last += 1
            ready.append(self.held.pop(self.last))
        if self.held:
            self.gap_since = self.gap_since if self.gap_since is not None else now
        else:
            self.gap_since = None
        return ready

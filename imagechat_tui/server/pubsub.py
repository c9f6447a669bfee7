"""Fan-out between server processes, behind one small interface.

Writers publish an image's event after its transaction commits; every process that has local
subscribers to that image's topic receives it. Delivery is best-effort (a message may be lost or
reordered between processes): clients repair gaps by seq when a later event comes, and the hub
repairs the tail itself when an implementation reports that its lost link is back (`Relinked`).
`LocalPubSub` serves one process; a Redis implementation of the same interface scales out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

Handler = Callable[[str, int, str], None]
"""Called with (topic, seq, encoded event) for each message on a subscribed topic; seq 0 is not an
event but a process's account of who views the image (presence_core), which takes no seq."""
Relinked = Callable[[], None]
"""Called when the link to the broker is back after a loss, every subscription restored: what was
published meanwhile never arrived, and the hub fetches it from the store."""

MAX_SEQ_DIGITS = 19  # seqs are BIGINTs


def pack(seq: int, event: str) -> str:
    """The message on the wire between processes: the seq, a newline, the event's JSON."""
    return f"{seq}\n{event}"


def unpack(message: bytes) -> tuple[int, str]:
    """The seq and event of a message; ValueError for anything `pack` could not have made."""
    head, newline, event = message.decode().partition("\n")
    if not newline or not head.isascii() or not head.isdigit() or len(head) > MAX_SEQ_DIGITS:
        raise ValueError("not <seq>\\n<event>")
    if not (event.startswith("{") and event.endswith("}")):  # an event is a JSON object
        raise ValueError("the event is not a JSON object")
    return int(head), event


@dataclass(slots=True)
class LinkCounts:
    """What went wrong between processes, and what was repaired, for /metrics."""

    malformed: int = 0
    """Messages skipped because they could not be read."""
    publish_failures: int = 0
    """Publishes the broker did not take (each kept and sent again once it does)."""
    relinks: int = 0
    """Times the link came back after a loss."""
    repaired: int = 0
    """Events sent to subscribers from the store because pub/sub lost them."""
    resyncs: int = 0
    """Subscribers closed to resync because what they missed was no longer kept."""


class PubSub(Protocol):
    counts: LinkCounts

    async def start(self, handler: Handler, relinked: Relinked) -> None: ...

    async def subscribe(self, topic: str) -> None: ...

    async def unsubscribe(self, topic: str) -> None: ...

    async def publish(self, topic: str, seq: int, event: str) -> None:
        """Hand a message over; one the broker can't take now is counted and sent once it can."""

    async def ping(self) -> None:
        """Return once the broker answers; raise if it does not (for /readyz)."""

    async def close(self) -> None: ...


class LocalPubSub:
    """Delivers to this process's subscribers, synchronously, in publish order. Its link can't be
    lost, so it never calls `relinked`."""

    def __init__(self) -> None:
        self.counts = LinkCounts()
        self._handler: Handler | None = None
        self._topics: set[str] = set()

    async def start(self, handler: Handler, relinked: Relinked) -> None:
        self._handler = handler

    async def subscribe(self, topic: str) -> None:
        self._topics.add(topic)

    async def unsubscribe(self, topic: str) -> None:
        self._topics.discard(topic)

    async def publish(self, topic: str, seq: int, event: str) -> None:
        if self._handler is not None and topic in self._topics:
            self._handler(topic, seq, event)

    async def ping(self) -> None:
        pass  # no broker: always ready

    async def close(self) -> None:
        self._handler = None
        self._topics.clear()

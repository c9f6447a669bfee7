"""Fan-out between server processes, behind one small interface.

Writers publish an image's event after its transaction commits; every process that has local
subscribers to that image's topic receives it. Delivery is best-effort (a message may be lost or
reordered between processes): clients repair gaps by seq, so nothing here retries or orders.
`LocalPubSub` serves one process; a Redis implementation of the same interface scales out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Handler = Callable[[str, int, str], None]
"""Called with (topic, seq, encoded event) for each message on a subscribed topic."""


def pack(seq: int, event: str) -> str:
    """The message on the wire between processes: the seq, a newline, the event's JSON."""
    return f"{seq}\n{event}"


def unpack(message: str) -> tuple[int, str]:
    seq, _, event = message.partition("\n")
    return int(seq), event


class PubSub(Protocol):
    async def start(self, handler: Handler) -> None: ...

    async def subscribe(self, topic: str) -> None: ...

    async def unsubscribe(self, topic: str) -> None: ...

    async def publish(self, topic: str, seq: int, event: str) -> None: ...

    async def close(self) -> None: ...


class LocalPubSub:
    """Delivers to this process's subscribers, synchronously, in publish order."""

    def __init__(self) -> None:
        self._handler: Handler | None = None
        self._topics: set[str] = set()

    async def start(self, handler: Handler) -> None:
        self._handler = handler

    async def subscribe(self, topic: str) -> None:
        self._topics.add(topic)

    async def unsubscribe(self, topic: str) -> None:
        self._topics.discard(topic)

    async def publish(self, topic: str, seq: int, event: str) -> None:
        if self._handler is not None and topic in self._topics:
            self._handler(topic, seq, event)

    async def close(self) -> None:
        self._handler = None
        self._topics.clear()

"""uvicorn's websockets-sansio protocol, telling the live endpoint whenever its state may have
changed, so that the endpoint's fan-out can keep one flag per connection (`LiveCore.straight`)
instead of asking uvicorn's protocol object, its `websockets` connection and the transport
five questions per delivery: measured, those questions (objects all over memory, for 2,000
subscribers) cost more than the rest of a delivery's Python.

Every entry point of the protocol that can close it, queue data in its transport or pause it is
one of the methods below; each, once done, calls `watcher.refresh()` (the `live.DirectWriter`),
which reads the state again. The protocol's own timers that close the transport (the close handshake's
timeout, the end of the app) run only after `close_sent` or once the app has left, when the
endpoint no longer writes to it.
"""

from __future__ import annotations

from typing import Any, Protocol

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class Watcher(Protocol):
    def refresh(self) -> None: ...


class LiveWebSocketProtocol(WebSocketsSansIOProtocol):
    """`WebSocketsSansIOProtocol`, calling `watcher.refresh()` after each of its entry points."""

    # A slot, not one more key in the instance's dict: idle connections are many.
    __slots__ = ("watcher",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.watcher: Watcher | None = None

    def _changed(self) -> None:
        if self.watcher is not None:
            self.watcher.refresh()

    def connection_lost(self, exc: Exception | None) -> None:
        # First: the transport closes the socket right after this returns.
        self.disconnected = True
        self._changed()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        try:
            super().data_received(data)  # a close frame, a ping answered, a parser error
        finally:
            self._changed()

    def pause_writing(self) -> None:
        super().pause_writing()
        self._changed()

    def resume_writing(self) -> None:
        super().resume_writing()
        self._changed()

    def shutdown(self) -> None:
        try:
            super().shutdown()
        finally:
            self._changed()

    def send_keepalive_ping(self) -> None:
        try:
            super().send_keepalive_ping()
        finally:
            self._changed()

    def keepalive_timeout(self) -> None:
        try:
            super().keepalive_timeout()
        finally:
            self._changed()

    async def send(self, message: ASGISendEvent) -> None:
        try:
            await super().send(message)
        finally:
            self._changed()

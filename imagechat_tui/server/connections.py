"""The limits on connections that uvicorn leaves open, kept where requests are parsed.

uvicorn's httptools protocol has no deadline for a request head (its keep-alive timer runs only
between requests), no bound on a head's size (httptools joins a header from its pieces, which
costs more than linearly), and its `limit_concurrency` is checked after the head and never for
WebSocket upgrades. `GuardedHttp` adds the three; request bodies are bounded by `intake`.
WebSocket upgrades are request heads too, so a half-sent handshake meets the same deadline.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

log = logging.getLogger("imagechat.server")

LINGER_SECONDS = 2.0
LINGER_BYTES = 16 << 20
"""After refusing a request whose body is still coming, what is read and dropped at most before
the connection closes: closing with unread data resets it, and the reset can destroy the answer
before the client reads it (the "lingering close" of RFC 9112, 9.6)."""
RESERVED_FILES = 100
"""File descriptors kept back from the connection limit for the database, Redis, logs and the
listening sockets."""


def default_max_connections() -> int:
    """Below the open-files limit, so that connections are refused with a 503 rather than
    failing to be accepted at all."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(1, soft - RESERVED_FILES)


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    header_timeout: float
    """Seconds from a connection (or a request's first byte) to its complete head."""
    max_header_bytes: int
    """Bytes a request head (request line and headers) may take."""
    max_connections: int
    """Open connections, HTTP and WebSocket, beyond which new ones are answered 503."""


class GuardedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol with `ConnectionLimits` (given to the subclass that
    `with_limits` makes, as uvicorn makes one protocol object per connection), and a lingering
    close when a response ends the connection before the request has all arrived."""

    limits: ConnectionLimits

    @classmethod
    def with_limits(cls, limits: ConnectionLimits) -> type[GuardedHttp]:
        return type(cls.__name__, (cls,), {"limits": limits})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_timer: asyncio.TimerHandle | None = None
        self.head_bytes = 0
        self.over_limit = False
        self.lingering = -1
        """Bytes dropped since a lingering close began; -1 when not lingering."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.over_limit = len(self.connections) > self.limits.max_connections
        self._expect_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_done()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.lingering >= 0:
            self.lingering += len(data)
            if self.lingering > LINGER_BYTES:
                self.transport.close()
            return
        if self.over_limit:  # answered once its request is here, so that the answer is read
            self._refuse(503, "busy", "the server is at its connection limit: retry in a moment")
            return
        if self.head_timer is not None:
            self.head_bytes += len(data)
        # Parsed before the size is judged, so that a head and body arriving together never
        # count as head: one read is at most 256 KiB, so the overshoot is bounded.
        super().data_received(data)
        if self.head_timer is not None and self.head_bytes > self.limits.max_header_bytes:
            self._refuse(431, "headers_too_large", f"request heads are limited to {self.limits.max_header_bytes} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._expect_head()

    def on_headers_complete(self) -> None:
        self._head_done()
        super().on_headers_complete()
        if self.cycle is not None and self.cycle.transport is self.transport:
            self.cycle.transport = _LingeringClose(self)  # type: ignore[assignment]

    def close_lingering(self) -> None:
        """Close once the answer is out; while the request is still arriving, first stop writing
        and drop what comes in, for a bounded time and amount."""
        if self.transport.is_closing() or self.lingering >= 0:
            return
        receiving = self.head_timer is not None or (self.cycle is not None and self.cycle.more_body)
        self._head_done()
        if not receiving:
            self.transport.close()
            return
        self.lingering = 0
        if self.transport.can_write_eof():  # not over TLS
            self.transport.write_eof()
        self.flow.resume_reading()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _expect_head(self) -> None:
        if self.head_timer is None:
            self.head_bytes = 0
            self.head_timer = self.loop.call_later(self.limits.header_timeout, self._head_too_slow)

    def _head_done(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_too_slow(self) -> None:
        self.head_timer = None
        self._refuse(408, "timeout", f"the request head took over {self.limits.header_timeout:g} s to arrive")

    def _refuse(self, status: int, code: str, message: str) -> None:
        """Answer in the API's error shape and close, unless a response is under way already."""
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            body = json.dumps({"error": {"code": code, "message": message}}).encode()
            head = [STATUS_LINE[status]]
            head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
            head += [b"content-type: application/json\r\n", b"content-length: %d\r\n" % len(body),
                     b"connection: close\r\n\r\n"]
            self.transport.write(b"".join(head) + body)
        self.close_lingering()


class _LingeringClose:
    """The transport as a request's response cycle sees it: the same, but its close lingers."""

    __slots__ = ("protocol", "transport")

    def __init__(self, protocol: GuardedHttp) -> None:
        self.protocol = protocol
        self.transport = protocol.transport

    def write(self, data: bytes) -> None:
        self.transport.write(data)

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def close(self) -> None:
        self.protocol.close_lingering()


class AcceptErrorLog:
    """The event loop's exception handler, with accept failures (out of file descriptors, most
    often) logged at most once per `interval` with a count, instead of a traceback per attempt:
    on Python 3.11 asyncio retries a whole backlog's worth of accepts per tick."""

    RESOURCE_MESSAGE = "socket.accept() out of system resource"

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self.suppressed = 0
        self.last = -float("inf")

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = context.get("message", "")
        if "_start_serving" in message and isinstance(context.get("exception"), ValueError):
            return  # the retries asyncio scheduled for each failure, running after shutdown closed the socket
        if message != self.RESOURCE_MESSAGE:
            loop.default_exception_handler(context)
            return
        line = self.line(context.get("exception"), time.monotonic())
        if line is not None:
            log.error("%s", line)

    def line(self, exc: BaseException | None, now: float) -> str | None:
        """What to log for one failure at `now`, or None while within the interval."""
        if now - self.last < self.interval:
            self.suppressed += 1
            return None
        earlier, self.suppressed, self.last = self.suppressed, 0, now
        more = f" ({earlier} more since the last report)" if earlier else ""
        return (f"can't accept connections: {exc}{more}; lower --max-connections or raise the "
                "open-files limit (ulimit -n)")

"""uvicorn set up as the server runs it, for the CLI and for tests alike."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn

from ..protocol.limits import CLOSE_GOING_AWAY, CLOSE_SERVICE_RESTART, MAX_FRAME_BYTES
from .app import ImageChatServer
from .connections import AcceptErrorLog, ConnectionLimits, GuardedHttp, default_max_connections
from .ws_protocol import LiveWebSocketProtocol


class Runner(uvicorn.Server):
    """uvicorn, plus: one line naming the URL once listening, accept failures logged at a bounded
    rate, and WebSockets closed on shutdown by the app, with a code that says what to do: 1012
    (service restart: reconnect now, elsewhere) on SIGTERM, the signal of a rolling restart, and
    1001 (going away) otherwise (Ctrl-C, idle exit), where reconnecting at once would not help.
    Either way listening stops first, then live connections close, then uvicorn lets the requests
    in flight (writes) finish; `handle_exit` is uvicorn's signal handler, which tests/test_cli.py
    drives with real signals."""

    def __init__(self, config: uvicorn.Config, app: ImageChatServer, *, announce: bool = True,
                 exit_when_idle: float | None = None) -> None:
        super().__init__(config)
        self.imagechat = app
        self.announce = announce
        self.url = ""
        self.exit_when_idle = exit_when_idle
        self._last_busy = (time.monotonic(), 0)  # (when, total requests then)
        self._loop_handler: Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object] | None = None
        self.close_code, self.close_reason = CLOSE_GOING_AWAY, "server shutting down"

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM:
            self.close_code, self.close_reason = CLOSE_SERVICE_RESTART, "server restarting: reconnect"
        super().handle_exit(sig, frame)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        loop = asyncio.get_running_loop()
        self._loop_handler = loop.get_exception_handler()
        loop.set_exception_handler(AcceptErrorLog())
        await super().startup(sockets)
        if self.started:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            scheme = "https" if self.config.ssl_certfile else "http"
            host = f"[{host}]" if ":" in host else host
            self.url = f"{scheme}://{host}:{port}"
            if self.announce:
                print(f"imagechat-server serving on {self.url}", flush=True)

    async def on_tick(self, counter: int) -> bool:
        if await super().on_tick(counter):
            return True
        if self.exit_when_idle is None or counter % 10:
            return False
        # Idle: no open connection (HTTP or WebSocket) and no request since the last busy moment.
        now, requests = time.monotonic(), self.server_state.total_requests
        if self.server_state.connections or requests != self._last_busy[1]:
            self._last_busy = (now, requests)
            return False
        return now - self._last_busy[0] >= self.exit_when_idle

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        await self.imagechat.hub.close_all(self.close_code, self.close_reason)
        await super().shutdown(sockets)
        asyncio.get_running_loop().set_exception_handler(self._loop_handler)


def build_runner(app: ImageChatServer, *, host: str, port: int, certfile: str | None = None,
                 keyfile: str | None = None, log_level: str = "warning", announce: bool = True,
                 exit_when_idle: float | None = None, loop: str = "asyncio") -> Runner:
    """`loop` matters only to `Runner.run`, which makes the event loop; `serve` runs on the caller's."""
    settings = app.config
    limits = ConnectionLimits(settings.header_timeout, settings.max_header_bytes,
                              settings.max_connections or default_max_connections())
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        interface="asgi3",
        loop=loop,  # asyncio's unless asked: see options.LOOPS
        http=GuardedHttp.with_limits(limits),
        ws=LiveWebSocketProtocol,  # uvicorn's websockets-sansio, telling the live endpoint of changes
        ws_max_size=MAX_FRAME_BYTES,
        ws_per_message_deflate=False,  # frames are under 1 KB: compression costs memory, saves little
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        lifespan="on",
        log_level=log_level,
        access_log=log_level == "debug",
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
        timeout_graceful_shutdown=5,
        backlog=4096,
        proxy_headers=False,  # its middleware would be one more frame kept by every idle WebSocket
    )
    return Runner(config, app, announce=announce, exit_when_idle=exit_when_idle)

"""The reference for what Python can do: a bare `websockets` server that calls `broadcast()`.

Subscribers connect to /live; a publisher connects to /pub and each text frame it sends is
broadcast to every subscriber, then acknowledged with "ok". No storage, auth or protocol.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from websockets.asyncio.server import ServerConnection, broadcast, serve

# In connection order, like the hub's: the benchmark's latency probes connect last, so both servers
# reach them at the end of their fan-out (a set would put them anywhere).
subscribers: dict[ServerConnection, None] = {}


async def handler(ws: ServerConnection) -> None:
    if ws.request is not None and ws.request.path == "/pub":
        async for message in ws:
            broadcast(subscribers, message)
            await ws.send("ok")
        return
    subscribers[ws] = None
    try:
        await ws.wait_closed()
    finally:
        subscribers.pop(ws, None)


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, compression=None, backlog=4096, max_size=65536) as server:
        bound = next(iter(server.sockets)).getsockname()[1]
        print(f"reference serving on http://127.0.0.1:{bound}", flush=True)
        await asyncio.Future()


def run_on(loop: str, main: Coroutine[Any, Any, None]) -> None:
    """Run `main` on asyncio's default event loop or on uvloop's, until Ctrl-C or SIGTERM."""
    factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop
    if loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(main)
    except KeyboardInterrupt:
        pass


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    return parser.parse_args()


if __name__ == "__main__":
    args = arguments()
    run_on(args.loop, main(args.port))

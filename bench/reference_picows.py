"""The reference on picows (a Cython WebSocket implementation for asyncio): the same bare broadcast
server as `reference_server.py`, to measure what picows would give the live endpoint.

Subscribers connect to /live; each text frame a publisher sends on /pub is sent to every
subscriber, then acknowledged with "ok". No storage, auth or protocol.
"""

from __future__ import annotations

import asyncio

from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server
from reference_server import arguments, run_on

# In connection order, as in the other reference and in our hub.
subscribers: dict[WSTransport, None] = {}


class Subscriber(WSListener):
    def on_ws_connected(self, transport: WSTransport) -> None:
        subscribers[transport] = None

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        subscribers.pop(transport, None)


class Publisher(WSListener):
    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.TEXT:
            message = frame.get_payload_as_bytes()
            for subscriber in subscribers:
                subscriber.send(WSMsgType.TEXT, message)
            transport.send(WSMsgType.TEXT, b"ok")
        elif frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()


def route(request: WSUpgradeRequest) -> WSListener | None:
    return Publisher() if request.path == b"/pub" else Subscriber()


async def main(port: int) -> None:
    server = await ws_create_server(route, "127.0.0.1", port, backlog=4096, enable_auto_ping=False)
    bound = server.sockets[0].getsockname()[1]
    print(f"reference (picows) serving on http://127.0.0.1:{bound}", flush=True)
    await asyncio.Future()


if __name__ == "__main__":
    args = arguments()
    run_on(args.loop, main(args.port))

"""Presence over the live WebSocket: who views an image and who writes on which marker; expiry
of a viewer that vanished; hiding; across two server processes over Redis."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import ClientConnection

from .conftest import IMAGE, Harness, wait_for
from .test_live import open_ws, subscribe


class Watcher:
    """A raw connection that keeps the presence list it is told."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.people: dict[str, dict] = {}
        self.frames: list[dict] = []
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        async for text in self.ws:
            frame = json.loads(text)
            self.frames.append(frame)
            if frame["type"] == "presence":
                self.people = {u["id"]: u for u in frame["users"]}
            elif frame["type"] == "presence-changed":
                for uid in frame["left"]:
                    self.people.pop(uid, None)
                self.people.update({u["id"]: u for u in frame["users"]})

    async def close(self) -> None:
        await self.ws.close()
        self.task.cancel()


async def watch(server: Harness, token: str, hide: bool = False) -> Watcher:
    ws = await open_ws(server, token)
    await ws.send(json.dumps({"type": "use-presence", "visible": not hide}))
    await subscribe(ws)
    return Watcher(ws)


async def test_viewers_and_writers_appear_and_leave(server: Harness) -> None:
    ana = await watch(server, await server.token("u_ana", "Ana"))
    await wait_for(lambda: set(ana.people) == {"u_ana"}, what="Ana sees herself")
    bo = await watch(server, await server.token("u_bo", "Bo"))
    await wait_for(lambda: set(ana.people) == {"u_ana", "u_bo"} == set(bo.people), what="both see both")
    await bo.ws.send(json.dumps({"type": "writing", "image": IMAGE, "markerId": "m_1"}))
    await wait_for(lambda: ana.people["u_bo"].get("writing") == {"markerId": "m_1"}, what="Bo writing on m_1")
    await bo.ws.send(json.dumps({"type": "stopped-writing", "image": IMAGE}))
    await wait_for(lambda: "writing" not in ana.people["u_bo"], what="Bo stopped writing")
    await bo.close()
    await wait_for(lambda: set(ana.people) == {"u_ana"}, timeout=2.0, what="Bo gone within 2 s")
    await ana.close()

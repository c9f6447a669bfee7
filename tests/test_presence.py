"""Presence over the live WebSocket: who views an image and who writes on which marker; expiry
of a viewer that vanished; hiding; across two server processes over Redis."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from imagechat_tui.client.engine import LinkChanged, LinkState, SyncEngine
from imagechat_tui.protocol.limits import CLOSE_SERVICE_RESTART
from imagechat_tui.server.redis_pubsub import RedisPubSub

from .conftest import IMAGE, Harness, wait_for
from .redis_server import RedisServer
from .test_live import open_ws, subscribe


class Watcher:
    """A raw connection that keeps the presence list it is told."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.people: dict[str, dict] = {}
        self.frames: list[dict] = []
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            async for text in self.ws:
                self._take(json.loads(text))
        except ConnectionClosed:
            pass

    def _take(self, frame: dict) -> None:
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


async def test_a_hidden_viewer_sees_others_and_is_not_seen(server: Harness) -> None:
    ana = await watch(server, await server.token("u_ana", "Ana"))
    hidden = await watch(server, await server.token("u_hid", "Hidden"), hide=True)
    await wait_for(lambda: set(hidden.people) == {"u_ana"}, what="the hidden viewer sees Ana")
    await hidden.ws.send(json.dumps({"type": "writing", "image": IMAGE, "markerId": "m_1"}))
    bo = await watch(server, await server.token("u_bo", "Bo"))  # a frame later than the writing one
    await wait_for(lambda: set(ana.people) == {"u_ana", "u_bo"}, what="Ana sees Bo")
    assert "u_hid" not in ana.people and "u_hid" not in bo.people
    for watcher in (ana, hidden, bo):
        await watcher.close()


async def test_writing_on_an_image_not_subscribed_is_refused(server: Harness) -> None:
    ws = await open_ws(server, await server.token())
    await ws.send(json.dumps({"type": "use-presence", "visible": True}))
    await ws.send(json.dumps({"type": "writing", "image": IMAGE}))
    frame = json.loads(await asyncio.wait_for(ws.recv(), 2))
    assert frame["type"] == "error" and frame["code"] == "not_subscribed"
    await ws.close()


async def test_a_viewer_whose_network_is_lost_is_gone_within_10_s(server: Harness) -> None:
    """No close and no more frames (its heartbeats stop): the server can't tell it from a slow
    network, so only the time-to-live ends it."""
    ana = await watch(server, await server.token("u_ana", "Ana"))
    silent = await open_ws(server, await server.token("u_bo", "Bo"), ping_interval=None)
    await silent.send(json.dumps({"type": "use-presence", "visible": True}))
    await subscribe(silent)
    await wait_for(lambda: "u_bo" in ana.people, what="Bo appears")
    seen_at = time.monotonic()
    heartbeats = asyncio.get_running_loop().create_task(_heartbeats(ana.ws))
    await wait_for(lambda: "u_bo" not in ana.people, timeout=10.0, what="Bo gone within 10 s")
    assert time.monotonic() - seen_at > 5  # by the time-to-live, not by a close
    heartbeats.cancel()
    silent.transport.abort()
    await ana.close()


async def _heartbeats(ws: ClientConnection) -> None:
    while True:
        await ws.send(json.dumps({"type": "heartbeat"}))
        await asyncio.sleep(1.0)


VIEWER = """
import asyncio, json, sys
from websockets.asyncio.client import connect
async def main():
    ws = await connect(sys.argv[1], additional_headers={"Authorization": "Bearer " + sys.argv[2]})
    await ws.send(json.dumps({"type": "use-presence", "visible": True}))
    await ws.send(json.dumps({"type": "subscribe", "image": sys.argv[3], "since": None}))
    await ws.recv()
    print("ready", flush=True)
    while True:
        await ws.send(json.dumps({"type": "heartbeat"}))
        await asyncio.sleep(1)
asyncio.run(main())
"""


async def test_a_killed_viewer_process_is_gone_within_10_s(server: Harness) -> None:
    ana = await watch(server, await server.token("u_ana", "Ana"))
    url = server.url.replace("http", "ws") + "/api/v1/live"
    viewer = subprocess.Popen([sys.executable, "-c", VIEWER, url, await server.token("u_bo", "Bo"), IMAGE],
                              stdout=subprocess.PIPE, text=True)
    try:
        ready = await asyncio.wait_for(asyncio.to_thread(viewer.stdout.readline), 20)  # type: ignore[union-attr]
        assert ready.strip() == "ready"
        await wait_for(lambda: "u_bo" in ana.people, what="Bo appears")
        os.kill(viewer.pid, signal.SIGKILL)
        await wait_for(lambda: "u_bo" not in ana.people, timeout=10.0, what="the killed viewer gone within 10 s")
    finally:
        viewer.kill()
        viewer.wait()
    await ana.close()


# The sync engine: presence state, the writing announcement, hiding, re-announcing after a reconnect.


def names(engine: SyncEngine) -> dict[str, Any]:
    return {u.name: (u.writing.marker_id if u.writing else False) for u in engine.people(IMAGE)}


async def test_engines_see_each_other_and_reannounce_writing_after_a_reconnect(server: Harness, engines) -> None:
    ana = await engines(server.url, await server.token("u_ana", "Ana"))
    bo = await engines(server.url, await server.token("u_bo", "Bo"))
    hidden = await engines(server.url, await server.token("u_hid", "Hidden"), presence=False)
    for engine in (ana, bo, hidden):
        engine.subscribe(IMAGE)
    await wait_for(lambda: names(ana) == names(hidden) == {"Ana": False, "Bo": False}, what="both listed, once")
    bo.writing(IMAGE, "m_7")
    await wait_for(lambda: names(ana)["Bo"] == "m_7", what="Bo writing on m_7")
    links: list[LinkState] = []
    bo.add_listener(lambda notice: isinstance(notice, LinkChanged) and links.append(notice.link.state))
    server.app.hub.close_where(lambda c: c.principal.user_id == "u_bo", CLOSE_SERVICE_RESTART, "restart")
    await wait_for(lambda: links[-2:] == [LinkState.RECONNECTING, LinkState.ONLINE], what="Bo reconnected")
    await wait_for(lambda: names(ana).get("Bo") == "m_7", what="Bo writing after his reconnect")
    # Ana may still see his old connection's writing: his new connection's is announced just after.
    await wait_for(lambda: any(c.user_id == "u_bo" for c in server.app.hub.presence.conns.values()) and all(
        c.writing for c in server.app.hub.presence.conns.values() if c.user_id == "u_bo"), 2,
                   "his new connection writing")
    bo.stopped_writing(IMAGE)
    await wait_for(lambda: names(ana)["Bo"] is False, what="Bo stopped")
    hidden.writing(IMAGE, "m_7")  # says nothing: the check below would see it
    await bo.close()
    await wait_for(lambda: names(ana) == {"Ana": False}, timeout=2.0, what="Bo gone within 2 s of closing")


# Two server processes over a Redis of the test's own.


async def test_presence_across_two_servers_over_redis(make_server, sqlite_database, own_redis: RedisServer) -> None:
    prefix = f"imagechat-presence-{uuid.uuid4().hex[:8]}:"
    first = await make_server(sqlite_database, RedisPubSub(own_redis.url, prefix=prefix))
    second = await make_server(sqlite_database, RedisPubSub(own_redis.url, prefix=prefix))
    ana = await watch(first, await first.token("u_ana", "Ana"))
    # The first server's tick tells Ana what changed (herself) and publishes its account, before
    # the second server views the image: it misses that account.
    await wait_for(lambda: any(f["type"] == "presence-changed" for f in ana.frames), what="the first tick")
    second.tenants = first.tenants
    bo_token = await second.token("u_bo", "Bo")
    bo = await watch(second, bo_token)
    # Within 2 s all the same (the first server repeats its account on hearing from the second)
    await wait_for(lambda: set(ana.people) == set(bo.people) == {"u_ana", "u_bo"}, timeout=2.0,
                   what="each sees the other")
    bo_on_first = await watch(first, bo_token)  # Bo's second terminal, on the other server
    await bo.ws.send(json.dumps({"type": "writing", "image": IMAGE, "markerId": "m_2"}))
    await wait_for(lambda: ana.people["u_bo"].get("writing") == {"markerId": "m_2"}, what="Bo writing, across")
    assert [f for f in ana.frames if f["type"] == "presence-changed" and "u_bo" in f["left"]] == []
    await bo.close()
    await wait_for(lambda: "writing" not in ana.people["u_bo"], timeout=2.0, what="Bo's writing ended")
    await bo_on_first.close()
    await wait_for(lambda: set(ana.people) == {"u_ana"}, timeout=2.0, what="Bo gone")
    await ana.close()

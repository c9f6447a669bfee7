"""Server processes (in this event loop) over one database and a Redis of the test's own, the real
sync engine as subscribers, a writer that keeps what was acknowledged, and the check that proves
convergence: every subscriber holds exactly a fresh snapshot, every acknowledged write once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from imagechat_tui.client.engine import LinkState, SyncEngine
from imagechat_tui.client.rest import RestClient
from imagechat_tui.protocol.models import AddComment, ChatsPage, CreateChat, Marker
from imagechat_tui.server.redis_pubsub import RedisPubSub

from .conftest import IMAGE, Harness, bid, wait_for
from .redis_server import RedisServer


@dataclass(frozen=True)
class Convergence:
    acked: int
    present: int
    seconds: float


@dataclass
class Cluster:
    servers: list[Harness]
    redis: RedisServer
    prefix: str
    subscribers: list[SyncEngine] = field(default_factory=list)
    acked: list[str] = field(default_factory=list)
    """Ids of the markers and comments whose writes were acknowledged."""
    writers: dict[int, RestClient] = field(default_factory=dict)
    """One REST client per server, all with the writer's token."""
    writer_token: str | None = None
    marker_id: str | None = None

    async def subscribe(self, engines: Callable[..., Any], per_server: int) -> None:
        """Start `per_server` engines on each server, following IMAGE, and wait until all are live."""
        for i, server in enumerate(self.servers):
            for j in range(per_server):
                engine = await engines(server.url, await server.token(f"u_{i}_{j}", f"Sub {i}.{j}"))
                engine.subscribe(IMAGE)
                self.subscribers.append(engine)
        await wait_for(lambda: all(e.link.state is LinkState.ONLINE and e.state(IMAGE).loaded
                                   for e in self.subscribers), 10.0, "every subscriber live")

    async def write(self, text: str, through: int = 0) -> None:
        """One write through server `through` (a marker first, then comments on it); what it
        created is counted as acknowledged once the answer is in."""
        writer = await self._writer(through)
        if self.marker_id is None:
            created = await writer.create_chat(CreateChat(image=IMAGE, x=50, y=50, text=text, broadcast_id=bid()))
            self.marker_id = created.marker.id
            self.acked += [created.marker.id, created.marker.comments[0].id]
        else:
            added = await writer.add_comment(self.marker_id, AddComment(text=text, broadcast_id=bid()))
            self.acked.append(added.comment.id)

    async def _writer(self, through: int) -> RestClient:
        if through not in self.writers:
            if self.writer_token is None:
                self.writer_token = await self.servers[0].token("u_writer", "Writer")
            self.writers[through] = RestClient(self.servers[through].url, self.writer_token)
        return self.writers[through]

    async def snapshot(self) -> ChatsPage:
        return await (await self._writer(0)).chats(IMAGE)

    async def converge(self, timeout: float = 10.0) -> Convergence:
        """Wait until every subscriber holds exactly a fresh snapshot, and check that it has every
        acknowledged write exactly once."""
        page = await self.snapshot()
        ids = [m.id for m in page.markers] + [c.id for m in page.markers for c in m.comments]
        assert len(ids) == len(set(ids)), "a write is present twice"
        present = sum(1 for i in set(self.acked) if i in ids)
        assert present == len(self.acked), f"{len(self.acked) - present} acknowledged writes are missing"
        wanted = _dump(page.markers)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await wait_for(lambda: all(e.state(IMAGE).seq == page.seq and _dump(e.markers(IMAGE)) == wanted
                                   for e in self.subscribers), timeout, "every subscriber at the snapshot")
        return Convergence(len(self.acked), present, loop.time() - started)

    async def close(self) -> None:
        for writer in self.writers.values():
            await writer.aclose()


def _dump(markers: list[Marker]) -> list[dict[str, Any]]:
    return sorted((m.model_dump() for m in markers), key=lambda m: m["id"])


METRICS_TOKEN = "cluster-metrics"


async def start_cluster(make_server: Callable[..., Any], database_url: str, redis: RedisServer,
                        processes: int = 2) -> Cluster:
    prefix = f"imagechat-test-{uuid.uuid4().hex[:8]}:"
    servers = [await make_server(database_url, RedisPubSub(redis.url, prefix=prefix), metrics_token=METRICS_TOKEN)
               for _ in range(processes)]
    await servers[0].token("u_first", "First")  # creates the tenant, which the others share
    for server in servers[1:]:
        server.tenants = servers[0].tenants
    return Cluster(servers, redis, prefix)

"""What an operator of several processes relies on: /readyz, and a schema migrated exactly once
however many processes start at once."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from imagechat_tui.client.errors import RequestError
from imagechat_tui.client.rest import RestClient
from imagechat_tui.protocol.models import CreateChat
from imagechat_tui.server.database import Database
from imagechat_tui.server.ratelimit import RateLimiter, RedisRateLimiter
from imagechat_tui.server.redis_pubsub import RedisPubSub
from imagechat_tui.server.schema import SCHEMA_VERSION, meta, prepare

from .conftest import IMAGE, bid, fresh_postgres_database
from .redis_server import RedisServer


async def test_readyz_is_503_with_the_reason_while_redis_is_down_and_healthz_stays_200(
        make_server: Callable[..., Any], sqlite_database: str, own_redis: RedisServer) -> None:
    harness = await make_server(sqlite_database, RedisPubSub(own_redis.url))
    async with httpx.AsyncClient(base_url=harness.url, timeout=10) as http:
        ready = await http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        own_redis.kill()
        down = await http.get("/readyz")
        assert down.status_code == 503
        assert down.json()["error"]["code"] == "not_ready" and "pub/sub" in down.json()["error"]["message"]
        assert "database" not in down.json()["error"]["message"]
        assert (await http.get("/healthz")).status_code == 200  # alive, only not ready
        own_redis.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while (await http.get("/readyz")).status_code != 200:
            assert loop.time() < deadline, "still not ready 10 s after Redis came back"
            await asyncio.sleep(0.05)


async def prepare_at_once(urls: list[str]) -> list[int]:
    """`prepare` on each URL at the same moment, each in a thread and event loop of its own with
    its own connections, as separate processes would."""
    start = threading.Barrier(len(urls))

    def one(url: str) -> int:
        async def run() -> int:
            db = Database(url)
            try:
                start.wait(30)
                return await db.run(prepare)
            finally:
                await db.dispose()

        return asyncio.run(run())

    return await asyncio.wait_for(asyncio.gather(*(asyncio.to_thread(one, url) for url in urls)), 60)


async def schema_versions(url: str) -> list[tuple[str, str]]:
    db = Database(url)
    try:
        return [tuple(r) for r in await db.run(lambda conn: conn.execute(select(meta.c.key, meta.c.value)).all())]
    finally:
        await db.dispose()


@pytest.mark.postgres
async def test_four_processes_preparing_a_fresh_postgres_database_at_once_all_succeed_one_migration() -> None:
    async with fresh_postgres_database() as url:
        assert await prepare_at_once([url] * 4) == [SCHEMA_VERSION] * 4
        assert await schema_versions(url) == [("schema_version", str(SCHEMA_VERSION))]


async def test_four_processes_preparing_a_fresh_sqlite_database_at_once_all_succeed(sqlite_database: str) -> None:
    assert await prepare_at_once([sqlite_database] * 4) == [SCHEMA_VERSION] * 4
    assert await schema_versions(sqlite_database) == [("schema_version", str(SCHEMA_VERSION))]


async def writes_until_refused(clients: list[RestClient], most: int = 20) -> tuple[int, str]:
    """Write through the clients in turn until one is refused with 429: (writes granted, why)."""
    for n in range(most):
        try:
            await clients[n % len(clients)].create_chat(CreateChat(image=IMAGE, x=1, y=1, text=f"{n}",
                                                                   broadcast_id=bid()))
        except RequestError as exc:
            assert exc.status == 429, exc
            return n, str(exc)
    raise AssertionError(f"{most} writes and none refused")


async def test_write_limits_hold_across_processes_through_redis_and_per_process_while_it_is_down(
        make_server: Callable[..., Any], sqlite_database: str, own_redis: RedisServer) -> None:
    prefix = f"imagechat-test-{uuid.uuid4().hex[:8]}:"
    servers = [await make_server(sqlite_database, limiter=RedisRateLimiter(own_redis.url, 0.01, 4, prefix))
               for _ in range(2)]
    token = await servers[0].token()
    clients = [RestClient(s.url, token) for s in servers]
    try:
        refused = (4, "too many writes; retry in 100 s")
        assert await writes_until_refused(clients) == refused  # not 4 per process
        own_redis.kill()
        assert await writes_until_refused(clients[:1]) == refused  # this process's own bucket
    finally:
        for client in clients:
            await client.aclose()


async def test_the_redis_bucket_answers_as_the_in_process_one(own_redis: RedisServer) -> None:
    shared = RedisRateLimiter(own_redis.url, 0.001, 3, f"imagechat-test-{uuid.uuid4().hex[:8]}:")
    local = RateLimiter(0.001, 3)
    try:
        for key in [("t", "a")] * 5 + [("t", "b")] * 2:
            assert await shared.retry_after(key) == await local.retry_after(key), key
    finally:
        await shared.close()

"""What an operator of several processes relies on: /readyz, and a schema migrated exactly once
however many processes start at once."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import select

from imagechat_tui.server.database import Database
from imagechat_tui.server.redis_pubsub import RedisPubSub
from imagechat_tui.server.schema import SCHEMA_VERSION, meta, prepare

from .conftest import POSTGRES_URL, services_unavailable
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


@contextlib.asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str]:
    """A new, empty database of this test's own (others' tests share the `test` one)."""
    name = f"imagechat_{uuid.uuid4().hex[:12]}"
    try:
        admin = await asyncio.wait_for(asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg", "postgresql")), 5)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        services_unavailable("PostgreSQL")
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        try:
            yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
        finally:
            await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
    finally:
        await admin.close()


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

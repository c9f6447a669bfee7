"""Shared fixtures: a real server on loopback (SQLite, or the local PostgreSQL), tokens, engines."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from imagechat_tui.client.engine import Backoff, SyncEngine
from imagechat_tui.protocol.imagekey import data_image_key
from imagechat_tui.protocol.models import Role
from imagechat_tui.server import admin
from imagechat_tui.server.app import ImageChatServer
from imagechat_tui.server.config import ServerConfig, sqlite_url
from imagechat_tui.server.pubsub import LocalPubSub, PubSub
from imagechat_tui.server.ratelimit import Limiter
from imagechat_tui.server.runner import build_runner
from imagechat_tui.server.store import Principal, Store

from .redis_server import RedisServer

REQUIRE_SERVICES = os.environ.get("IMAGECHAT_REQUIRE_SERVICES") == "1"
"""Set by .ci/run: a test that needs PostgreSQL or Redis fails instead of skipping."""
POSTGRES_URL = os.environ.get("IMAGECHAT_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")

key_of = data_image_key
"""The content key (`sha256:<hex>`) of some bytes: the only kind new markers are placed on."""
IMAGE = key_of(b"screenshot 4711")
LEGACY_IMAGE = "https://shots.example.com/4711.png"
"""A URL key of the previous version: readable, and adoptable, but no new marker goes on it."""


def bid() -> str:
    return str(uuid.uuid4())


async def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> None:
    """Poll `predicate` until it is true; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.005)


def services_unavailable(what: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required in CI (IMAGECHAT_REQUIRE_SERVICES=1) but not reachable")
    pytest.skip(f"{what} not reachable")


@contextlib.asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str]:
    """A new, empty database of this test's own (others' tests share the `test` one)."""
    import asyncpg

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


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Both storage back-ends, for the tests that ask for this fixture; PostgreSQL in a database of
    the test's own (helpers working at once share the server: a shared one was dropped under them)."""
    if request.param == "postgres":
        async with fresh_postgres_database() as url:
            yield url
        return
    yield sqlite_url(tmp_path)


@pytest.fixture
def sqlite_database(tmp_path: Path) -> str:
    return sqlite_url(tmp_path)


async def principal_in(store: Store, user: str = "u_ana", role: Role = "member") -> Principal:
    """A principal of tenant "acme" (made if missing) for tests that call the store directly."""
    with contextlib.suppress(admin.AdminError):
        await admin.create_tenant(store.db, "acme")
    _, token = await admin.create_token(store.db, "acme", user, user, role)
    found = await store.principal(token)
    assert found is not None
    return found


@dataclass
class Harness:
    """A running server and helpers to mint identities on it."""

    app: ImageChatServer
    url: str
    tenants: dict[str, str] = field(default_factory=dict)

    async def token_with_id(self, user: str = "u_ana", name: str = "Ana", role: Role = "member",
                            tenant: str = "acme") -> tuple[str, str]:
        if tenant not in self.tenants:
            self.tenants[tenant] = await admin.create_tenant(self.app.db, tenant)
        return await admin.create_token(self.app.db, tenant, user, name, role)

    async def token(self, user: str = "u_ana", name: str = "Ana", role: Role = "member", tenant: str = "acme") -> str:
        return (await self.token_with_id(user, name, role, tenant))[1]


@pytest_asyncio.fixture
async def make_server() -> AsyncIterator[Callable[..., Any]]:
    """Start servers on loopback in this event loop; all are stopped at the end of the test."""
    runners = []

    async def start(database_url: str, pubsub: PubSub | None = None, port: int = 0, certfile: str | None = None,
                    keyfile: str | None = None, limiter: Limiter | None = None, **config: Any) -> Harness:
        settings = {"write_rate": 1000.0, "write_burst": 1000.0, "revocation_poll": 0.05} | config
        app = ImageChatServer(ServerConfig(database_url=database_url, **settings), pubsub or LocalPubSub(), limiter)
        runner = build_runner(app, host="127.0.0.1", port=port, certfile=certfile, keyfile=keyfile, announce=False)
        task = asyncio.create_task(runner.serve())
        runners.append((runner, task))
        await wait_for(lambda: runner.started or task.done(), 10, "the server to start")
        if task.done():
            task.result()
        return Harness(app, runner.url)

    start.runners = runners  # type: ignore[attr-defined]
    yield start
    for runner, _ in runners:
        runner.should_exit = True
    await asyncio.gather(*(task for _, task in runners), return_exceptions=True)


async def stop_server(make_server: Any, harness: Harness) -> None:
    for runner, task in make_server.runners:
        if runner.imagechat is harness.app:
            runner.should_exit = True
            await task


@pytest_asyncio.fixture
async def server(make_server: Callable[..., Any], sqlite_database: str) -> Harness:
    return await make_server(sqlite_database)


@pytest_asyncio.fixture
async def engines() -> AsyncIterator[Callable[..., Any]]:
    """Make started sync engines; all are closed at the end of the test."""
    made: list[SyncEngine] = []

    async def make(url: str, token: str, backoff: Backoff = Backoff(0.05, 0.5),
                   cafile: str | None = None, presence: bool = True) -> SyncEngine:
        engine = SyncEngine(url, token, backoff=backoff, cafile=cafile, presence=presence)
        made.append(engine)
        await engine.start()
        return engine

    yield make
    await asyncio.gather(*(engine.close() for engine in made))


@dataclass
class ThreadedServer:
    """A server on its own event loop in a thread, for synchronous tests (schemathesis, snapshots)."""

    app: ImageChatServer
    url: str
    loop: asyncio.AbstractEventLoop

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def token(self, user: str, name: str, role: Role = "member", tenant: str = "acme") -> str:
        async def make() -> str:
            try:
                await admin.create_tenant(self.app.db, tenant)
            except admin.AdminError:
                pass
            return (await admin.create_token(self.app.db, tenant, user, name, role))[1]

        return self.run(make())


@pytest.fixture(scope="module")
def threaded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedServer]:
    app = ImageChatServer(ServerConfig(sqlite_url(tmp_path_factory.mktemp("server")), write_rate=1e6,
                                       write_burst=1e6))
    runner = build_runner(app, host="127.0.0.1", port=0, announce=False)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(runner.serve(),), daemon=True)
    thread.start()

    async def started() -> None:
        while not runner.started:
            await asyncio.sleep(0.01)

    asyncio.run_coroutine_threadsafe(asyncio.wait_for(started(), 30), loop).result(35)
    yield ThreadedServer(app, runner.url, loop)
    runner.should_exit = True
    thread.join(15)


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A started redis-server of this test's own, killed at the end."""
    if not RedisServer.available():
        services_unavailable("redis-server")
    server = RedisServer()
    server.start()
    yield server
    server.kill()

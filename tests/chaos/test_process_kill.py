"""A server process `kill -9`ed mid-stream: two server processes (real ones) over PostgreSQL and a
Redis of the test's own, writes spread over both, two sync engines on each. The killed process
comes back on its port; its engines reconnect and resync by seq."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import dataclass, field

import httpx
import pytest

from imagechat_tui.client.errors import ClientError
from imagechat_tui.protocol.models import Role
from imagechat_tui.server import admin
from imagechat_tui.server.database import Database
from imagechat_tui.server.schema import prepare

from ..cluster import Cluster
from ..conftest import POSTGRES_URL, reset_postgres, wait_for
from ..redis_server import RedisServer, free_port

WRITES = 40


@dataclass
class ServerProcess:
    """`imagechat-server` in a process of its own, on a fixed port so that it can come back on it."""

    db: Database
    redis_url: str
    tenants: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "imagechat_tui.server.cli", "--database-url", POSTGRES_URL, "--redis-url",
             self.redis_url, "--port", str(self.port), "--write-rate", "1000", "--write-burst", "1000"],
            stdout=subprocess.DEVNULL)
        async with httpx.AsyncClient() as http:
            async def healthy() -> bool:
                try:
                    return (await http.get(self.url + "/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            async with asyncio.timeout(20):
                while not await healthy():
                    assert self.process.poll() is None, "the server process exited"
                    await asyncio.sleep(0.05)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    async def token(self, user: str, name: str, role: Role = "member", tenant: str = "acme") -> str:
        if tenant not in self.tenants:
            self.tenants[tenant] = await admin.create_tenant(self.db, tenant)
        return (await admin.create_token(self.db, tenant, user, name, role))[1]


@pytest.mark.postgres
async def test_a_server_process_killed_mid_stream(own_redis: RedisServer, engines, figures) -> None:
    await reset_postgres(POSTGRES_URL)
    db = Database(POSTGRES_URL)
    await db.run(prepare)
    processes = [ServerProcess(db, own_redis.url) for _ in range(2)]
    processes[1].tenants = processes[0].tenants
    cluster = Cluster(processes, own_redis, "imagechat:")  # type: ignore[arg-type]
    try:
        for process in processes:
            await process.start()
        await cluster.subscribe(engines, per_server=2)
        refused = 0
        for i in range(WRITES):
            if i == 15:
                processes[1].kill()
            if i == 25:
                await processes[1].start()
            try:
                await cluster.write(f"write {i}", through=i % 2)
            except ClientError:  # sent to the dead process: not acknowledged, so not counted
                refused += 1
        assert 0 < refused <= 5
        result = await cluster.converge()
        figures(1, result.acked, result.present, result.seconds)
    finally:
        for process in processes:
            if process.process is not None and process.process.poll() is None:
                process.process.terminate()
                process.process.wait(10)
        await cluster.close()
        await db.dispose()

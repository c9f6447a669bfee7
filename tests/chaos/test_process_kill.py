"""A server process `kill -9`ed mid-stream: two server processes (real ones) over PostgreSQL and a
Redis of the test's own, writes spread over both, two sync engines on each. The killed process
comes back on its port; its engines reconnect and resync by seq."""

from __future__ import annotations

import pytest

from imagechat_tui.client.errors import ClientError
from imagechat_tui.server.database import Database
from imagechat_tui.server.schema import prepare

from ..cluster import Cluster
from ..conftest import fresh_postgres_database
from ..redis_server import RedisServer
from .processes import ServerProcess

WRITES = 40


@pytest.mark.postgres
async def test_a_server_process_killed_mid_stream(own_redis: RedisServer, engines, figures) -> None:
    async with fresh_postgres_database() as url:  # the shared `test` one is dropped by others' tests
        db = Database(url)
        await db.run(prepare)
        processes = [ServerProcess(db, url, ("--redis-url", own_redis.url)) for _ in range(2)]
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
                process.stop()
            await cluster.close()
            await db.dispose()

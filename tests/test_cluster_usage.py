"""Usage figures for the whole cluster: two real server processes on one SQLite database, with live
clients on each; over a Redis of the test's own the totals add up and a process killed with
SIGKILL drops out of them; without Redis each process counts its own connections, as before."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio

from imagechat_tui.server.cluster_usage import LIVE_FOR, Live, RedisTally
from imagechat_tui.server.config import sqlite_url
from imagechat_tui.server.database import Database
from imagechat_tui.server.schema import prepare

from .chaos.processes import ServerProcess
from .redis_server import RedisServer
from .test_live import recv
from .test_rest import create, subscriber
from .test_scaleout import wait_for_async

METRICS_TOKEN = "usage-metrics"
DROPPED_WITHIN = 15.0
"""Seconds within which a killed process's connections must leave the totals (LIVE_FOR is less)."""


@pytest_asyncio.fixture
async def start_processes(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Start `imagechat-server` processes on one SQLite database, sharing one tenant; all stopped at the end."""
    url = sqlite_url(tmp_path)
    db = Database(url)
    await db.run(prepare)
    started: list[ServerProcess] = []

    async def start(count: int, *options: str) -> list[ServerProcess]:
        for _ in range(count):
            process = ServerProcess(db, url, ("--metrics-token", METRICS_TOKEN, *options))
            if started:
                process.tenants = started[0].tenants
            await process.start()
            started.append(process)
        return started

    yield start
    for process in started:
        process.stop()
    await db.dispose()


async def usage(process: ServerProcess, token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=process.url, headers={"Authorization": f"Bearer {token}"}) as http:
        answer = await http.get("/api/v1/usage")
    assert answer.status_code == 200, answer.text
    return answer.json()


async def metric(process: ServerProcess, name: str, tenant: str) -> float:
    async with httpx.AsyncClient(base_url=process.url,
                                 headers={"Authorization": f"Bearer {METRICS_TOKEN}"}) as http:
        text = (await http.get("/metrics")).text
    found = re.search(rf'^{name}{{tenant="{tenant}"}} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_usage_is_the_clusters_total_and_a_killed_process_leaves_it(start_processes,
                                                                          own_redis: RedisServer) -> None:
    first, second = await start_processes(2, "--redis-url", own_redis.url)
    admin = await first.token("u_root", "Root", "admin")
    watchers = [await subscriber(first, await first.token(f"u_a{i}", "A")) for i in range(2)]
    watchers += [await subscriber(second, await second.token(f"u_b{i}", "B")) for i in range(3)]
    tenant = first.tenants["acme"]

    for process in (first, second):
        await wait_for_async(lambda p=process: usage(p, admin), lambda u: u["connections"] == 5,
                             "five connections counted by each process")
    assert await metric(first, "imagechat_connections", tenant) == 2  # per process, still there
    assert await metric(second, "imagechat_connections", tenant) == 3
    assert await metric(first, "imagechat_cluster_connections", tenant) == 5

    writer = await first.token("u_ana", "Ana")
    async with httpx.AsyncClient(base_url=first.url + "/api/v1", headers={"Authorization": f"Bearer {writer}"}) as ana:
        await create(ana)
    for ws in watchers:
        await recv(ws)
    # Well before the 5 s flush to the database: the processes' unflushed counts, summed.
    await wait_for_async(lambda: usage(second, admin), lambda u: u["pubSubMessageCount"] == 5,
                         "five deliveries counted, from both processes", timeout=LIVE_FOR)
    assert await metric(second, "imagechat_cluster_pubsub_messages", tenant) == 5

    second.kill()
    await wait_for_async(lambda: usage(first, admin), lambda u: u["connections"] == 2,
                         "the killed process's connections gone", timeout=DROPPED_WITHIN)
    for ws in watchers:
        await ws.close()
    await wait_for_async(lambda: usage(first, admin), lambda u: u["connections"] == 0, "no connection left")


async def test_without_redis_each_process_counts_its_own_connections(start_processes) -> None:
    first, second = await start_processes(2)
    admin = await first.token("u_root", "Root", "admin")
    watchers = [await subscriber(first, await first.token("u_a", "A"))]
    watchers += [await subscriber(second, await second.token(f"u_b{i}", "B")) for i in range(2)]
    assert (await usage(first, admin))["connections"] == 1
    assert (await usage(second, admin))["connections"] == 2
    assert await metric(second, "imagechat_cluster_connections", second.tenants["acme"]) == 2
    for ws in watchers:
        await ws.close()


async def test_the_redis_tally_sums_live_processes_and_never_fails_a_read(own_redis: RedisServer) -> None:
    """In-process: each tally sees the others' figures, not its own; a withdrawn one is gone at
    once; with Redis down a report is dropped and a read is empty (the process's own figures)."""
    first, second, third = (RedisTally(own_redis.url, prefix="t:") for _ in range(3))
    try:
        await first.report({"acme": Live(2, 5, 500)})
        await second.report({"acme": Live(3, 1, 100), "other": Live(1, 0, 0)})
        assert await third.others() == {"acme": Live(5, 6, 600), "other": Live(1, 0, 0)}
        assert await first.others() == {"acme": Live(3, 1, 100), "other": Live(1, 0, 0)}
        await second.close()
        assert await third.others() == {"acme": Live(2, 5, 500)}
        own_redis.kill()
        await first.report({"acme": Live(1, 0, 0)})
        assert await third.others() == {}
    finally:
        for tally in (first, third):
            await tally.close()

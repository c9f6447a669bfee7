"""Several server processes on one database, fanning out through Redis pub/sub."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
import redis.asyncio as redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from imagechat_tui.client.engine import LinkState
from imagechat_tui.server.store import topic_of

from .cluster import METRICS_TOKEN, Cluster, start_cluster
from .conftest import IMAGE, services_unavailable, wait_for
from .redis_server import RedisServer

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def redis_pubsub_factory():
    """RedisPubSub instances on a channel prefix of this test's own."""
    import redis.asyncio as redis

    from imagechat_tui.server.redis_pubsub import RedisPubSub

    client = redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (redis.RedisError, OSError):
        services_unavailable("Redis")
    finally:
        await client.aclose()
    prefix = f"imagechat-test-{uuid.uuid4().hex[:8]}:"
    return lambda: RedisPubSub(REDIS_URL, prefix=prefix)


async def test_two_servers_on_one_database_share_live_changes(make_server, sqlite_database, engines,
                                                              redis_pubsub_factory) -> None:
    first = await make_server(sqlite_database, redis_pubsub_factory())
    second = await make_server(sqlite_database, redis_pubsub_factory())
    token_a = await first.token("u_ana", "Ana")
    second.tenants = first.tenants  # same database: the tenant exists already
    token_b = await second.token("u_bob", "Bob")
    a = await engines(first.url, token_a)
    b = await engines(second.url, token_b)
    for engine in (a, b):
        engine.subscribe(IMAGE)
        await wait_for(lambda e=engine: e.link.state is LinkState.ONLINE and e.state(IMAGE).loaded)

    marker = await a.create_marker(IMAGE, 10, 20, "from server one")
    await wait_for(lambda: any(m.id == marker.id for m in b.markers(IMAGE)), 1.0, "the marker on server two")
    await b.add_comment(IMAGE, marker.id, "answered through server two")
    await wait_for(lambda: a.state(IMAGE).seq == 2, 1.0, "the reply on server one")
    assert [m.model_dump() for m in a.markers(IMAGE)] == [m.model_dump() for m in b.markers(IMAGE)]


def test_an_unreachable_redis_is_one_clear_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "imagechat_tui.server.cli", "--data-dir", str(tmp_path), "--port", "0",
         "--redis-url", "redis://127.0.0.1:1/0"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "can't reach Redis" in done.stderr and "Traceback" not in done.stderr


# Redis faults: own redis-server, two server processes on one SQLite database, engines on both.


@pytest.fixture
async def cluster(make_server, sqlite_database, own_redis, engines):
    made = await start_cluster(make_server, sqlite_database, own_redis)
    await made.subscribe(engines, per_server=1)
    await made.write("before the fault")
    yield made
    await made.close()


async def test_writes_made_while_redis_is_down_reach_every_subscriber_once_it_is_back(cluster: Cluster) -> None:
    """Redis down for the end of a write stream: nothing later arrives to reveal the gap."""
    cluster.redis.kill()
    for i in range(3):
        await cluster.write(f"while Redis is down {i}")
    cluster.redis.start()
    await cluster.converge(timeout=5.0)


async def test_the_first_write_after_redis_restarts_reaches_the_other_server(cluster: Cluster) -> None:
    """The writing server's pooled Redis connection died with Redis; its publish must not."""
    await cluster.converge()
    cluster.redis.kill()
    cluster.redis.start()
    client = redis.from_url(cluster.redis.url)
    channel = cluster.prefix + topic_of(next(iter(cluster.servers[0].tenants.values())), IMAGE)
    try:
        await wait_for_async(lambda: client.pubsub_numsub(channel), lambda counts: counts[0][1] == 2,
                             "both servers subscribed again")
    finally:
        await client.aclose()
    await cluster.write("the first after the restart")
    await cluster.converge(timeout=2.0)


async def test_a_malformed_message_on_the_channel_does_not_stop_live_delivery(cluster: Cluster) -> None:
    client = redis.from_url(cluster.redis.url)
    channel = cluster.prefix + topic_of(next(iter(cluster.servers[0].tenants.values())), IMAGE)
    try:
        await client.publish(channel, b"\xff not a message")
    finally:
        await client.aclose()
    await cluster.write("after the garbage")
    await cluster.converge(timeout=2.0)
    async with httpx.AsyncClient() as http:
        for server in cluster.servers:
            metrics = (await http.get(server.url + "/metrics",
                                      headers={"Authorization": f"Bearer {METRICS_TOKEN}"})).text
            assert "imagechat_pubsub_malformed_total 1.0" in metrics


async def test_a_subscribe_while_redis_is_down_is_closed_with_1013_then_resyncs(cluster: Cluster, engines) -> None:
    server = cluster.servers[1]
    token = await server.token("u_late", "Late")
    cluster.redis.kill()
    async with connect(server.url.replace("http", "ws") + "/api/v1/live",
                       additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        await ws.send(json.dumps({"type": "subscribe", "image": "https://other.example.com/1.png", "since": None}))
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5.0)
        assert ws.close_code == 1013
    late = await engines(server.url, token)
    late.subscribe("https://other.example.com/1.png")
    cluster.redis.start()
    await wait_for(lambda: late.link.state is LinkState.ONLINE and late.state("https://other.example.com/1.png").loaded,
                   5.0, "the late subscriber live once Redis is back")
    cluster.subscribers.append(late)
    late.subscribe(IMAGE)
    await cluster.write("after the outage")
    await cluster.converge(timeout=5.0)


async def wait_for_async(ask, done, what: str, timeout: float = 5.0) -> None:
    """Ask (a coroutine function) until `done` says the answer is right; fail after `timeout`."""
    async with asyncio.timeout(timeout):
        while not done(await ask()):
            await asyncio.sleep(0.01)


def test_the_scaleout_benchmark_runs_at_a_tiny_size() -> None:
    """bench/scaleout.py end to end (one process, a handful of subscribers, under a second of writes):
    its figures are for people to read, this only keeps the script working."""
    if not RedisServer.available():
        services_unavailable("redis-server")
    script = Path(__file__).parents[1] / "bench" / "scaleout.py"
    done = subprocess.run([sys.executable, str(script), "--processes", "1", "--subscribers", "6", "--generators", "1",
                           "--probes", "2", "--rate", "10", "--steady", "0.3", "--burst", "0.2"],
                          capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line.split()[:1] == ["1"]]
    assert len(rows) == 2, done.stdout  # one per phase, for K = 1
    assert all(float(row[6]) == 1.0 for row in rows), done.stdout  # delivered / expected

"""Several server processes on one database, fanning out through Redis pub/sub."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from imagechat_tui.client.engine import LinkState

from .conftest import IMAGE, services_unavailable, wait_for

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

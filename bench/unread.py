"""Unread markers across a user's terminals: how long after one engine of Ana marks a marker read
(`POST /images/{key}/read`) her other engine drops its unread mark (the `markers-read` frame on her
notifications feed), and how long after Bo's new marker is written both of hers show it unread.

    python bench/unread.py                  # 50 rounds, SQLite in a temp dir
    python bench/unread.py --database-url postgresql+asyncpg://postgres@127.0.0.1/test

The server runs in this process, the three engines on the same loop over loopback WebSockets.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from upload import serving

from imagechat_tui.client.engine import LinkState, SyncEngine
from imagechat_tui.server import admin
from imagechat_tui.server.app import ImageChatServer
from imagechat_tui.server.config import ServerConfig, sqlite_url

IMAGE = "sha256:" + "e" * 64


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        await asyncio.sleep(0.0005)


def summary(what: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[int(len(ms) * 0.95) - 1]
    return f"{what}: median {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms, max {ms[-1]:.1f} ms"


async def run(database_url: str, rounds: int) -> None:
    app = ImageChatServer(ServerConfig(database_url))
    runner, task = await serving(app)
    engines: list[SyncEngine] = []
    try:
        tenant = f"bench-{time.time_ns()}"
        await admin.create_tenant(app.db, tenant)
        ana = (await admin.create_token(app.db, tenant, "u_ana", "Ana", "member"))[1]
        bo = (await admin.create_token(app.db, tenant, "u_bo", "Bo", "member"))[1]
        engines = [SyncEngine(runner.url, token) for token in (ana, ana, bo)]
        for engine in engines:
            await engine.start()
        await until(lambda: all(engine.link.state is LinkState.ONLINE for engine in engines))
        for engine in engines:
            engine.subscribe(IMAGE)
            await engine.wait_synced(IMAGE)
        first, second, writer = engines
        unread_after, read_after = [], []
        for n in range(rounds):
            started = time.perf_counter()
            marker = (await writer.create_marker(IMAGE, 1 + n % 98, 50, f"round {n}")).id
            await until(lambda m=marker: m in first.unread(IMAGE) and m in second.unread(IMAGE))
            unread_after.append(time.perf_counter() - started)
            started = time.perf_counter()
            await first.mark_marker_read(IMAGE, marker)
            await until(lambda m=marker: m not in second.unread(IMAGE))
            read_after.append(time.perf_counter() - started)
        print(f"{rounds} rounds, {database_url.split(':')[0]}, loopback, one process")
        print(summary("Bo's new marker written -> unread on both of Ana's engines", unread_after))
        print(summary("read on Ana's first engine -> dropped on her second", read_after))
    finally:
        for engine in engines:
            await engine.close()
        runner.should_exit = True
        await task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args.database_url or sqlite_url(Path(tmp)), args.rounds))


if __name__ == "__main__":
    main()

"""Image upload benchmark: `PUT /api/v1/images/{key}` of a photo-like PNG over loopback, then
fetching it back, on SQLite (default) or PostgreSQL. Prints the median of each over the repeats.

    python bench/upload.py                       # a 10 MB PNG, 5 uploads, SQLite in a temp dir
    python bench/upload.py --megabytes 24 --database-url postgresql+asyncpg://postgres@127.0.0.1/test

The server runs in this process (the client is httpx on the same loop): the figures are the
whole round trip, hashing, decoding, thumbnail and the database write included.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from imagechat_tui.server import admin
from imagechat_tui.server.app import ImageChatServer
from imagechat_tui.server.config import ServerConfig, sqlite_url
from imagechat_tui.server.runner import build_runner


def noisy_png(megabytes: float) -> bytes:
    """A PNG of random pixels (incompressible) of about `megabytes` MB."""
    side = int((megabytes * 1e6 / 3) ** 0.5)
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


async def serving(app: ImageChatServer) -> tuple[Any, asyncio.Task[None]]:
    """`app` served on a free loopback port in this process: its runner (`url`, `should_exit`) and
    the task serving it, once it accepts connections."""
    runner = build_runner(app, host="127.0.0.1", port=0, announce=False)
    task = asyncio.create_task(runner.serve())
    for _ in range(3000):  # up to 30 s
        if runner.started or task.done():
            break
        await asyncio.sleep(0.01)
    if not runner.started:
        raise SystemExit("the server did not start")
    return runner, task


async def run(database_url: str, megabytes: float, repeat: int) -> None:
    app = ImageChatServer(ServerConfig(database_url))
    runner, task = await serving(app)
    uploads, downloads = [], []
    try:
        name = f"bench-{time.time_ns()}"
        await admin.create_tenant(app.db, name)
        _, token = await admin.create_token(app.db, name, "u_bench", "Bench", "member")
        async with httpx.AsyncClient(base_url=runner.url + "/api/v1", timeout=60,
                                     headers={"Authorization": f"Bearer {token}"}) as http:
            for _ in range(repeat):
                data = noisy_png(megabytes)
                key = f"sha256:{hashlib.sha256(data).hexdigest()}"
                started = time.perf_counter()
                answer = await http.put(f"/images/{key}", content=data)
                uploads.append(time.perf_counter() - started)
                assert answer.status_code == 201, answer.text
                started = time.perf_counter()
                fetched = await http.get(f"/images/{key}/content")
                downloads.append(time.perf_counter() - started)
                assert fetched.content == data
        print(f"{len(data) / 1e6:.1f} MB PNG, {repeat} runs, {database_url.split(':')[0]}: "
              f"upload median {statistics.median(uploads) * 1000:.0f} ms (max {max(uploads) * 1000:.0f}), "
              f"download median {statistics.median(downloads) * 1000:.0f} ms")
    finally:
        runner.should_exit = True
        await task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args.database_url or sqlite_url(Path(tmp)), args.megabytes, args.repeat))


if __name__ == "__main__":
    main()

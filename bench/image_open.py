"""Getting an image's bytes in the viewer (client/images.py `resolve`): a signed URL downloaded over
loopback, the same URL again from the image cache, and a link (`sha256:<hex>`) from the server's store
and then from the cache. Decoding is not included: bench/pyramid.py measures it. Prints medians.

    python bench/image_open.py                   # a 10 MB PNG, 5 runs each
    python bench/image_open.py --megabytes 24
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from upload import noisy_png, serving

from imagechat_tui.client.imagecache import ImageCache
from imagechat_tui.client.images import resolve, share
from imagechat_tui.client.rest import RestClient
from imagechat_tui.server import admin
from imagechat_tui.server.app import ImageChatServer
from imagechat_tui.server.config import ServerConfig, sqlite_url


def web_server(body: bytes) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the stdlib's name
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


async def median_ms(repeat: int, make: Callable[[int], Awaitable[object]]) -> str:
    times = []
    for run in range(repeat):
        started = time.perf_counter()
        await make(run)
        times.append(time.perf_counter() - started)
    return f"{statistics.median(times) * 1000:.0f} ms"


async def run(megabytes: float, repeat: int, folder: Path) -> None:
    data = noisy_png(megabytes)
    web = web_server(data)
    app = ImageChatServer(ServerConfig(sqlite_url(folder)))
    runner, task = await serving(app)
    try:
        await admin.create_tenant(app.db, "bench")
        _, token = await admin.create_token(app.db, "bench", "u_bench", "Bench", "member")
        rest = RestClient(runner.url, token, timeout=60)
        url = f"http://bench:pw@127.0.0.1:{web.server_address[1]}/shot.png?X-Amz-Signature=%d"

        def fresh(run: int) -> ImageCache:
            return ImageCache(folder / f"cache-{run}")

        downloaded = await median_ms(repeat, lambda run: resolve(url % run, rest=rest, cache=fresh(run)))
        cache = ImageCache(folder / "cache")
        first = await resolve(url % 0, rest=rest, cache=cache)
        cached_url = await median_ms(repeat, lambda run: resolve(url % 0, rest=rest, cache=cache))
        await share(rest, first)
        link = first.key
        from_server = await median_ms(repeat, lambda run: resolve(link, rest=rest, cache=fresh(100 + run)))
        cached_link = await median_ms(repeat, lambda run: resolve(link, rest=rest, cache=cache))
        await rest.aclose()
        print(f"{len(data) / 1e6:.1f} MB PNG, {repeat} runs each, medians (bytes and key, no decoding):")
        print(f"  signed URL, downloaded over loopback: {downloaded}")
        print(f"  the same URL again, image cache:      {cached_url}")
        print(f"  link, from the server's store:        {from_server}")
        print(f"  link, image cache:                    {cached_link}")
    finally:
        web.shutdown()
        runner.should_exit = True
        await task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="image-open-") as folder:
        asyncio.run(run(args.megabytes, args.repeat, Path(folder)))


if __name__ == "__main__":
    main()

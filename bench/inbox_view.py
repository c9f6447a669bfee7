"""Inbox benchmark, viewer side: how long a live row takes to show, with many rows loaded.

    python bench/inbox_view.py [--rows 500]

Prints, for an inbox of N rows (the list the viewer holds after N/50 pages): the view model's time to
apply one feed row (moved to the top, the selection kept), and the list widget's time to redraw all
N rows after it; then, against a real server in this process, the time from a marker written over
REST to its row at the top of a headless viewer's inbox (the feed end to end, one process); and the
time from enter on an inbox row to that image's first frame, its bytes fetched from the server's
store, then again from the viewer's image cache (a second viewer on the same cache).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from textual.app import App, ComposeResult
from upload import serving

from imagechat_tui.client.engine import LinkState
from imagechat_tui.client.imagecache import ImageCache
from imagechat_tui.protocol.models import ImagesPage, ImageSummary, LastComment, UserRef
from imagechat_tui.server import admin
from imagechat_tui.server.app import ImageChatServer
from imagechat_tui.server.config import ServerConfig, sqlite_url
from imagechat_tui.tui.app import ImageChatApp
from imagechat_tui.tui.inbox import Inbox
from imagechat_tui.tui.sample import SAMPLE_SIZE, draw_sample
from imagechat_tui.tui.widgets.inbox_list import InboxList

START = datetime(2026, 11, 26, tzinfo=UTC)


def row(n: int, minutes: int) -> ImageSummary:
    when = (START + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
    return ImageSummary(key=f"sha256:{n:064x}", name=f"https://shots.example.com/{n}.png", stored=False,
                        open_count=2, resolved_count=1, last_activity_at=when,
                        last_comment=LastComment(user=UserRef(id="u_bob", name="Bob"), excerpt=f"comment {n} " * 8,
                                                 created_at=when, marker_number=1, marker_id="m_1"))


async def until(condition: Callable[[], object], timeout: float, step: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the viewer did not get there")
        await asyncio.sleep(step)


class ListOnly(App[None]):
    def compose(self) -> ComposeResult:
        yield InboxList()


async def local(rows: int) -> None:
    inbox = Inbox()
    inbox.begin_reload()
    inbox.load_first(ImagesPage(images=[row(n, n) for n in range(rows)], next_cursor=None))
    inbox.select_index(rows // 2)
    apply, draw = [], []
    app = ListOnly()
    async with app.run_test(size=(120, 40)) as pilot:
        widget = app.query_one(InboxList)
        for i in range(30):
            started = time.perf_counter()
            inbox.changed(row(i * 7 % rows, rows + i))
            applied = time.perf_counter()
            widget.show(inbox.rows, {}, inbox.key, START, False)
            await pilot.pause()
            apply.append(applied - started)
            draw.append(time.perf_counter() - applied)
    print(f"{rows} rows: a feed row applied in {statistics.median(apply) * 1e3:.2f} ms (median of 30); "
          f"the list redrawn in {statistics.median(draw) * 1e3:.1f} ms")


async def end_to_end() -> None:
    work = Path(tempfile.mkdtemp(prefix="imagechat-inbox-bench-"))
    server = ImageChatServer(ServerConfig(sqlite_url(work), write_rate=1e6, write_burst=1e6))
    runner, task = await serving(server)
    await admin.create_tenant(server.db, "bench")
    ana = (await admin.create_token(server.db, "bench", "u_ana", "Ana", "member"))[1]
    app = ImageChatApp(None, server=runner.url, token=ana)
    latencies = []
    async with app.run_test(size=(120, 40)), httpx.AsyncClient(base_url=runner.url + "/api/v1") as http:
        assert app.inbox is not None
        view = app.inbox.view
        await until(lambda: view.loaded and app.engine.link.state is LinkState.ONLINE, 10)
        for n in range(20):
            key = f"sha256:{n + 1:064x}"
            started = time.perf_counter()
            response = await http.post("/chats", headers={"Authorization": f"Bearer {ana}"}, json={
                "image": key, "x": 50, "y": 50, "text": f"marker {n}", "broadcastId": str(uuid.uuid4())})
            response.raise_for_status()
            await until(lambda k=key: view.rows and view.rows[0].key == k, 5, 0.001)
            latencies.append(time.perf_counter() - started)
    runner.should_exit = True
    await task
    print(f"a marker written over REST at the top of a live inbox (one process, SQLite): median "
          f"{statistics.median(latencies) * 1e3:.0f} ms, worst {max(latencies) * 1e3:.0f} ms of 20")


async def open_first_row(app: ImageChatApp, key: str) -> float:
    """Seconds from enter on the inbox's first row to the frame that shows the image `key`."""
    async with app.run_test(size=(160, 48)) as pilot:
        assert app.inbox is not None
        view = app.inbox.view
        await until(lambda: view.rows and app.engine.link.state is LinkState.ONLINE, 10)
        started = time.perf_counter()
        await pilot.press("enter")
        await until(lambda: app.loaded is not None and app.loaded.key == key, 10, 0.001)
        await pilot.pause()  # the frame drawn
        return time.perf_counter() - started


async def open_from_inbox() -> None:
    work = Path(tempfile.mkdtemp(prefix="imagechat-inbox-bench-"))
    server = ImageChatServer(ServerConfig(sqlite_url(work), write_rate=1e6, write_burst=1e6))
    runner, task = await serving(server)
    await admin.create_tenant(server.db, "bench")
    ana = (await admin.create_token(server.db, "bench", "u_ana", "Ana", "member"))[1]
    data = draw_sample(work / "shot.png").read_bytes()
    key = f"sha256:{hashlib.sha256(data).hexdigest()}"
    async with httpx.AsyncClient(base_url=runner.url + "/api/v1", headers={"Authorization": f"Bearer {ana}"}) as http:
        (await http.put(f"/images/{key}", content=data, params={"name": "shot.png"})).raise_for_status()
        (await http.post("/chats", json={"image": key, "x": 50, "y": 50, "text": "here",
                                         "broadcastId": str(uuid.uuid4())})).raise_for_status()
    images = ImageCache(work / "image-cache")
    for how in ("from the server's store", "from the image cache"):
        took = await open_first_row(ImageChatApp(None, server=runner.url, token=ana, images=images), key)
        print(f"enter on an inbox row to the image's first frame ({SAMPLE_SIZE[0]}x{SAMPLE_SIZE[1]} PNG, "
              f"{len(data) / 1e3:.0f} KB), {how}: {took * 1e3:.0f} ms")
    runner.should_exit = True
    await task


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(local(args.rows))
    asyncio.run(end_to_end())
    asyncio.run(open_from_inbox())


if __name__ == "__main__":
    main()

"""Inbox benchmark, viewer side: how long a live row takes to show, with many rows loaded; and how
long enter on an inbox row takes to show that image.

    python bench/inbox_view.py [--rows 500] [--opens 5]

Prints, for an inbox of N rows (the list the viewer holds after N/50 pages), in a list styled as
the app's: the view model's time to apply one feed row (moved to the top, the selection kept) and
the list widget's time to draw the frame after it; the time to draw a next page of 50 rows added
at the end. Then, against a real server in this process, the time from a marker written over REST
to its row at the top of a headless viewer's inbox (the feed end to end, one process). Then, `--opens`
times each, alternating, from enter on an inbox row to that image's first frame (the frame that
draws its picture) and to the viewer settled (every change the opening set off drawn: markers,
status, footer), its bytes fetched from the server's store (an empty image cache), then from the
viewer's image cache (a second viewer on the same cache); each viewer started as imagechat-tui
starts it (tui/heap.py). Medians, and the load average: the machine may be shared.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
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
from imagechat_tui.tui import app as viewer
from imagechat_tui.tui import heap
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
    """The inbox's list alone, styled as in the viewer (its height the screen's, not its rows')."""

    CSS_PATH = Path(viewer.__file__).with_name("app.tcss")

    def compose(self) -> ComposeResult:
        yield InboxList(id="inbox-list")


def ms(seconds: list[float]) -> str:
    return f"{statistics.median(seconds) * 1e3:.1f} ms"


async def local(rows: int) -> None:
    inbox = Inbox()
    inbox.begin_reload()
    inbox.load_first(ImagesPage(images=[row(n, n) for n in range(rows)], next_cursor="more"))
    inbox.select_index(rows // 2)
    apply, draw, pages = [], [], []
    app = ListOnly()
    async with app.run_test(size=(120, 40)) as pilot:
        widget = app.query_one(InboxList)
        widget.show(inbox.rows, {}, inbox.key, START, False)
        await pilot.pause()
        for i in range(30):
            started = time.perf_counter()
            inbox.changed(row(i * 7 % rows, rows + i))
            applied = time.perf_counter()
            widget.show(inbox.rows, {}, inbox.key, START, False)
            await widget.wait_for_refresh()  # the frame drawn
            apply.append(applied - started)
            draw.append(time.perf_counter() - applied)
            await pilot.pause()  # the app idle again before the next row
        for page in range(10):
            first = rows + 50 * page
            inbox.load_next(inbox.next_cursor, ImagesPage(images=[row(n, -n) for n in range(first, first + 50)],
                                                          next_cursor="more"))
            started = time.perf_counter()
            widget.show(inbox.rows, {}, inbox.key, START, False)
            await widget.wait_for_refresh()
            pages.append(time.perf_counter() - started)
            await pilot.pause()
    print(f"{rows} rows: a feed row applied in {ms(apply)} (median of 30); the list's frame after it in "
          f"{ms(draw)}; a next page of 50 rows added and drawn in {ms(pages)} (median of 10)")


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


async def open_first_row(app: ImageChatApp, key: str) -> tuple[float, float]:
    """Seconds from enter on the inbox's first row to the first frame that draws the image `key`,
    and to the viewer settled (all that the opening set off done and drawn)."""
    async with app.run_test(size=(160, 48)) as pilot:
        assert app.inbox is not None
        view = app.inbox.view
        await until(lambda: view.rows and app.engine.link.state is LinkState.ONLINE, 10)
        await pilot.pause()
        image_view = app.main.image_view
        cut = image_view.scaled  # counts the views cut for drawing: the next is the new image's
        started = time.perf_counter()
        pressing = asyncio.create_task(pilot.press("enter"))
        await until(lambda: app.loaded is not None and app.loaded.key == key and image_view.scaled > cut,
                    10, 0.001)
        first_frame = time.perf_counter() - started
        await pressing
        await pilot.pause()
        return first_frame, time.perf_counter() - started


async def open_from_inbox(opens: int) -> None:
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
    took: dict[str, list[tuple[float, float]]] = {"from the server's store": [], "from the image cache": []}
    for run in range(opens):
        images = ImageCache(work / f"image-cache-{run}")  # empty: the bytes come from the server
        for times in took.values():
            app = ImageChatApp(None, server=runner.url, token=ana, images=images)
            heap.settle()  # as imagechat-tui does before it runs the viewer
            times.append(await open_first_row(app, key))
    runner.should_exit = True
    await task
    for how, times in took.items():
        firsts, settled = [t[0] for t in times], [t[1] for t in times]
        print(f"enter on an inbox row to the image's first frame ({SAMPLE_SIZE[0]}x{SAMPLE_SIZE[1]} PNG, "
              f"{len(data) / 1e3:.0f} KB, 160x48), {how}: median {ms(firsts)}, settled {ms(settled)} "
              f"(of {opens}; first frames {', '.join(f'{t * 1e3:.0f}' for t in firsts)} ms)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--opens", type=int, default=5)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    asyncio.run(local(args.rows))
    asyncio.run(end_to_end())
    asyncio.run(open_from_inbox(args.opens))
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

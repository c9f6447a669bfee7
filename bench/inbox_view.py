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
from PIL import Image, ImageDraw
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


async def open_rows(app: ImageChatApp, keys: list[str]) -> list[tuple[float, float]]:
    """For each of `keys` (the inbox's first rows, in order): seconds from enter on its row to the
    first frame that draws the image, and to the viewer settled (all that the opening set off done
    and drawn); between two, escape back to the inbox and down to the next row."""
    took = []
    async with app.run_test(size=(160, 48)) as pilot:
        assert app.inbox is not None
        view = app.inbox.view
        await until(lambda: len(view.rows) == len(keys) and app.engine.link.state is LinkState.ONLINE, 10)
        image_view = app.main.image_view
        for n, key in enumerate(keys):
            if n:
                await pilot.press("escape")
                await until(lambda: app.screen is app.inbox, 5)
                await pilot.press("down")
                await until(lambda k=key: view.key == k, 5)
            await pilot.pause()
            cut = image_view.scaled  # counts the views cut for drawing: the next is the new image's
            started = time.perf_counter()
            pressing = asyncio.create_task(pilot.press("enter"))
            await until(lambda k=key, c=cut: app.loaded is not None and app.loaded.key == k
                        and image_view.scaled > c, 10, 0.001)
            first_frame = time.perf_counter() - started
            await pressing
            await pilot.pause()
            took.append((first_frame, time.perf_counter() - started))
    return took


async def open_from_inbox(opens: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="imagechat-inbox-bench-"))
    server = ImageChatServer(ServerConfig(sqlite_url(work), write_rate=1e6, write_burst=1e6))
    runner, task = await serving(server)
    await admin.create_tenant(server.db, "bench")
    ana = (await admin.create_token(server.db, "bench", "u_ana", "Ana", "member"))[1]
    sample = draw_sample(work / "shot.png")
    other = Image.open(sample)
    ImageDraw.Draw(other).rectangle((100, 100, 300, 200), fill=(200, 40, 40))  # a second screenshot
    other.save(work / "other.png")
    keys = []
    async with httpx.AsyncClient(base_url=runner.url + "/api/v1", headers={"Authorization": f"Bearer {ana}"}) as http:
        for path in (sample, work / "other.png"):  # the second is the inbox's first row
            data = path.read_bytes()
            key = f"sha256:{hashlib.sha256(data).hexdigest()}"
            (await http.put(f"/images/{key}", content=data, params={"name": path.name})).raise_for_status()
            (await http.post("/chats", json={"image": key, "x": 50, "y": 50, "text": "here",
                                             "broadcastId": str(uuid.uuid4())})).raise_for_status()
            keys.insert(0, key)
    took: dict[str, list[list[tuple[float, float]]]] = {"from the server's store": [], "from the image cache": []}
    for run in range(opens):
        images = ImageCache(work / f"image-cache-{run}")  # empty: the bytes come from the server
        for times in took.values():
            app = ImageChatApp(None, server=runner.url, token=ana, images=images)
            heap.settle()  # as imagechat-tui does before it runs the viewer
            times.append(await open_rows(app, keys))
    runner.should_exit = True
    await task
    size = f"{SAMPLE_SIZE[0]}x{SAMPLE_SIZE[1]} PNG, {len(sample.read_bytes()) / 1e3:.0f} KB, 160x48"
    for how, runs in took.items():
        for n, which in enumerate(("the viewer's first image", "the next one (escape, down, enter)")):
            firsts, settled = [run[n][0] for run in runs], [run[n][1] for run in runs]
            print(f"enter on an inbox row to the image's first frame ({size}), {how}, {which}: median {ms(firsts)}, "
                  f"settled {ms(settled)} (of {opens}; first frames {', '.join(f'{t * 1e3:.0f}' for t in firsts)} ms)")


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

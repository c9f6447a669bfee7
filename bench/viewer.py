"""Viewer benchmark: opening a big image, redrawing on remote events, a large conversation, idling.

    python bench/viewer.py [--idle 30]

Prints: time from start to the first drawn frame for a 4000 x 3000 PNG; the app's time to redraw the
image pane after one pan or zoom step (half-block); the cost of a redraw on a
remote event (and that it neither decodes nor rescales the image); in Sixel, Kitty and iTerm2 modes the
first frame, one pan step including encoding, the bytes it writes and those a remote event out of view
writes (none); switching markers and redrawing
the list with 500 markers and 5,000 comments; CPU used by an idle, connected viewer. The server
runs in its own process; the viewer runs headless in this one.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from PIL import Image

from imagechat_tui.client.engine import LinkState
from imagechat_tui.protocol.imagekey import file_image_key
from imagechat_tui.tui.app import ImageChatApp
from imagechat_tui.tui.graphics.demo import fine_pattern
from imagechat_tui.tui.graphics.detect import Terminal
from imagechat_tui.tui.widgets.image_view import ImageView

SIZE = (160, 48)


def timed_view_steps(view: ImageView, step, times: int) -> list[float]:
    """Seconds the app takes, each of `times` rounds, to apply one view step and draw every line of the pane."""
    took = []
    for _ in range(times):
        t0 = time.perf_counter()
        step()
        for y in range(view.size.height):
            view.render_line(y)
        took.append(time.perf_counter() - t0)
    return took


async def pixel_mode(image: Path, url: str, token: str, mode: str) -> None:
    """First frame, one pan step (cut, draw the badges, encode) and its bytes, and the image bytes sent
    for a remote event out of view, in one pixel mode with 10 x 20-pixel cells."""
    start = time.perf_counter()
    app = ImageChatApp(str(image), server=url, token=token, terminal=Terminal(mode, (10, 20), None, "bench"))
    async with app.run_test(size=SIZE) as pilot:
        pane = app.pixel_pane
        await until(lambda: pane.bytes_written > 0)
        first = time.perf_counter() - start
        view = app.query_one(ImageView)
        view.zoom_actual()
        view.place()
        pane.pending()
        steps, sizes = [], []
        for step in range(40):
            t0 = time.perf_counter()
            view.pan(1 if step % 2 == 0 else -1, 0)
            view.place()
            sent = pane.pending()
            steps.append(time.perf_counter() - t0)
            sizes.append(len(sent))
        await until(lambda: app.engine.link.state is LinkState.ONLINE and app.key is not None)
        await pilot.pause()
        before, count = pane.bytes_written, len(app.markers)
        await seed_at(url, token, app.key, 99, 99)  # out of the 1:1 view in the middle
        await until(lambda: len(app.markers) == count + 1)
        await pilot.pause()
        picture = view.geometry
        print(f"  {mode}: first frame {first:.3f} s; one pan step at 1x ({picture.cols}x{picture.rows} cells, "
              f"{picture.cols * 10}x{picture.rows * 20} px) median {statistics.median(steps) * 1000:.1f} ms, "
              f"max {max(steps) * 1000:.1f} ms including encoding, {statistics.median(sizes) / 1024:.0f} KB "
              f"written; image bytes for a remote event out of view: {pane.bytes_written - before}")


async def seed_at(url: str, token: str, key: str, x: float, y: float) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=url + "/api/v1", headers={"Authorization": f"Bearer {token}"}) as http:
        await http.post("/chats", json={"image": key, "x": x, "y": y, "text": "out of view",
                                        "broadcastId": str(uuid.uuid4())})


async def timed_keys(pilot, keys: list[str], times: int) -> list[float]:
    """Seconds taken, each of `times` rounds, to press `keys` one by one, each drawn before the next."""
    took = []
    for _ in range(times):
        t0 = time.perf_counter()
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        took.append(time.perf_counter() - t0)
    return took


def big_png(path: Path) -> Path:
    """4000 x 3000 of noise and gradients: nothing a PNG compresses away."""
    noise = Image.effect_noise((4000, 3000), 64).convert("RGB")
    gradient = Image.linear_gradient("L").resize((4000, 3000)).convert("RGB")
    Image.blend(noise, gradient, 0.5).save(path)
    return path


def start_server(data: Path) -> tuple[subprocess.Popen[str], str, str]:
    cli = [sys.executable, "-m", "imagechat_tui.server.cli", "--data-dir", str(data)]
    subprocess.run([*cli, "tenant", "create", "bench"], check=True, capture_output=True)
    token = subprocess.run([*cli, "token", "create", "--tenant", "bench", "--user", "u_b", "--name", "Bench",
                            "--role", "admin"], check=True, capture_output=True, text=True).stdout.strip()
    proc = subprocess.Popen([*cli, "--port", "0", "--write-rate", "1e9", "--write-burst", "1e9"],
                            stdout=subprocess.PIPE, text=True)
    url = proc.stdout.readline().split()[-1]  # type: ignore[union-attr]
    return proc, url, token


async def seed_many(url: str, token: str, key: str, markers: int, comments: int) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=url + "/api/v1", headers={"Authorization": f"Bearer {token}"}) as http:
        ids = []
        for i in range(markers):
            body = {"image": key, "x": random.uniform(0, 100), "y": random.uniform(0, 100),
                    "text": f"Marker {i}: something looks off here", "broadcastId": str(uuid.uuid4())}
            ids.append((await http.post("/chats", json=body)).json()["marker"]["id"])
        for i in range(comments - markers):
            reply = {"text": f"Reply {i} with a sentence or two of detail", "broadcastId": str(uuid.uuid4())}
            await http.post(f"/chats/{random.choice(ids)}/comments", json=reply)


async def until(condition, timeout: float = 60.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.001)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of idle CPU measurement")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="imagechat-viewer-bench-"))
    proc, url, token = start_server(work)
    try:
        image = big_png(work / "big.png")
        start = time.perf_counter()
        app = ImageChatApp(str(image), server=url, token=token)
        async with app.run_test(size=SIZE) as pilot:
            view = app.query_one(ImageView)
            await until(lambda: view.scaled >= 1)
            await pilot.pause()
            first_frame = time.perf_counter() - start
            print(f"4000x3000 PNG ({image.stat().st_size / 2**20:.1f} MB) to first drawn frame: {first_frame:.3f} s")

            view.zoom_actual()
            figures = {
                "pan": timed_view_steps(view, lambda: view.pan(random.choice((-1, 1)), random.choice((-1, 1))), 40),
                "zoom": timed_view_steps(view, lambda: view.zoom(random.choice((-1, 1))), 40),
            }
            for what, took in figures.items():
                print(f"one {what} step, half-block, {SIZE[0]}x{SIZE[1]}: "
                      f"median {statistics.median(took) * 1000:.1f} ms, max {max(took) * 1000:.1f} ms "
                      "of app time (scale the view, draw every line)")
            view.zoom_fit()

            await until(lambda: app.engine.link.state is LinkState.ONLINE)
            await seed_many(url, token, app.key, 1, 1)
            await until(lambda: len(app.markers) == 1)
            scaled = view.scaled
            redraws = []
            for _ in range(20):
                before = len(app.markers)
                t0 = time.perf_counter()
                await seed_many(url, token, app.key, 1, 1)
                await until(lambda n=before + 1: len(app.markers) == n)
                await pilot.pause()
                redraws.append(time.perf_counter() - t0)
            print(f"remote event to redrawn screen (write + fan-out + redraw): median "
                  f"{statistics.median(redraws) * 1000:.1f} ms; image rescaled meanwhile: {view.scaled - scaled} times")

        screenshot = work / "screenshot.png"
        fine_pattern((4000, 3000)).save(screenshot)
        for name, path in (("screenshot-like 4000x3000 (flat colours, text)", screenshot),
                           ("noise and gradients, the worst case", image)):
            print(f"pixel modes, {name}:")
            for mode in ("sixel", "kitty", "iterm2"):
                await pixel_mode(path, url, token, mode)

        key = file_image_key(image)
        t0 = time.perf_counter()
        await seed_many(url, token, key, 500, 5000)
        print(f"(seeded 500 markers and 5000 comments in {time.perf_counter() - t0:.1f} s)")
        app = ImageChatApp(str(image), server=url, token=token)
        async with app.run_test(size=SIZE) as pilot:
            await until(lambda: len(app.markers) >= 500, 120)
            await pilot.pause()
            noop = await timed_keys(pilot, ["f8"], 20)  # bound to nothing: what a key press costs through Pilot
            switches = await timed_keys(pilot, ["n"], 50)
            lists = await timed_keys(pilot, ["escape", "n"], 20)
            print(f"a key bound to nothing, through the test harness: median {statistics.median(noop) * 1000:.1f} ms")
            print(f"500 markers / 5000 comments: switch marker median {statistics.median(switches) * 1000:.1f} ms, "
                  f"p95 {sorted(switches)[int(len(switches) * 0.95)] * 1000:.1f} ms; back to the list and in again "
                  f"median {statistics.median(lists) * 1000:.1f} ms")

            cpu0, t0 = time.process_time(), time.perf_counter()
            await asyncio.sleep(args.idle)
            cpu = time.process_time() - cpu0
            print(f"idle connected viewer: {100 * cpu / (time.perf_counter() - t0):.2f} % of a core over "
                  f"{args.idle:.0f} s")
    finally:
        proc.terminate()
        proc.wait(30)


if __name__ == "__main__":
    asyncio.run(main())

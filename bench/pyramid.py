"""Image pyramid benchmark: opening a big screenshot, then cutting views of it at fit, 1x and 4x.

    python bench/pyramid.py [--steps 20]

For a 4000 x 3000 PNG prints: the first load (decode in the loader's thread, then the first view);
then, for a half-block pane (106 x 96 image pixels: 106 x 48 cells) and a pixel pane (1600 x 960: a
160 x 48 terminal with 10 x 20-pixel cells), the time of `Pyramid.region` at fit, 0.7x, 1x and 4x: the
first view at each zoom (a zoom step: a fresh cut), a redraw of the same view, pan steps of one
cell, and the levels each built.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from viewer import big_png

from imagechat_tui.tui.loader import load
from imagechat_tui.tui.pyramid import Box, Pyramid

PANES = {"half-block 106x96": ((106, 96), 1), "pixels 1600x960": ((1600, 960), 10)}
"""Each pane's size in image pixels, and one cell's width in pixels (a pan step)."""
TARGET_MS = 10.0


def ms(seconds: float) -> str:
    return f"{seconds * 1000:6.1f} ms"


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def fit(pyramid: Pyramid, size: tuple[int, int]) -> float:
    return min(size[0] / pyramid.width, size[1] / pyramid.height)


def view_box(size: tuple[int, int], zoom: float, centre: tuple[float, float]) -> Box:
    """The box a pane of `size` pixels shows at `zoom` pane pixels per image pixel, around `centre`."""
    half_w, half_h = size[0] / zoom / 2, size[1] / zoom / 2
    return centre[0] - half_w, centre[1] - half_h, centre[0] + half_w, centre[1] + half_h


async def first_load(path: Path, size: tuple[int, int]) -> tuple[float, float]:
    started = time.perf_counter()
    loaded = await load(str(path))
    decoded = time.perf_counter()
    pyramid = Pyramid(loaded.image)
    pyramid.region(view_box(size, fit(pyramid, size), (pyramid.width / 2, pyramid.height / 2)), size)
    return decoded - started, time.perf_counter() - decoded


def views(pyramid: Pyramid, pane: str, steps: int) -> None:
    size, cell = PANES[pane]
    centre = (pyramid.width / 2, pyramid.height / 2)
    for label, zoom in [("fit", None), ("0.7x", 0.7), ("1x", 1.0), ("4x", 4.0)]:
        built, scale = pyramid.scaled, zoom or fit(pyramid, size)
        box = view_box(size, scale, centre)
        first = timed(lambda b=box: pyramid.region(b, size))
        again = timed(lambda b=box: pyramid.region(b, size))
        pans = []
        for step in range(1, steps + 1):  # one cell right, then one down, and so on
            x, y = centre[0] + cell * ((step + 1) // 2) / scale, centre[1] + cell * (step // 2) / scale
            box = view_box(size, scale, (x, y))
            pans.append(timed(lambda b=box: pyramid.region(b, size)))
        median = statistics.median(pans)
        verdict = "ok" if max(again, median) * 1000 < TARGET_MS else f"over {TARGET_MS:.0f} ms"
        print(f"  {pane:18} {label:4}  first {ms(first)}  redraw {ms(again)}  pan median {ms(median)}"
              f" worst {ms(max(pans))}  levels built {pyramid.scaled - built}  [{verdict}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="pan steps per view (default 20)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = big_png(Path(tmp) / "big.png")
        print(f"4000 x 3000 PNG, {path.stat().st_size / 2**20:.1f} MB")
        for pane, (size, _) in PANES.items():
            decode, view = asyncio.run(first_load(path, size))
            print(f"  first load, {pane:18}: decode {ms(decode)} + first view {ms(view)} = {ms(decode + view)}"
                  f"  [{'ok' if decode + view < 1 else 'over 1 s'}]")
        image = asyncio.run(load(str(path))).image
    print("region() after the first load (pan: one cell a step; a redraw asks for the same view again):")
    for pane in PANES:
        views(Pyramid(image), pane, args.steps)


if __name__ == "__main__":
    main()

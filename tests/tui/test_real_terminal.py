"""The viewer itself in a real xterm (VT340, Sixel) under Xvfb: at actual pixels the pane shows the
screenshot pixel for pixel, with the marker's badge drawn on it."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import numpy as np

from imagechat_tui.protocol.imagekey import file_image_key
from imagechat_tui.tui.badges import PALETTE, Look
from imagechat_tui.tui.graphics.demo import fine_pattern

from ..conftest import ThreadedServer, bid
from ..terminal import xterm
from .graphics.test_real_terminal import locate

COLS, ROWS = 100, 30
SOURCE = (600, 500)
"""Smaller than the image pane at actual pixels (about 66 x 28 cells of 10 x 20), so all of it shows."""
MARKER = (80.0, 80.0)


def test_the_viewer_shows_the_screenshot_at_full_resolution_with_its_badge(threaded_server: ThreadedServer,
                                                                          tmp_path: Path) -> None:
    source = fine_pattern(SOURCE)
    path = tmp_path / "shot.png"
    source.save(path)
    token = threaded_server.token("u_ana", "Ana")
    with httpx.Client(base_url=threaded_server.url + "/api/v1", headers={"Authorization": f"Bearer {token}"}) as h:
        h.post("/chats", json={"image": file_image_key(path), "x": MARKER[0], "y": MARKER[1], "text": "this one",
                               "broadcastId": bid()}).raise_for_status()
    command = [sys.executable, "-m", "imagechat_tui.tui.cli", "--graphics", "sixel", "--server", threaded_server.url,
               "--token", token, str(path)]
    with xterm(command, COLS, ROWS, env={"HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}) as term:
        term.wait_for(lambda shot: shot.getpixel((5, 5)) != (0, 0, 0), 60, "the viewer to draw")
        term.press("1")  # actual pixels: the whole 600 x 500 screenshot, one image pixel per screen pixel
        shot = term.wait_for(lambda image: locate(image, source, (120, 80)), 30, "the screenshot at actual pixels")
        shot.save(tmp_path / "capture.png")
        term.press("q")
    left, top = locate(shot, source, (120, 80))  # type: ignore[misc]
    shown = np.asarray(shot.crop((left, top, left + SOURCE[0], top + SOURCE[1])), dtype=np.int16)
    expected = np.asarray(source, dtype=np.int16)
    stripes = shown[:40, :200].mean(axis=(0, 2))
    assert (stripes[0::2] < 30).all() and (stripes[1::2] > 220).all(), "one-pixel stripes stay one pixel wide"
    x, y = int(MARKER[0] / 100 * SOURCE[0]), int(MARKER[1] / 100 * SOURCE[1])
    badge = np.zeros(shown.shape[:2], dtype=bool)
    badge[y - 20:y + 20, x - 30:x + 30] = True
    cursor = np.zeros(shown.shape[:2], dtype=bool)
    cursor[SOURCE[1] // 2 - 30:SOURCE[1] // 2 + 30, SOURCE[0] // 2 - 30:SOURCE[0] // 2 + 30] = True
    elsewhere = ~badge & ~cursor
    assert np.abs(shown - expected)[elsewhere].mean() < 2, "every other pixel as in the screenshot"
    colours = {tuple(c) for c in shown[badge].reshape(-1, 3).tolist()}
    dark = PALETTE[Look.OPEN][1]
    assert any(_near(c, dark.fill) for c in colours) and any(_near(c, dark.text) for c in colours), \
        "the open badge, dark on the light background, at the marker's spot"


def _near(colour: tuple[int, ...], target: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 6 for a, b in zip(colour, target, strict=True))

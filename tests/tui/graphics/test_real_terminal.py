"""The demo app in a real xterm (VT340, Sixel) under Xvfb: the pane shows the picture pixel for pixel."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from imagechat_tui.tui.graphics.demo import fine_pattern

from ...terminal import xterm
from .images import photo

COLS, ROWS = 100, 30
PANE = (0, 1, COLS, ROWS - 2)
"""The demo's pane in cells: under a one-line bar, over a one-line status."""


def source_picture() -> Image.Image:
    """One-pixel stripes and small text (only legible at full resolution) and a photo (many colours)."""
    image = fine_pattern((1200, 700))
    image.paste(photo(300, 300), (650, 150))
    return image


def locate(shot: Image.Image, source: Image.Image, within: tuple[int, int]) -> tuple[int, int] | None:
    """Where the source's top-left corner is on screen: the offset, within `within` pixels of the screen's
    corner, at which a 200 x 60 patch of it matches the capture best, if it matches."""
    patch = np.asarray(source.crop((0, 0, 200, 60)), dtype=np.int16)
    screen = np.asarray(shot, dtype=np.int16)
    errors = {(x, y): np.abs(screen[y:y + 60, x:x + 200] - patch).mean()
              for y in range(within[1]) for x in range(within[0])}
    best = min(errors, key=errors.__getitem__)
    return best if errors[best] < 2 else None


def demo(source: Image.Image, tmp_path: Path, graphics: str = "sixel") -> list[str]:
    path = tmp_path / "source.png"
    source.save(path)
    return [sys.executable, "-m", "imagechat_tui.tui.graphics.demo", "--graphics", graphics, str(path)]


def matches(shot: Image.Image, source: Image.Image, box: tuple[int, int, int, int]) -> bool:
    """The screen's box shows the source's pixels there (to within quantizing)."""
    shown = np.asarray(shot.crop(box), dtype=np.int16)
    return bool(np.abs(shown - np.asarray(source.crop(box), dtype=np.int16)).mean() < 2)


def test_the_pane_shows_the_picture_at_full_resolution(tmp_path: Path) -> None:
    source = source_picture()
    with xterm(demo(source, tmp_path), COLS, ROWS) as term:
        left, top, right, bottom = term.cell_box(*PANE)
        shot = term.wait_for(lambda image: locate(image, source, (40, 60)), 30, "the picture on screen")
        shot.save(tmp_path / "capture.png")
        assert locate(shot, source, (40, 60)) == (left, top), "the picture starts at the pane's first cell"
        term.press("q")
    shown = np.asarray(shot.crop((left, top, right, bottom)), dtype=np.int16)
    stripes = shown[:40, :200].mean(axis=(0, 2))
    assert (stripes[0::2] < 30).all() and (stripes[1::2] > 220).all(), "one-pixel stripes stay one pixel wide"
    # More than 256 colours (the photo, anti-aliased text): the encoder quantizes, and so does the check.
    pane = source.crop((0, 0, right - left, bottom - top))
    expected = np.asarray(pane.quantize(256, method=Image.Quantize.FASTOCTREE).convert("RGB"), dtype=np.int16)
    assert np.abs(shown - expected).max() <= 3, "every pixel as sent (to sixel's 1 % steps)"


def test_a_toast_shows_over_the_picture_and_the_picture_comes_back_whole(tmp_path: Path) -> None:
    source = fine_pattern((1000, 560))
    on_screen = Image.new("RGB", (1280, 800))
    on_screen.paste(source, (0, 20))  # where the pane is: row 1
    corner = (600, 440, 1000, 580)
    """The pane's bottom-right corner, where Textual puts toasts."""
    with xterm(demo(source, tmp_path, "auto"), COLS, ROWS) as term:  # asks xterm: Sixel
        term.wait_for(lambda shot: matches(shot, on_screen, (0, 20, 1000, 580)), 30, "the picture")
        term.press("n")
        with_toast = term.wait_for(
            lambda shot: not matches(shot, on_screen, corner) and matches(shot, on_screen, (0, 20, 1000, 400)),
            10, "the toast over the corner, the rest of the picture as it was")
        with_toast.save(tmp_path / "toast.png")
        term.wait_for(lambda shot: matches(shot, on_screen, (0, 20, 1000, 580)), 10, "the whole picture again")
        term.press("q")

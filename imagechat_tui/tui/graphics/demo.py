"""A tiny Textual app showing a picture at full resolution with a PixelPane (not the real viewer).

    python -m imagechat_tui.tui.graphics.demo [IMAGE] [--graphics auto|kitty|sixel|iterm2|halfblock]

The pane shows the image's top-left corner one image pixel per screen pixel. Keys: t changes the
status line (which must send no image bytes), m moves the pane by a cell, n shows a toast over
it, q quits.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence

from PIL import Image, ImageDraw
from textual.app import ComposeResult
from textual.geometry import Region
from textual.widgets import Static

from .detect import MODES, Terminal, detect
from .pixels import PixelFrames, PixelPane, driver_writer
from .terminal_io import TerminalIO

BACKGROUND = (40, 40, 40)


def fine_pattern(size: tuple[int, int] = (1600, 960)) -> Image.Image:
    """Fine detail that only full resolution shows: one-pixel stripes, small text, colour bars."""
    image = Image.new("RGB", size, (250, 250, 250))
    draw = ImageDraw.Draw(image)
    for x in range(0, size[0], 2):
        draw.line((x, 0, x, 40), fill=(0, 0, 0))
    for n, colour in enumerate([(255, 0, 0), (0, 200, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)]):
        draw.rectangle((n * 120, 50, n * 120 + 119, 110), fill=colour)
    for line, y in enumerate(range(130, size[1] - 14, 14)):
        draw.text((10, y), f"line {line}: request id 7f3a-{line * 7919:06x}", fill=(0, 0, 0))
    return image


class Picture(Static):
    """Blank cells that a PixelPane covers with the picture's top-left corner."""

    DEFAULT_CSS = "Picture { width: 1fr; height: 1fr; }"

    def __init__(self, source: Image.Image, pane: PixelPane | None) -> None:
        super().__init__("half-block mode: no pixels here" if pane is None else "")
        self.source = source
        self.pane = pane
        self._picture: tuple[Region, Image.Image] | None = None

    def place(self) -> None:
        """Show the picture at the current region, or hide it (cheap when nothing changed)."""
        if self.pane is None:
            return
        region = self.content_region
        if not self.display or not self.screen.is_active or not region:
            self.pane.hide()
            return
        if self._picture is None or self._picture[0].size != region.size:
            cell_w, cell_h = self.pane.cell
            size = (region.width * cell_w, region.height * cell_h)
            picture = Image.new("RGB", size, BACKGROUND)
            picture.paste(self.source.crop((0, 0, min(size[0], self.source.width), min(size[1], self.source.height))))
            self._picture = (region, picture)
        self.pane.show(region, self._picture[1], [toast.region for toast in self.screen.query("Toast")])


class DemoApp(PixelFrames):
    CSS = "#status { height: 1; } #top { height: 1; }"
    BINDINGS = [("q", "quit", "quit"), ("t", "tick", "status"), ("m", "move", "move"), ("n", "toast", "toast")]

    def __init__(self, source: Image.Image, terminal: Terminal, write: Callable[[str], None] | None = None) -> None:
        super().__init__()
        self.terminal = terminal
        self.source = source
        self.ticks = 0
        self.frames = 0
        """Frames written so far (tests wait on it)."""
        self.pane = None if terminal.mode == "halfblock" else PixelPane(terminal, write or driver_writer(self))
        self.pixel_panes += [self.pane] if self.pane else []

    def compose(self) -> ComposeResult:
        yield Static("", id="top")
        yield Picture(self.source, self.pane)
        yield Static(self.terminal.reason, id="status")

    def place_pixels(self) -> None:
        for picture in self.query(Picture):
            picture.place()

    def post_display_hook(self) -> None:
        self.frames += 1
        super().post_display_hook()

    def action_tick(self) -> None:
        self.ticks += 1
        self.query_one("#status", Static).update(f"tick {self.ticks} · {self.terminal.reason}")

    def action_toast(self) -> None:
        self.notify("a toast over the picture", timeout=3)

    def action_move(self) -> None:
        top = self.query_one("#top")
        top.styles.height = 2 if top.styles.height and top.styles.height.value == 1 else 1


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m imagechat_tui.tui.graphics.demo")
    parser.add_argument("image", nargs="?")
    parser.add_argument("--graphics", choices=MODES, default="auto")
    args = parser.parse_args(argv)
    source = Image.open(args.image).convert("RGB") if args.image else fine_pattern()
    DemoApp(source, detect(args.graphics, os.environ, TerminalIO.open())).run()


if __name__ == "__main__":
    main()

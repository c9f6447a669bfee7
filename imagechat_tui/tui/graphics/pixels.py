"""Pixels on screen at a widget's region, written after Textual's frames.

For the app and the image widget (demo.py is a complete, small example)::

    class ImageChatApp(PixelFrames):               # an App that hooks Textual's frames
        def place_pixels(self) -> None:            # before every image write: say what should show
            view.place()                           # -> pane.show(...) or pane.hide()

    pane = PixelPane(terminal, driver_writer(app))   # terminal: detect.Terminal, not half-blocks
    app.pixel_panes.append(pane)                   # written after each frame, deleted when the app ends
    pane.show(widget.content_region, picture, covered=[toast.region for toast in screen.query("Toast")])
    pane.hide()                                    # widget hidden, or its screen not the active one

`picture` is exactly cols*cell_w x rows*cell_h pixels (RGB) for the region's cols x rows cells;
`covered` are regions of widgets over the pane (toasts): Sixel leaves holes there, Kitty and iTerm2
hide the picture until they go.

After each frame `after_frame` writes nothing when the picture (compared by pixels) and the region
are unchanged and the frame wrote no cell of the region. Sixel and iTerm2 pictures are the cells'
contents: Textual's text replaces them, so they are redrawn (from the cached encoding) after any frame
that wrote into the region, e.g. when the widget was refreshed or a toast over it went away; so the
widget should `refresh()` only when its picture changed. A Kitty picture is a placement above the
text: it is moved with `a=p`, replaced under the same id, deleted on `hide`, and frames don't touch
it (a toast over the pane stays under it: the price of not using Kitty's Unicode placeholders, which
WezTerm and Konsole don't draw).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from PIL import Image
from rich.console import RenderableType
from textual._compositor import ChopsUpdate, LayoutUpdate
from textual.app import App
from textual.geometry import Region
from textual.screen import Screen

from . import iterm2, kitty, sixel
from .detect import Terminal

SAVE_CURSOR, RESTORE_CURSOR = "\x1b7", "\x1b8"


def driver_writer(app: App) -> Callable[[str], None]:
    """Write through Textual's output thread, so our bytes follow the frame just written.

    Textual 8.2.8 has no public way to write to the terminal: `App._driver` is private, and
    tests/tui/graphics/test_textual_contract.py fails when it changes.
    """

    def write(data: str) -> None:
        driver = app._driver
        if driver is not None and not app.is_headless:
            driver.write(data)
            driver.flush()

    return write


def written_regions(update: RenderableType | None) -> list[Region]:
    """The screen cells a Textual frame writes: all of them, or the spans of a partial update.

    Private to Textual (textual._compositor); test_textual_contract.py fails when it changes.
    """
    if isinstance(update, LayoutUpdate):
        return [update.region]
    if isinstance(update, ChopsUpdate):
        return [Region(x1, y, x2 - x1, 1) for y, x1, x2 in update.spans]
    return []


class PixelFrames(App):
    """Tells the panes in `pixel_panes` which cells each frame overwrites, and lets them draw after it."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.pixel_panes: list[PixelPane] = []

    def place_pixels(self) -> None:
        """Called before the panes write: show or hide each at its widget's current region."""

    def _display(self, screen: Screen, renderable: RenderableType | None) -> None:
        # App._display is where Textual writes a frame; the only place that knows which cells it writes.
        written = written_regions(renderable)
        for pane in self.pixel_panes:
            pane.overwritten(written)
        super()._display(screen, renderable)

    def post_display_hook(self) -> None:
        if self.pixel_panes:
            self.place_pixels()
        for pane in self.pixel_panes:
            pane.after_frame()

    def on_unmount(self) -> None:
        for pane in self.pixel_panes:
            pane.close()


@dataclass(frozen=True, slots=True)
class Placement:
    area: Region
    covered: tuple[Region, ...]
    """Parts of `area` under other widgets (toasts, tooltips), relative to the area."""


class PixelPane:
    """One picture on the terminal: what to show (`show`/`hide`), and the bytes that make it so."""

    def __init__(self, terminal: Terminal, write: Callable[[str], None], image_id: int = 1) -> None:
        if terminal.mode == "halfblock" or terminal.cell_size_px is None:
            raise ValueError("a PixelPane draws pixels: not in half-block mode")
        self.mode = terminal.mode
        self.cell = terminal.cell_size_px
        self.image_id = image_id
        self._write = write
        self._picture: Image.Image | None = None
        self._encoded: tuple[tuple[Region, ...], str] | None = None
        self._wanted: Placement | None = None
        self._shown: Placement | None = None
        self._overwritten = False
        self.bytes_written = 0
        """Everything written so far (for tests and benchmarks)."""

    def show(self, region: Region, picture: Image.Image, covered: Iterable[Region] = ()) -> None:
        """Show `picture` over `region` (screen cells), except where `covered` (screen cells) lies over it."""
        expected = (region.width * self.cell[0], region.height * self.cell[1])
        if picture.size != expected:
            raise ValueError(f"the picture is {picture.size[0]}x{picture.size[1]} px, the region {expected[0]}x"
                             f"{expected[1]}")
        if not self._same(picture):
            self._picture, self._encoded = picture, None
        relative = (part.translate(-region.offset) for part in (region.intersection(c) for c in covered) if part)
        self._wanted = Placement(region, tuple(sorted(relative)))

    def hide(self) -> None:
        self._wanted = None

    def overwritten(self, regions: Iterable[Region]) -> None:
        """Textual writes these cells (screen coordinates): an image there is gone."""
        shown = self._shown
        if shown is None or self._overwritten:
            return
        area, covered = shown.area, [c.translate(shown.area.offset) for c in shown.covered]
        self._overwritten = any(area.overlaps(r) and not any(c.contains_region(area.intersection(r)) for c in covered)
                                for r in regions)

    def after_frame(self) -> None:
        self._send(self.pending())

    def close(self) -> None:
        """Free the terminal's copy of a Kitty picture (the others are just cells)."""
        if self.mode == "kitty" and self._encoded is not None:
            self._send(kitty.delete(self.image_id).decode())
        self._picture = self._encoded = self._wanted = self._shown = None

    def _send(self, data: str) -> None:
        if data:
            self._write(data)
            self.bytes_written += len(data)

    def pending(self) -> str:
        """What the terminal needs now to show what is wanted; it is then taken as shown."""
        wanted = self._wanted
        if wanted is not None and wanted.covered and self.mode != "sixel":
            wanted = None  # only Sixel can leave holes; Kitty's and iTerm2's pictures wait until uncovered
        data = self._kitty(wanted) if self.mode == "kitty" else self._cells(wanted)
        self._shown, self._overwritten = wanted, False
        return data

    def _kitty(self, wanted: Placement | None) -> str:
        if wanted is None:
            return kitty.delete(self.image_id, free=False).decode() if self._shown else ""
        area = wanted.area
        if self._encoded is None:
            assert self._picture is not None
            self._encoded = ((), kitty.encode(self._picture, area.width, area.height, self.image_id).decode())
            return _at(area, self._encoded[1])
        if wanted != self._shown:
            return _at(area, kitty.place(area.width, area.height, self.image_id).decode())
        return ""

    def _cells(self, wanted: Placement | None) -> str:
        if wanted is None:
            return ""
        if self._encoded is None or self._encoded[0] != wanted.covered:
            self._encoded = (wanted.covered, self._encode_cells(wanted))
        elif wanted == self._shown and not self._overwritten:
            return ""
        return _at(wanted.area, self._encoded[1]) if self._encoded[1] else ""

    def _encode_cells(self, wanted: Placement) -> str:
        assert self._picture is not None
        if self.mode == "iterm2":
            return iterm2.encode(self._picture, wanted.area.width, wanted.area.height).decode()
        width, height = self.cell
        holes = [(c.x * width, c.y * height, c.right * width, c.bottom * height) for c in wanted.covered]
        return sixel.encode(self._picture, holes).decode()

    def _same(self, picture: Image.Image) -> bool:
        shown = self._picture
        return shown is picture or (shown is not None and shown.size == picture.size
                                    and shown.tobytes() == picture.tobytes())


def _at(area: Region, sequence: str) -> str:
    """`sequence` written with the cursor at the area's top-left cell, the cursor left where it was."""
    return f"{SAVE_CURSOR}\x1b[{area.y + 1};{area.x + 1}H{sequence}{RESTORE_CURSOR}"

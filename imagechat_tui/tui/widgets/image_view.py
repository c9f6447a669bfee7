"""The image pane: a half-block thumbnail (two image pixels a cell), marker badges, a placement cursor.

The thumbnail is scaled once per widget size and kept as rows of segments; markers and the cursor
are laid over those rows at render time, so a remote change redraws without touching the image.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

HALF_BLOCK = "▀"
BADGE_OPEN = Style(color="black", bgcolor="bright_yellow", bold=True)
BADGE_RESOLVED = Style(color="grey70", bgcolor="grey30", dim=True)
BADGE_SELECTED = Style(color="white", bgcolor="magenta", bold=True)
CURSOR = Style(color="bright_red", bgcolor="white", bold=True)
CURSOR_BLURRED = Style(color="red", bgcolor="grey50")
BLANK = Style()


@dataclass(frozen=True, slots=True)
class Badge:
    marker_id: str
    number: int
    x: float
    y: float
    resolved: bool


class ImageView(Widget, can_focus=True):
    """Shows the image with numbered markers; arrows/hjkl move the cursor, a click selects or places."""

    DEFAULT_CSS = """
    ImageView { width: 1fr; height: 1fr; }
    """

    class MarkerClicked(Message):
        def __init__(self, marker_id: str) -> None:
            super().__init__()
            self.marker_id = marker_id

    class CursorPlaced(Message):
        """The cursor was moved to a spot on the image with the mouse."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._image: Image.Image | None = None
        self._rows: list[list[Segment]] = []
        self._rows_for: tuple[int, int] | None = None
        self._badges: list[Badge] = []
        self._selected: str | None = None
        self._layers: tuple[tuple[int, int, bool], dict[int, list[tuple[int, str, Style]]]] | None = None
        self.cursor = (50.0, 50.0)
        self.scaled = 0
        """How many times the image was scaled (a test and bench hook: events must not rescale)."""

    # What is shown

    def set_image(self, image: Image.Image) -> None:
        self._image = image
        self._rows_for = None
        self.refresh()

    def set_badges(self, badges: list[Badge], selected: str | None) -> None:
        self._badges = badges
        self._selected = selected
        self._layers = None
        self.refresh()

    def move_cursor(self, columns: int, rows: int) -> None:
        cols, lines, _, _ = self._geometry()
        if not cols:
            return
        col, row = self._cell(*self.cursor, cols, lines)
        col = min(cols - 1, max(0, col + columns))
        row = min(lines - 1, max(0, row + rows))
        self.cursor = ((col + 0.5) / cols * 100, (row + 0.5) / lines * 100)
        self._layers = None
        self.refresh()

    def place_cursor(self, x: float, y: float) -> None:
        self.cursor = (min(100.0, max(0.0, x)), min(100.0, max(0.0, y)))
        self._layers = None
        self.refresh()

    # Geometry: the image fits the widget, aspect kept, centred.

    def _geometry(self) -> tuple[int, int, int, int]:
        """Columns and rows the image takes, and its left and top offsets in the widget."""
        if self._image is None or self.size.width == 0 or self.size.height == 0:
            return 0, 0, 0, 0
        width, height = self.size
        scale = min(width / self._image.width, height * 2 / self._image.height)
        cols = max(1, min(width, round(self._image.width * scale)))
        rows = max(1, min(height, round(self._image.height * scale / 2)))
        return cols, rows, (width - cols) // 2, (height - rows) // 2

    @staticmethod
    def _cell(x: float, y: float, cols: int, rows: int) -> tuple[int, int]:
        return min(cols - 1, int(x / 100 * cols)), min(rows - 1, int(y / 100 * rows))

    def _scaled_rows(self, cols: int, rows: int) -> list[list[Segment]]:
        if self._rows_for != (cols, rows) and self._image is not None:
            small = self._image.resize((cols, rows * 2), Image.Resampling.BOX)
            pixels = small.load()
            styles: dict[tuple[object, object], Style] = {}
            self._rows = []
            for row in range(rows):
                line = []
                for col in range(cols):
                    top, bottom = pixels[col, row * 2], pixels[col, row * 2 + 1]
                    style = styles.get((top, bottom))
                    if style is None:
                        style = styles[(top, bottom)] = Style(
                            color=Color.from_rgb(*top[:3]), bgcolor=Color.from_rgb(*bottom[:3])
                        )
                    line.append(Segment(HALF_BLOCK, style))
                self._rows.append(line)
            self._rows_for = (cols, rows)
            self.scaled += 1
        return self._rows

    def on_resize(self) -> None:
        self.refresh()

    # Rendering

    def _overlays(self, cols: int, rows: int) -> dict[int, list[tuple[int, str, Style]]]:
        """Per image row: (column, text, style) of the badges and the cursor on it, drawn in order:
        resolved first, then open, then the selection and the cursor on top. Worked out once per
        change, not once per line drawn."""
        if self._layers is not None and self._layers[0] == (cols, rows, self.has_focus):
            return self._layers[1]
        layers: dict[int, list[tuple[int, str, Style]]] = {}
        for badge in self._badges:
            text = f"{badge.number}"
            col, row = self._cell(badge.x, badge.y, cols, rows)
            start = max(0, min(cols - len(text), col - (len(text) - 1) // 2))
            style = BADGE_SELECTED if badge.marker_id == self._selected else (
                BADGE_RESOLVED if badge.resolved else BADGE_OPEN)
            layers.setdefault(row, []).append((start, text, style))
        col, row = self._cell(*self.cursor, cols, rows)
        layers.setdefault(row, []).append((col, "✚", CURSOR if self.has_focus else CURSOR_BLURRED))
        for items in layers.values():
            items.sort(key=_layer)
        self._layers = ((cols, rows, self.has_focus), layers)
        return layers

    def render_line(self, y: int) -> Strip:
        cols, rows, left, top = self._geometry()
        width = self.size.width
        row = y - top
        if not cols or not 0 <= row < rows:
            return Strip.blank(width)
        line = list(self._scaled_rows(cols, rows)[row])
        for start, text, style in self._overlays(cols, rows).get(row, ()):
            for offset, char in enumerate(text):
                if 0 <= start + offset < cols:
                    line[start + offset] = Segment(char, style)
        segments = [Segment(" " * left, BLANK), *line, Segment(" " * (width - left - cols), BLANK)]
        return Strip(segments, width)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # Mouse

    def badge_at(self, col: int, row: int) -> Badge | None:
        cols, rows, _, _ = self._geometry()
        for badge in reversed(self._badges):
            text = f"{badge.number}"
            bcol, brow = self._cell(badge.x, badge.y, cols, rows)
            start = max(0, min(cols - len(text), bcol - (len(text) - 1) // 2))
            if brow == row and start <= col < start + len(text):
                return badge
        return None

    def on_click(self, event: events.Click) -> None:
        cols, rows, left, top = self._geometry()
        col, row = event.x - left, event.y - top
        if not cols or not (0 <= col < cols and 0 <= row < rows):
            return
        badge = self.badge_at(col, row)
        if badge is not None:
            self.post_message(self.MarkerClicked(badge.marker_id))
        else:
            self.place_cursor((col + 0.5) / cols * 100, (row + 0.5) / rows * 100)
            self.post_message(self.CursorPlaced())


def _layer(item: tuple[int, str, Style]) -> int:
    style = item[2]
    return {BADGE_RESOLVED: 0, BADGE_OPEN: 1, BADGE_SELECTED: 2}.get(style, 3)

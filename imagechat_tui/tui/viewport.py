"""Which part of the image the pane shows, and how cells map to the image's percentages.

Pure: no widget, no terminal. A `View` is the user's choice (zoom and centre); `layout` turns it into
a `Geometry` for a pane of a given size, and every mapping between cells and marker coordinates
(drawing, clicks, the cursor, the status line) goes through that one `Geometry`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

MAX_SCALE = 8.0
"""The closest zoom: screen pixels per image pixel."""
ZOOM_STEP = math.sqrt(2)
"""A zoom step below actual pixels."""
ENLARGED = (1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
"""The zoom steps from actual pixels up."""
EDGE = 1e-9
"""Cells this close to a boundary count as past it, so a point on the image's edge is in view."""
PAN_FRACTION = 0.25
"""One pan step moves the view by this share of what it shows."""


@dataclass(frozen=True, slots=True)
class View:
    """The zoom (`scale` screen pixels per image pixel; None: the whole image fits the pane) and the
    image point at the centre of the pane, as fractions of the image's width and height."""

    scale: float | None = None
    cx: float = 0.5
    cy: float = 0.5


@dataclass(frozen=True, slots=True)
class Geometry:
    """A view laid out in a pane: the picture's cells, where they sit, and what they show."""

    cols: int
    rows: int
    """Cells the picture takes."""
    left: int
    top: int
    """Its offset in the pane, in cells (the picture is centred when smaller than the pane)."""
    box: tuple[float, float, float, float]
    """The part of the image shown: left, top, right, bottom in image pixels."""
    scale: float
    """Screen pixels per image pixel."""
    fit: float
    """The scale at which the whole image fits."""
    image_size: tuple[int, int]

    @property
    def is_fit(self) -> bool:
        return math.isclose(self.scale, self.fit)

    def cell_of(self, x: float, y: float) -> tuple[int, int] | None:
        """The picture cell (col, row) showing the point at (x, y) percent, or None if out of view."""
        width, height = self.image_size
        right, bottom = self.box[2:]
        fx, fy = self.cell_position(x, y)
        # The epsilon absorbs floating-point drift of the box (a left edge at 4e-16, not 0).
        col, row = math.floor(fx + EDGE), math.floor(fy + EDGE)
        # A point on the image's far edge (100 %) belongs to the last cell.
        if col == self.cols and math.isclose(right, width):
            col -= 1
        if row == self.rows and math.isclose(bottom, height):
            row -= 1
        return (col, row) if 0 <= col < self.cols and 0 <= row < self.rows else None

    def cell_position(self, x: float, y: float) -> tuple[float, float]:
        """Where (x, y) percent falls, in (fractional) picture cells from the picture's corner."""
        width, height = self.image_size
        left, top, right, bottom = self.box
        return ((x / 100 * width - left) / (right - left) * self.cols,
                (y / 100 * height - top) / (bottom - top) * self.rows)

    def point_of(self, col: float, row: float) -> tuple[float, float]:
        """The (x, y) percent at the centre of picture cell (col, row); cells past the picture's
        edge give points past the view, clamped to the image."""
        width, height = self.image_size
        left, top, right, bottom = self.box
        x = left + (col + 0.5) / self.cols * (right - left)
        y = top + (row + 0.5) / self.rows * (bottom - top)
        return _clamp(x / width * 100, 0, 100), _clamp(y / height * 100, 0, 100)

    def contains(self, x: float, y: float) -> bool:
        return self.cell_of(x, y) is not None

    def percent_box(self) -> tuple[float, float, float, float]:
        width, height = self.image_size
        left, top, right, bottom = self.box
        return left / width * 100, top / height * 100, right / width * 100, bottom / height * 100


def layout(view: View, image_size: tuple[int, int], pane: tuple[int, int],
           cell_pixels: tuple[int, int]) -> Geometry | None:
    """Lay `view` out in a pane of `pane` (columns, rows) whose cells are `cell_pixels` screen
    pixels each; None when there is nothing to show."""
    width, height = image_size
    cols_max, rows_max = pane
    cell_w, cell_h = cell_pixels
    if min(width, height, cols_max, rows_max) <= 0:
        return None
    fit = min(cols_max * cell_w / width, rows_max * cell_h / height)
    # An image smaller than the pane is enlarged to fit, and can still be seen at actual pixels.
    scale = fit if view.scale is None else _clamp(view.scale, min(fit, 1.0), max(fit, MAX_SCALE))
    cols = max(1, min(cols_max, round(width * scale / cell_w)))
    rows = max(1, min(rows_max, round(height * scale / cell_h)))
    shown_w, shown_h = min(width, cols * cell_w / scale), min(height, rows * cell_h / scale)
    left = _clamp(view.cx * width - shown_w / 2, 0, width - shown_w)
    top = _clamp(view.cy * height - shown_h / 2, 0, height - shown_h)
    return Geometry(cols, rows, (cols_max - cols) // 2, (rows_max - rows) // 2,
                    (left, top, left + shown_w, top + shown_h), scale, fit, image_size)


def settled(view: View, geometry: Geometry) -> View:
    """The view as laid out: its centre where clamping put it, so a pan from the edge moves at once."""
    width, height = geometry.image_size
    left, top, right, bottom = geometry.box
    scale = None if view.scale is None or geometry.is_fit else geometry.scale
    return View(scale, (left + right) / 2 / width, (top + bottom) / 2 / height)


def zoom(view: View, geometry: Geometry, steps: int, anchor: tuple[float, float]) -> View:
    """Zoom in (steps > 0) or out around `anchor` (x, y percent), which stays where it is on
    screen: by factors of √2 below actual pixels, through whole numbers above it (a pixel enlarged
    by a whole number of screen pixels keeps text strokes even)."""
    scale = geometry.scale
    for _ in range(abs(steps)):
        scale = _next_scale(scale, 1 if steps > 0 else -1)
    if (steps > 0 and scale < geometry.scale) or (steps < 0 and scale > geometry.scale):
        return view  # already at the limit (an image so small that fit is past the closest zoom)
    return zoom_to(view, geometry, scale, anchor)


def _next_scale(scale: float, direction: int) -> float:
    if direction > 0:
        above = [s for s in ENLARGED if s > scale * 1.0001]
        if scale >= 1 - 1e-9:
            return above[0] if above else MAX_SCALE
        return min(1.0, scale * ZOOM_STEP)
    below = [s for s in ENLARGED if s < scale * 0.9999]
    return below[-1] if scale > 1 + 1e-9 else scale / ZOOM_STEP


def zoom_to(view: View, geometry: Geometry, scale: float | None, anchor: tuple[float, float]) -> View:
    """The view at `scale` (None: fit; never smaller than fit or actual pixels, whichever is smaller)
    with `anchor` kept in place."""
    if scale is None:
        return View()
    scale = _clamp(scale, min(geometry.fit, 1.0), max(geometry.fit, MAX_SCALE))
    if math.isclose(scale, geometry.fit):
        return View()
    width, height = geometry.image_size
    ax, ay = anchor[0] / 100 * width, anchor[1] / 100 * height
    cx, cy = view.cx * width, view.cy * height
    ratio = geometry.scale / scale
    return View(scale, (ax + (cx - ax) * ratio) / width, (ay + (cy - ay) * ratio) / height)


def centred(scale: float | None, x: float, y: float) -> View:
    """The view at `scale` centred on (x, y) percent."""
    return View(scale, x / 100, y / 100)


def pan(view: View, geometry: Geometry, dx: float, dy: float) -> View:
    """Move by (dx, dy) pan steps (a quarter of what is shown each)."""
    width, height = geometry.image_size
    left, top, right, bottom = geometry.box
    return replace(view, cx=view.cx + dx * PAN_FRACTION * (right - left) / width,
                   cy=view.cy + dy * PAN_FRACTION * (bottom - top) / height)


def drag(view: View, geometry: Geometry, columns: int, rows: int) -> View:
    """Move so the image follows a pointer dragged by (columns, rows) cells."""
    width, height = geometry.image_size
    left, top, right, bottom = geometry.box
    return replace(view, cx=view.cx - columns * (right - left) / geometry.cols / width,
                   cy=view.cy - rows * (bottom - top) / geometry.rows / height)


def reveal(view: View, geometry: Geometry, x: float, y: float, centre: bool = False) -> View:
    """The view moved just enough (or, with `centre`, centred on it) to show (x, y) percent; the
    same view if it is in view already."""
    if geometry.contains(x, y):
        return view
    if centre:
        return replace(view, cx=x / 100, cy=y / 100)
    width, height = geometry.image_size
    left, top, right, bottom = geometry.box
    cell_w, cell_h = (right - left) / geometry.cols, (bottom - top) / geometry.rows
    px, py = x / 100 * width, y / 100 * height
    shift_x = min(0.0, px - left - cell_w / 2) + max(0.0, px - right + cell_w / 2)
    shift_y = min(0.0, py - top - cell_h / 2) + max(0.0, py - bottom + cell_h / 2)
    return replace(view, cx=view.cx + shift_x / width, cy=view.cy + shift_y / height)


def nearest_in_view(geometry: Geometry, x: float, y: float) -> tuple[float, float]:
    """(x, y) percent if in view, else the centre of the picture cell nearest to it."""
    if geometry.contains(x, y):
        return x, y
    col, row = geometry.cell_position(x, y)
    return geometry.point_of(_clamp(int(col), 0, geometry.cols - 1), _clamp(int(row), 0, geometry.rows - 1))


def describe(geometry: Geometry, outside: int, compact: bool = False) -> str:
    """The status line's account of the view, e.g. `zoom 2.0x · 40-62% x · 10-31% y · 3 outside`
    (`2.0x 40-62%x 10-31%y +3` when compact)."""
    if geometry.is_fit:
        return "fit"
    left, top, right, bottom = geometry.percent_box()
    # A closely zoomed large image: whole percents say nothing, so as many decimals as tell the edges apart.
    span = min(right - left, bottom - top)
    precision = ".0f" if span >= 2 else ".1f" if span >= 0.2 else ".2f"
    if compact:  # narrow terminals: a decimal fewer
        precision = ".0f" if span >= 0.2 else ".1f"
    left_text, top_text, right_text, bottom_text = (format(value, precision) for value in (left, top, right, bottom))
    if compact:
        text = f"{geometry.scale:.1f}x {left_text}-{right_text}%x {top_text}-{bottom_text}%y"
        return f"{text} +{outside}" if outside else text
    text = f"zoom {geometry.scale:.1f}x · {left_text}-{right_text}% x · {top_text}-{bottom_text}% y"
    return f"{text} · {outside} outside" if outside else text


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))

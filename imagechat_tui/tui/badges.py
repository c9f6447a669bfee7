"""Where marker badges go in the picture, and in which colours.

Pure: placement is worked out once per change of markers or view, and both drawing and hit-testing
read the same `Placed` list, so what is clicked is what is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .numbers import number_order, number_text
from .viewport import Geometry

RGB = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Badge:
    """One marker as the image pane needs it."""

    marker_id: str
    number: int | None
    """The server's number; None while the marker is pending."""
    x: float
    y: float
    resolved: bool
    unread: bool = False
    """A comment by someone else the user has not read: drawn in its own colours, behind a dot."""


class Look(Enum):
    RESOLVED = 0
    OPEN = 1
    UNREAD = 2
    SELECTED = 3
    """In drawing order: a selected badge is drawn over unread ones, unread over open, open over resolved."""


UNREAD_DOT = "•"
"""Before an unread badge's number: unread shows without telling colours apart."""


@dataclass(frozen=True, slots=True)
class Placed:
    """A badge as drawn: `text` in the picture's cells from (col, row) to (col + width - 1, row).
    Markers closer than a badge's width share one badge: `markers` lists them, in number order."""

    col: int
    row: int
    text: str
    markers: tuple[Badge, ...]
    look: Look

    @property
    def width(self) -> int:
        return len(self.text)

    def covers(self, col: int, row: int) -> bool:
        return row == self.row and self.col <= col < self.col + self.width


@dataclass(frozen=True, slots=True)
class Placement:
    badges: tuple[Placed, ...]
    """In drawing order."""
    outside: int
    """Markers out of view."""

    def at(self, col: int, row: int) -> Placed | None:
        return next((p for p in reversed(self.badges) if p.covers(col, row)), None)


def place(badges: list[Badge], geometry: Geometry, selected: str | None) -> Placement:
    """Badges in view, one per marker or per cluster of markers too close to tell apart: two badges
    on one row that would touch or overlap merge, so neighbours never read as one long number."""
    rows: dict[int, list[tuple[int, Badge]]] = {}
    outside = 0
    for badge in badges:
        cell = geometry.cell_of(badge.x, badge.y)
        if cell is None:
            outside += 1
        else:
            rows.setdefault(cell[1], []).append((cell[0], badge))
    placed: list[Placed] = []
    for row, items in rows.items():
        items.sort(key=lambda item: (item[0], number_order(item[1].number)))
        group: list[tuple[int, Badge]] = []
        for item in items:
            if group:
                current = _merge(group, row, geometry.cols, selected)
                start = _start(item[0], len(_label(item[1])), geometry.cols)
                if start <= current.col + current.width:  # touching or overlapping: one badge
                    group.append(item)
                    continue
                placed.append(current)
            group = [item]
        placed.append(_merge(group, row, geometry.cols, selected))
    placed.sort(key=lambda p: p.look.value)
    return Placement(tuple(placed), outside)


def _merge(group: list[tuple[int, Badge]], row: int, cols: int, selected: str | None) -> Placed:
    markers = tuple(sorted((badge for _, badge in group), key=lambda b: number_order(b.number)))
    chosen = next((b for b in markers if b.marker_id == selected), markers[0])
    label = number_text(chosen.number)
    text = label if len(markers) == 1 else f"{label}+{len(markers) - 1}"
    if any(b.unread for b in markers):
        text = UNREAD_DOT + text
    centre = round(sum(col for col, _ in group) / len(group))
    if any(b.marker_id == selected for b in markers):
        look = Look.SELECTED
    elif any(b.unread for b in markers):
        look = Look.UNREAD
    elif any(not b.resolved for b in markers):
        look = Look.OPEN
    else:
        look = Look.RESOLVED
    return Placed(_start(centre, len(text), cols), row, text, markers, look)


def _label(badge: Badge) -> str:
    return UNREAD_DOT + number_text(badge.number) if badge.unread else number_text(badge.number)


def _start(col: int, width: int, cols: int) -> int:
    """The first cell of a badge `width` cells wide centred on `col`, kept inside the picture."""
    return max(0, min(cols - width, col - (width - 1) // 2))


def cycle(placed: Placed, selected: str | None) -> str:
    """The marker a click on `placed` selects: the next one after the selection in a cluster."""
    ids = [b.marker_id for b in placed.markers]
    return ids[(ids.index(selected) + 1) % len(ids)] if selected in ids else ids[0]


# Colours: every badge has a light and a dark version; the one that stands out more from the
# pixels under it is drawn. Each keeps its text readable on its own fill (WCAG 4.5:1 both ways).


@dataclass(frozen=True, slots=True)
class Colours:
    fill: RGB
    text: RGB


PALETTE: dict[Look, tuple[Colours, Colours]] = {
    # (light, dark)
    Look.OPEN: (Colours((255, 215, 0), (0, 0, 0)), Colours((26, 18, 0), (255, 215, 0))),
    Look.RESOLVED: (Colours((200, 200, 200), (48, 48, 48)), Colours((20, 20, 20), (176, 176, 176))),
    Look.UNREAD: (Colours((0, 215, 255), (0, 0, 0)), Colours((0, 16, 30), (0, 215, 255))),
    Look.SELECTED: (Colours((255, 168, 255), (0, 0, 0)), Colours((42, 0, 48), (255, 140, 255))),
}
UNDER_CURSOR = Colours((192, 0, 0), (255, 255, 255))
"""A badge at the cursor's spot stays readable: drawn in the cursor's colours instead of hidden."""


def colours(look: Look, background: RGB) -> Colours:
    light, dark = PALETTE[look]
    return max((light, dark), key=lambda c: contrast(c.fill, background))


def luminance(rgb: RGB) -> float:
    """WCAG relative luminance."""
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = rgb
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: RGB, b: RGB) -> float:
    """WCAG contrast ratio, 1 to 21."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)

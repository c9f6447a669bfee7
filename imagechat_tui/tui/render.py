"""Drawing the picture: a pure function of (image, view, badges, cursor), apart from the widget.

Half-block mode draws two image pixels a cell (`▀`, foreground over background); pixel modes draw
badges and the cursor into the pixels before they are encoded for the terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from rich.color import Color, ColorType
from rich.color_triplet import ColorTriplet
from rich.segment import Segment
from rich.style import Style

from .badges import RGB, UNDER_CURSOR, Colours, Placed, Placement, colours

HALF_BLOCK = "▀"
CURSOR_GLYPH = "✚"
CURSOR = Style(color="bright_red", bgcolor="white", bold=True)
CURSOR_BLURRED = Style(color="red", bgcolor="grey50")

Row = list[Segment]


@dataclass(frozen=True, slots=True)
class Cursor:
    cell: tuple[int, int] | None
    """The picture cell it is in, or None when out of view."""
    focused: bool


def free_cursor(placement: Placement, cursor: Cursor) -> tuple[int, int] | None:
    """Where the cursor is drawn: its cell, unless a badge is there (the badge then takes the
    cursor's colours instead of being hidden)."""
    if cursor.cell is None or placement.at(*cursor.cell) is not None:
        return None
    return cursor.cell


def halfblock_rows(picture: Image.Image) -> list[Row]:
    """One row of segments per two pixel rows of `picture` (RGB, an even number of rows): a cell
    shows its top pixel as the foreground of `▀` and its bottom one as the background. Neighbouring
    cells of one colour pair are one segment: a screenshot's flat areas are long runs, and the cost
    of a line, here and in Textual's drawing of it, grows with its segments."""
    pixels = np.asarray(picture, dtype=np.uint64)
    cells = pixels[0::2] << 8 | pixels[1::2]  # per channel: the top pixel's byte, then the bottom one's
    pairs = cells[..., 0] << 32 | cells[..., 1] << 16 | cells[..., 2]
    styles: dict[int, Style] = {}
    rows: list[Row] = []
    for line in pairs:
        ends = [*(np.flatnonzero(line[1:] != line[:-1]) + 1).tolist(), len(line)]
        values = line.tolist()
        row: Row = []
        first = 0
        for end in ends:
            pair = values[first]
            style = styles.get(pair)
            if style is None:
                style = styles[pair] = Style.from_color(_color(_rgb(pair, 8)), _color(_rgb(pair, 0)))
            row.append(Segment(HALF_BLOCK * (end - first), style))
            first = end
        rows.append(row)
    return rows


def _rgb(pair: int, shift: int) -> tuple[int, int, int]:
    """The top (`shift` 8) or bottom (0) pixel of a cell's colour pair."""
    return (pair >> (32 + shift)) & 255, (pair >> (16 + shift)) & 255, (pair >> shift) & 255


_HEX = [f"{value:02x}" for value in range(256)]


def _color(rgb: tuple[int, int, int]) -> Color:
    """Rich's `Color.from_rgb`, without formatting the name anew for every pixel (a third of the time)."""
    r, g, b = rgb
    return Color(f"#{_HEX[r]}{_HEX[g]}{_HEX[b]}", ColorType.TRUECOLOR, triplet=ColorTriplet(r, g, b))


Overlays = dict[int, list[tuple[int, str, Style]]]
"""Per picture row: (column, text, style) drawn over the picture, in order."""


def halfblock_overlays(picture: Image.Image, placement: Placement, cursor: Cursor) -> Overlays:
    """The badges and the cursor as text over the half-block picture (2 pixel rows a cell)."""
    layers: Overlays = {}
    for placed in placement.badges:
        under = _mean(picture, placed.col, placed.row * 2, placed.width, 2)
        chosen = _badge_colours(placed, under, cursor)
        style = Style(color=Color.from_rgb(*chosen.text), bgcolor=Color.from_rgb(*chosen.fill), bold=True)
        layers.setdefault(placed.row, []).append((placed.col, placed.text, style))
    if (cell := free_cursor(placement, cursor)) is not None:
        col, row = cell
        layers.setdefault(row, []).append((col, CURSOR_GLYPH, CURSOR if cursor.focused else CURSOR_BLURRED))
    return layers


def apply_overlays(row: Row, items: Sequence[tuple[int, str, Style]]) -> Row:
    """`row` with each item's text drawn over its cells (one cell a character), cut to the row."""
    line = row
    width = sum(len(segment.text) for segment in row)
    for start, text, style in items:
        first, end = max(0, start), min(width, start + len(text))
        if first < end:
            before, _, after = Segment.divide(line, [first, end, width])
            line = [*before, Segment(text[first - start:end - start], style), *after]
    return line


BADGE_FONT_PX = 14
"""The smallest badge text in pixel modes: a cell of a small terminal font is too small to read."""


def draw_pixels(picture: Image.Image, placement: Placement, cursor: Cursor, cell: tuple[int, int]) -> Image.Image:
    """A copy of `picture` (cols x cell pixels wide) with the badges and the cursor drawn in.
    A badge is centred on its cells, and at least large enough for BADGE_FONT_PX text."""
    out = picture.copy()
    draw = ImageDraw.Draw(out)
    cell_w, cell_h = cell
    font = _font(max(BADGE_FONT_PX, cell_h - 4))
    for placed in placement.badges:
        centre = ((placed.col + placed.width / 2) * cell_w, (placed.row + 0.5) * cell_h)
        left, top, right, bottom = draw.textbbox(centre, placed.text, font=font, anchor="mm")
        pad = max(3, font.size // 4) if isinstance(font, ImageFont.FreeTypeFont) else 3
        box = (min(left - pad, centre[0] - placed.width * cell_w / 2), min(top - pad, centre[1] - cell_h / 2),
               max(right + pad, centre[0] + placed.width * cell_w / 2), max(bottom + pad, centre[1] + cell_h / 2))
        under = _mean(out, int(box[0]), int(box[1]), max(1, int(box[2] - box[0])), max(1, int(box[3] - box[1])))
        chosen = _badge_colours(placed, under, cursor)
        draw.rounded_rectangle(box, radius=(box[3] - box[1]) / 3, fill=chosen.fill, outline=chosen.text, width=2)
        draw.text(centre, placed.text, fill=chosen.text, font=font, anchor="mm")
    if (cell := free_cursor(placement, cursor)) is not None:
        col, row = cell
        x, y = col * cell_w + cell_w // 2, row * cell_h + cell_h // 2
        arm = max(7, min(cell_w, cell_h))
        colour = (255, 40, 40) if cursor.focused else (160, 40, 40)
        for width, fill in ((5, (255, 255, 255)), (3, colour)):  # a light halo keeps it visible on red
            draw.line((x - arm, y, x + arm, y), fill=fill, width=width)
            draw.line((x, y - arm, x, y + arm), fill=fill, width=width)
    return out


def _badge_colours(placed: Placed, under: RGB, cursor: Cursor) -> Colours:
    if cursor.cell is not None and placed.covers(*cursor.cell):
        return UNDER_CURSOR
    return colours(placed.look, under)


def _mean(image: Image.Image, left: int, top: int, width: int, height: int) -> RGB:
    """The average colour of a box of `image`."""
    region = image.crop((left, top, left + width, top + height)).resize((1, 1), Image.Resampling.BOX)
    r, g, b = region.getpixel((0, 0))[:3]  # type: ignore[index]
    return r, g, b


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size)

"""An inbox row's tiny picture: the server's thumbnail drawn in a few cells with half blocks."""

from __future__ import annotations

import io

from PIL import Image, ImageOps
from textual.content import Content

from .render import HALF_BLOCK

COLUMNS, LINES = 6, 2
"""Cells a row's picture takes: 6 by 4 image pixels, about the shape of a screenshot."""

PLACEHOLDER = [Content.styled("░" * COLUMNS, "$text-muted") for _ in range(LINES)]
"""For an image whose bytes the server does not hold (or while its thumbnail comes)."""


def thumbnail_lines(png: bytes) -> list[Content]:
    """The thumbnail as LINES lines of COLUMNS half-block cells (centre-cropped to fill them)."""
    with Image.open(io.BytesIO(png)) as image:
        small = ImageOps.fit(image.convert("RGB"), (COLUMNS, LINES * 2), Image.Resampling.BOX)
    lines = []
    for line in range(LINES):
        cells = []
        for column in range(COLUMNS):
            top, bottom = small.getpixel((column, 2 * line)), small.getpixel((column, 2 * line + 1))
            cells.append((HALF_BLOCK, f"{_hex(top)} on {_hex(bottom)}"))
        lines.append(Content.assemble(*cells))
    return lines


def _hex(rgb: object) -> str:
    r, g, b = rgb  # type: ignore[misc]
    return f"#{r:02x}{g:02x}{b:02x}"

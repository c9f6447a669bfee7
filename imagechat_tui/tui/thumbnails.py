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
    data, stride = small.tobytes(), COLUMNS * 3
    lines = []
    for line in range(LINES):
        top = 2 * line * stride
        cells = [(HALF_BLOCK, f"#{data[i:i + 3].hex()} on #{data[i + stride:i + stride + 3].hex()}")
                 for i in range(top, top + stride, 3)]
        lines.append(Content.assemble(*cells))
    return lines

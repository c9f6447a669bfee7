"""iTerm2 inline images: OSC 1337 File= with a PNG, stretched over a size given in cells."""

from __future__ import annotations

import base64

from PIL import Image

from .png import png


def encode(image: Image.Image, cols: int, rows: int) -> bytes:
    """Draw `image` over cols x rows cells from the cursor, which stays put (no scrolling at the bottom)."""
    data = png(image)
    args = f"inline=1;size={len(data)};width={cols};height={rows};preserveAspectRatio=0;doNotMoveCursor=1"
    return b"\x1b]1337;File=" + args.encode() + b":" + base64.b64encode(data) + b"\x07"

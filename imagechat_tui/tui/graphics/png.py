"""PNG bytes for the protocols that take a whole file (Kitty's f=100, iTerm2's File=)."""

from __future__ import annotations

from io import BytesIO

from PIL import Image


def png(image: Image.Image) -> bytes:
    """Fastest deflate level: measured 40-50 ms for 1600 x 960, against 45-140 ms at the default level."""
    out = BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()

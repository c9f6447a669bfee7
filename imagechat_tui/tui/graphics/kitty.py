"""Kitty graphics protocol: transmit a PNG and display it at the cursor; delete it by id."""

from __future__ import annotations

import base64

from PIL import Image

from .png import png

CHUNK = 4096
"""Base64 bytes per escape sequence, the protocol's limit."""


def command(keys: str, payload: bytes = b"") -> bytes:
    """One graphics command. q=2: the terminal sends no reply, which Textual would read as keys."""
    return b"\x1b_G" + keys.encode() + b",q=2" + (b";" + payload if payload else b"") + b"\x1b\\"


def encode(image: Image.Image, cols: int, rows: int, image_id: int) -> bytes:
    """Draw `image` over cols x rows cells from the cursor, which stays put (C=1).

    Sending the same `image_id` again replaces the image and its placement instead of adding one.
    """
    data = base64.b64encode(png(image))
    chunks = [data[at:at + CHUNK] for at in range(0, len(data), CHUNK)] or [b""]
    first = f"a=T,f=100,i={image_id},p=1,c={cols},r={rows},C=1,m={int(len(chunks) > 1)}"
    out = [command(first, chunks[0])]
    out += [command(f"m={int(n < len(chunks) - 1)}", chunk) for n, chunk in enumerate(chunks) if n > 0]
    return b"".join(out)


def place(cols: int, rows: int, image_id: int) -> bytes:
    """Display an image sent before (and hidden since) at the cursor again, without sending it again."""
    return command(f"a=p,i={image_id},p=1,c={cols},r={rows},C=1")


def delete(image_id: int, free: bool = True) -> bytes:
    """Remove the image from the screen; `free` also drops its data from the terminal (d=I, else d=i)."""
    return command(f"a=d,d={'I' if free else 'i'},i={image_id}")

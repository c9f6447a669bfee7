"""Checking uploaded image bytes and making their thumbnail (pure: bytes in, facts out).

Pillow decodes untrusted bytes here, so this runs in a worker thread (`asyncio.to_thread`), never
on the event loop, and refuses an image by its declared size before decoding a pixel of it.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import cast

from PIL import Image

from ..protocol.limits import MAX_IMAGE_PIXELS, THUMBNAIL_SIZE
from ..protocol.models import ImageFormat
from .domain_errors import BadImage

FORMATS: dict[str, ImageFormat] = {"PNG": "png", "JPEG": "jpeg", "GIF": "gif", "WEBP": "webp", "BMP": "bmp"}
MEDIA_TYPES: dict[str, str] = {"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp",
                               "bmp": "image/bmp"}


@dataclass(frozen=True, slots=True)
class Decoded:
    width: int
    height: int
    format: ImageFormat
    thumbnail: bytes
    """A PNG at most THUMBNAIL_SIZE pixels on its longer side."""


def check_digest(key: str, data: bytes) -> None:
    """BadImage unless `data` is what `key` (`sha256:<hex>`) names."""
    if f"sha256:{hashlib.sha256(data).hexdigest()}" != key:
        raise BadImage("hash_mismatch", "the body's SHA-256 is not the key it was sent to")


def decode(data: bytes) -> Decoded:
    """The image's size, format and thumbnail; BadImage if it is not one the server keeps."""
    try:
        image = Image.open(io.BytesIO(data), formats=list(FORMATS))
    except Image.DecompressionBombError:
        raise _too_many_pixels() from None
    except Exception:  # Pillow's parsers raise many kinds on hostile bytes; all mean "not an image"
        raise _not_an_image() from None
    with image:
        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS:
            raise _too_many_pixels()
        try:
            thumbnail = _thumbnail(image)
        except Exception:  # truncated or corrupt pixel data
            raise _not_an_image() from None
        return Decoded(width, height, FORMATS[cast(str, image.format)], thumbnail)


def _thumbnail(image: Image.Image) -> bytes:
    image.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))  # decodes JPEG at a reduced scale (draft)
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA")
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _not_an_image() -> BadImage:
    return BadImage("not_an_image", "the body is not a PNG, JPEG, GIF, WebP or BMP image that can be decoded")


def _too_many_pixels() -> BadImage:
    return BadImage("too_many_pixels", f"images are limited to {MAX_IMAGE_PIXELS:,} pixels (a decompression bomb?)")

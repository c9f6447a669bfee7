"""Opening the image to annotate: a local file or an http(s) URL, decoded with Pillow."""

from __future__ import annotations

import asyncio
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from PIL import Image, UnidentifiedImageError

from ..protocol.imagekey import file_image_key, normalize_image_key

MAX_BYTES = 25 * 1024 * 1024
MAX_REDIRECTS = 5
MAX_PIXELS = 64_000_000
"""More pixels than this is refused as a possible decompression bomb."""
WORKING_WIDTH = 1024
"""Decoded images are reduced to this width once; every redraw scales from the reduced copy."""

Progress = Callable[[int, int | None], None]


class LoadError(Exception):
    """An image that can't be opened, with a message for the user."""


@dataclass(frozen=True, slots=True)
class LoadedImage:
    key: str
    name: str
    image: Image.Image
    """RGB, at most WORKING_WIDTH wide."""
    width: int
    height: int
    """The original size."""


def is_url(target: str) -> bool:
    return target.lower().startswith(("http://", "https://"))


async def load(target: str, *, progress: Progress | None = None, verify: object = True) -> LoadedImage:
    """The image and its key; decoding runs in a thread, so the UI stays live meanwhile."""
    if not is_url(target):
        return await asyncio.to_thread(_open_file, Path(target).expanduser())
    try:
        key = normalize_image_key(target)
    except ValueError as exc:
        raise LoadError(f"{target}: not a usable URL ({exc})") from None
    data = await download(target, progress=progress, verify=verify)
    return await asyncio.to_thread(decode, data, key, target.rsplit("/", 1)[-1] or target)


def _open_file(path: Path) -> LoadedImage:
    if not path.is_file():
        raise LoadError(f"{path}: no such file")
    if path.stat().st_size > MAX_BYTES:
        raise LoadError(f"{path}: larger than {MAX_BYTES // 2**20} MB")
    return decode(path.read_bytes(), file_image_key(path), path.name)


async def download(url: str, *, progress: Progress | None = None, verify: object = True) -> bytes:
    try:
        async with httpx.AsyncClient(follow_redirects=True, max_redirects=MAX_REDIRECTS, timeout=15,
                                     verify=verify) as http:  # type: ignore[arg-type]
            async with http.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise LoadError(f"{url}: the server answered {response.status_code}")
                total = int(response.headers.get("content-length", 0)) or None
                if total is not None and total > MAX_BYTES:
                    raise LoadError(f"{url}: larger than {MAX_BYTES // 2**20} MB")
                buffer = bytearray()
                async for chunk in response.aiter_bytes():
                    buffer += chunk
                    if len(buffer) > MAX_BYTES:
                        raise LoadError(f"{url}: larger than {MAX_BYTES // 2**20} MB")
                    if progress is not None:
                        progress(len(buffer), total)
                return bytes(buffer)
    except httpx.TooManyRedirects:
        raise LoadError(f"{url}: more than {MAX_REDIRECTS} redirects") from None
    except httpx.TimeoutException:
        raise LoadError(f"{url}: the server did not answer in time") from None
    except httpx.TransportError as exc:
        raise LoadError(f"{url}: the server can't be reached ({type(exc).__name__})") from None


def decode(data: bytes, key: str, name: str) -> LoadedImage:
    try:
        # Pillow warns past MAX_IMAGE_PIXELS (and refuses at twice that): both are a refusal here,
        # and no warning may reach a terminal that Textual is drawing.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = MAX_PIXELS
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                image.draft("RGB", (WORKING_WIDTH, WORKING_WIDTH))  # JPEG: decode at a reduced scale
                rgb = image.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise LoadError(f"{name}: too many pixels to open safely (a decompression bomb?)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise LoadError(f"{name}: not an image Pillow can read ({exc.__class__.__name__})") from None
    if rgb.width > WORKING_WIDTH:
        rgb.thumbnail((WORKING_WIDTH, WORKING_WIDTH * rgb.height // rgb.width))
    return LoadedImage(key, name, rgb, width, height)

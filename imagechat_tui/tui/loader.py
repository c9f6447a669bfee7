"""Opening the image to annotate: a local file or an http(s) URL, decoded with Pillow as a browser shows it."""

from __future__ import annotations

import asyncio
import io
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
from PIL import Image, ImageOps, UnidentifiedImageError

from ..protocol.imagekey import data_image_key, file_image_key, legacy_url_key

MAX_BYTES = 25 * 1024 * 1024
MAX_REDIRECTS = 5
MAX_PIXELS = 64_000_000
"""More pixels than this is refused as a possible decompression bomb."""
TICK = 0.5
"""Seconds between progress reports while a server sends nothing."""
CHECKER = 8
"""Side in image pixels of the squares transparent pixels are shown over."""
CHECKER_SHADES = (255, 204)
"""The light greys of the checkerboard: black and dark text stay readable on both."""

Progress = Callable[[int, int | None, float], None]
"""progress(bytes received, bytes expected or None, seconds since the download started)."""

_SCHEME = re.compile(r"([a-z][a-z0-9+.-]+)://", re.IGNORECASE)
"""A URL's scheme: two characters at least, so that a Windows drive letter is not one."""


class LoadError(Exception):
    """An image that can't be opened, with a message for the user."""


@dataclass(frozen=True, slots=True)
class LoadedImage:
    key: str
    name: str
    image: Image.Image
    """RGB at full resolution, upright (EXIF orientation applied), transparency over a checkerboard."""
    width: int
    height: int
    """The upright size, the one marker percentages refer to."""
    animated: bool = False
    frames: int = 1
    """How many frames an animation has; only the first is shown."""


def is_url(target: str) -> bool:
    return target.lower().startswith(("http://", "https://"))


async def load(target: str, *, progress: Progress | None = None, verify: object = True) -> LoadedImage:
    """The image and its key; decoding runs in a thread, so the UI stays live meanwhile."""
    if not is_url(target):
        return await asyncio.to_thread(_open_file, _local_path(target))
    try:
        legacy_url_key(target)  # refuses what is no usable URL before anything is fetched
    except ValueError as exc:
        raise LoadError(f"{target}: not a usable URL ({exc})") from None
    data = await download(target, progress=progress, verify=verify)
    # Keyed by content, as a file is: new markers go on content keys only (docs/protocol.md).
    return await asyncio.to_thread(decode, data, data_image_key(data), target.rsplit("/", 1)[-1] or target)


def _local_path(target: str) -> Path:
    """The file a target names: a path, or a file:// URL; any other URL scheme is refused."""
    scheme = _SCHEME.match(target)
    if scheme is None:
        return Path(target).expanduser()
    if scheme[1].lower() != "file":
        raise LoadError(f"{target}: the {scheme[1].lower()}:// scheme is not supported (use http, https or a file)")
    parts = urlsplit(target)
    if parts.netloc not in ("", "localhost"):
        raise LoadError(f"{target}: only file:// URLs of this computer can be opened")
    return Path(unquote(parts.path))


def _open_file(path: Path) -> LoadedImage:
    try:
        if path.is_dir():
            raise LoadError(f"{path}: is a directory")
        if not path.exists():
            raise LoadError(f"{path}: no such file")
        if not path.is_file():
            raise LoadError(f"{path}: not a regular file")  # a FIFO or a device: reading it may never end
        if path.stat().st_size > MAX_BYTES:
            raise LoadError(f"{path}: larger than {MAX_BYTES // 2**20} MB")
        data = path.read_bytes()
        key = file_image_key(path)
    except OSError as exc:
        raise LoadError(f"{path}: can't be read ({exc.strerror or type(exc).__name__})") from None
    return decode(data, key, path.name)


class _Meter:
    """What a download has received so far, reported with the time since it started."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self._started = time.monotonic()
        self.done = 0
        self.total: int | None = None

    def report(self) -> None:
        if self._progress is not None:
            self._progress(self.done, self.total, time.monotonic() - self._started)


async def download(url: str, *, progress: Progress | None = None, verify: object = True) -> bytes:
    """The body at `url`; `progress` hears of every chunk, and every TICK seconds while nothing arrives."""
    meter = _Meter(progress)
    fetch = asyncio.create_task(_fetch(url, meter, verify))
    try:
        while not fetch.done():
            await asyncio.wait({fetch}, timeout=TICK)
            if not fetch.done():
                meter.report()
        return fetch.result()
    finally:
        fetch.cancel()


async def _fetch(url: str, meter: _Meter, verify: object) -> bytes:
    try:
        async with httpx.AsyncClient(follow_redirects=True, max_redirects=MAX_REDIRECTS, timeout=15,
                                     verify=verify) as http:  # type: ignore[arg-type]
            async with http.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise LoadError(f"{url}: the server answered {response.status_code}")
                meter.total = int(response.headers.get("content-length", 0)) or None
                if meter.total is not None and meter.total > MAX_BYTES:
                    raise LoadError(f"{url}: larger than {MAX_BYTES // 2**20} MB")
                buffer = bytearray()
                async for chunk in response.aiter_bytes():
                    buffer += chunk
                    if len(buffer) > MAX_BYTES:
                        raise LoadError(f"{url}: larger than {MAX_BYTES // 2**20} MB")
                    meter.done = len(buffer)
                    meter.report()
                return bytes(buffer)
    except httpx.TooManyRedirects:
        raise LoadError(f"{url}: more than {MAX_REDIRECTS} redirects") from None
    except httpx.TimeoutException:
        raise LoadError(f"{url}: the server did not answer in time") from None
    except httpx.TransportError as exc:
        raise LoadError(f"{url}: the server can't be reached ({type(exc).__name__})") from None


def decode(data: bytes, key: str, name: str) -> LoadedImage:
    try:
        # Pillow warns past MAX_IMAGE_PIXELS (and refuses at twice that): both are a refusal here.
        # No other warning may reach a terminal that Textual is drawing.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = MAX_PIXELS
            with Image.open(io.BytesIO(data)) as image:
                frames = getattr(image, "n_frames", 1)  # counting frames seeks back to the first
                ImageOps.exif_transpose(image, in_place=True)
                rgb = _as_rgb(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise LoadError(f"{name}: too many pixels to open safely (a decompression bomb?)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise LoadError(f"{name}: not an image Pillow can read ({exc.__class__.__name__})") from None
    return LoadedImage(key, name, rgb, rgb.width, rgb.height, animated=frames > 1, frames=frames)


def _as_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB as a browser shows `image`: 16-bit tones scaled down, transparency over a checkerboard."""
    if image.mode == "I" or image.mode.startswith("I;16"):
        # Pillow's convert clips these at 255 (a 16-bit grey shows white); the top 8 bits are the tone.
        image = image.convert("I").point(lambda value: value / 256, "L")
    if not image.has_transparency_data:
        return image if image.mode == "RGB" else image.convert("RGB")  # a copy of 36 MB costs 60 ms
    rgba = image.convert("RGBA")
    if rgba.getchannel("A").getextrema()[0] == 255:
        return rgba.convert("RGB")  # an alpha channel with nothing transparent in it
    shown = _checkerboard(rgba.size)
    shown.paste(rgba, mask=rgba)
    return shown


def _checkerboard(size: tuple[int, int]) -> Image.Image:
    """Light grey squares of CHECKER pixels, as image editors and browsers show transparency."""
    width, height = size
    columns, rows = -(-width // CHECKER), -(-height // CHECKER)
    light, dark = (bytes([shade]) for shade in CHECKER_SHADES)
    even, odd = ((light + dark) * columns)[:columns], ((dark + light) * columns)[:columns]
    squares = Image.frombytes("L", (columns, rows), ((even + odd) * rows)[:columns * rows])
    board = squares.resize((columns * CHECKER, rows * CHECKER), Image.Resampling.NEAREST)
    return board.crop((0, 0, width, height)).convert("RGB")

"""Opening the image to annotate: its bytes from client.images (a URL, a file, a link), decoded with
Pillow as a browser shows it."""

from __future__ import annotations

import asyncio
import io
import warnings
from dataclasses import dataclass, replace

from PIL import Image, ImageOps, UnidentifiedImageError

from ..client.imagecache import ImageCache
from ..client.images import ImageError, Progress, Resolved, resolve
from ..client.rest import RestClient
from ..protocol.limits import MAX_IMAGE_PIXELS as MAX_PIXELS

CHECKER = 8
"""Side in image pixels of the squares transparent pixels are shown over."""
CHECKER_SHADES = (255, 204)
"""The light greys of the checkerboard: black and dark text stay readable on both."""


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
    origin: Resolved | None = None
    """Where the bytes came from: source, file, the link's marker."""


async def load(target: str, *, rest: RestClient | None = None, cache: ImageCache | None = None,
               progress: Progress | None = None, verify: object = True) -> LoadedImage:
    """The image `target` names (client.images.resolve: a URL, a file or a link), decoded in a
    thread so the UI stays live meanwhile."""
    try:
        origin = await resolve(target, rest=rest, cache=cache, progress=progress, verify=verify)
    except ImageError as exc:
        raise LoadError(str(exc)) from None
    loaded = await asyncio.to_thread(decode, origin.data, origin.key, origin.name)
    return replace(loaded, origin=origin)


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

"""Test-side decoders: escape sequences back to pixels, to check what the encoders and the app write."""

from __future__ import annotations

import base64
import re
import zlib
from dataclasses import dataclass, field
from io import BytesIO

from PIL import Image

SIXEL = re.compile(rb'\x1bP([\d;]*)q"1;1;(\d+);(\d+)(.*?)\x1b\\', re.S)
SIXEL_TOKEN = re.compile(rb"#(\d+);2;(\d+);(\d+);(\d+)|#(\d+)|!(\d+)([?-~])|([?-~])|(\$)|(-)")
APC = re.compile(rb"\x1b_G([^;\x1b]*)(?:;([^\x1b]*))?\x1b\\")
ITERM = re.compile(rb"\x1b\]1337;File=([^:]*):([A-Za-z0-9+/=]*)\x07")


def sixel(data: bytes) -> Image.Image:
    """The image a sixel sequence draws (pixels never set stay black)."""
    match = SIXEL.search(data)
    assert match, "no sixel sequence"
    assert match.group(1).split(b";")[1] == b"1", "P2 must be 1: colour rows share bands"
    width, height = int(match.group(2)), int(match.group(3))
    pixels = bytearray(width * height * 3)
    registers: dict[int, tuple[int, int, int]] = {}
    colour = (0, 0, 0)
    x = band = 0
    for token in SIXEL_TOKEN.finditer(match.group(4)):
        define, r, g, b, select, count, char, single, cr, nl = token.groups()
        if define:
            registers[int(define)] = tuple(round(int(v) * 255 / 100) for v in (r, g, b))  # type: ignore[assignment]
            colour = registers[int(define)]
        elif select:
            colour = registers[int(select)]
        elif cr:
            x = 0
        elif nl:
            x, band = 0, band + 1
        else:
            repeat = int(count) if count else 1
            bits = (char or single)[0] - 0x3F
            for column in range(x, x + repeat):
                for row in range(6):
                    y = band * 6 + row
                    if bits >> row & 1 and column < width and y < height:
                        pixels[3 * (y * width + column):3 * (y * width + column) + 3] = bytes(colour)
            x += repeat
    return Image.frombytes("RGB", (width, height), bytes(pixels))


@dataclass
class KittyImage:
    keys: dict[str, str]
    image: Image.Image | None


@dataclass
class KittyCommands:
    commands: list[dict[str, str]] = field(default_factory=list)
    images: list[KittyImage] = field(default_factory=list)


def kitty(data: bytes) -> KittyCommands:
    """Every graphics command, with chunked transmissions joined and decoded to images."""
    out = KittyCommands()
    keys: dict[str, str] | None = None
    payload = b""
    for match in APC.finditer(data):
        command = dict(part.split("=", 1) for part in match.group(1).decode().split(",") if part)
        out.commands.append(command)
        if keys is None and command.get("a", "t") not in ("t", "T"):
            continue
        if keys is None:
            keys, payload = command, b""
        chunk = match.group(2) or b""
        assert len(chunk) <= 4096, "chunks are at most 4096 bytes of base64"
        payload += chunk
        if command.get("m", "0") == "0":
            out.images.append(KittyImage(keys, _kitty_pixels(keys, base64.b64decode(payload))))
            keys = None
    return out


def _kitty_pixels(keys: dict[str, str], raw: bytes) -> Image.Image:
    if keys.get("o") == "z":
        raw = zlib.decompress(raw)
    if keys.get("f") == "100":
        return Image.open(BytesIO(raw)).convert("RGB")
    mode = {"24": "RGB", "32": "RGBA"}[keys["f"]]
    return Image.frombytes(mode, (int(keys["s"]), int(keys["v"])), raw).convert("RGB")


def iterm2(data: bytes) -> tuple[dict[str, str], Image.Image]:
    match = ITERM.search(data)
    assert match, "no OSC 1337 File= sequence"
    args = dict(part.split("=", 1) for part in match.group(1).decode().split(";"))
    raw = base64.b64decode(match.group(2))
    assert int(args["size"]) == len(raw)
    return args, Image.open(BytesIO(raw)).convert("RGB")

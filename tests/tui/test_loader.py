"""Opening images: files and URLs (a real HTTP server on loopback), decoded as a browser shows them."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import struct
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from imagechat_tui.protocol.imagekey import file_image_key
from imagechat_tui.tui.loader import CHECKER, CHECKER_SHADES, LoadedImage, LoadError, decode, load
from imagechat_tui.tui.sample import SAMPLE_SIZE

from ..conftest import wait_for
from ..website import send_body, website


@pytest.fixture
def web(sample: Path) -> Iterator[str]:
    body = sample.read_bytes()

    def respond(request: BaseHTTPRequestHandler) -> None:
        path = request.path.split("?")[0]
        if path.startswith("/hop/"):
            left = int(path.rsplit("/", 1)[1])
            request.send_response(302)
            request.send_header("Location", "/shot.png" if left == 0 else f"/hop/{left - 1}")
            request.end_headers()
        elif path == "/shot.png":
            send_body(request, body, "image/png")
        elif path == "/huge.png":
            request.send_response(200)
            request.send_header("Content-Length", str(30 * 2**20))
            request.end_headers()
        else:
            request.send_error(404)

    with website(respond) as address:
        yield f"http://{address}"


async def test_a_url_loads_with_progress_keyed_by_its_content_and_named_by_its_source(web: str, sample: Path) -> None:
    seen: list[tuple[int, int | None, float]] = []
    loaded = await load(web.replace("http://127.0.0.1", "HTTP://user:pw@127.0.0.1") + "/shot.png?sig=1#top",
                        progress=lambda done, total, elapsed: seen.append((done, total, elapsed)))
    assert loaded.key == file_image_key(sample)
    assert loaded.name == web + "/shot.png"  # no credentials, query string or fragment
    assert (loaded.width, loaded.height) == SAMPLE_SIZE
    assert seen and seen[-1][0] == seen[-1][1]
    assert all(elapsed >= 0 for _, _, elapsed in seen)


async def test_up_to_five_redirects_are_followed(web: str) -> None:
    assert (await load(web + "/hop/4")).width == SAMPLE_SIZE[0]  # five redirects
    with pytest.raises(LoadError, match="more than 5 redirects"):
        await load(web + "/hop/5")


@pytest.mark.parametrize("path, message", [("/missing.png", "answered 404"), ("/huge.png", "larger than 25 MB")])
async def test_http_failures_are_clear(web: str, path: str, message: str) -> None:
    with pytest.raises(LoadError, match=message):
        await load(web + path)


async def test_a_silent_server_keeps_the_progress_bar_counting_seconds() -> None:
    """A server that accepts the connection and never answers: progress still ticks, with the time waited."""
    seen: list[tuple[int, int | None, float]] = []
    with socket.create_server(("127.0.0.1", 0)) as silent:  # the kernel accepts; nobody ever answers
        port = silent.getsockname()[1]
        loading = asyncio.create_task(load(f"http://127.0.0.1:{port}/shot.png",
                                           progress=lambda *report: seen.append(report)))
        try:
            await wait_for(lambda: len(seen) >= 2, 5, "two progress reports while waiting")
        finally:
            loading.cancel()
    assert [(done, total) for done, total, _ in seen[:2]] == [(0, None), (0, None)]
    assert 0 < seen[0][2] < seen[1][2]


# Decoding: each kind of file as a browser shows it


def encoded(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def png16(colour_type: int, rows: list[list[tuple[int, ...]]]) -> bytes:
    """A 16-bit PNG written by hand (Pillow can't write 16-bit RGB): colour type 0 grey, 2 RGB."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"".join(b"\0" + b"".join(struct.pack(f">{len(px)}H", *px) for px in row) for row in rows)
    header = struct.pack(">IIBBBBB", len(rows[0]), len(rows), 16, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def shown(data: bytes) -> LoadedImage:
    loaded = decode(data, "sha256:" + "0" * 64, "shot")
    assert loaded.image.mode == "RGB"
    return loaded


def close(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 1) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def test_the_full_resolution_is_kept() -> None:
    wide = Image.linear_gradient("L").resize((3000, 200)).convert("RGB")
    loaded = shown(encoded(wide))
    assert loaded.image.size == (loaded.width, loaded.height) == (3000, 200)
    assert loaded.image.tobytes() == wide.tobytes()


def test_exif_orientation_6_shows_upright() -> None:
    """Stored sideways (red left, blue right) with orientation 6: shown turned a quarter clockwise."""
    stored = Image.new("RGB", (40, 20), (255, 0, 0))
    stored.paste((0, 0, 255), (20, 0, 40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to view
    loaded = shown(encoded(stored, "JPEG", exif=exif, quality=95))
    assert (loaded.width, loaded.height) == loaded.image.size == (20, 40)
    assert close(loaded.image.getpixel((10, 5)), (255, 0, 0), 4)  # the stored left is now the top
    assert close(loaded.image.getpixel((10, 35)), (0, 0, 255), 4)


def test_16_bit_grey_keeps_its_tones() -> None:
    tones = [0, 0x1234, 0x8000, 0xC0DE, 0xFFFF]
    loaded = shown(png16(0, [[(tone,) for tone in tones]]))
    assert [loaded.image.getpixel((x, 0)) for x in range(len(tones))] == [(t >> 8,) * 3 for t in tones]


def test_16_bit_rgb_keeps_its_tones() -> None:
    pixels = [(0x1234, 0x8000, 0xFFFF), (0xFFFF, 0x0101, 0x7F00)]
    loaded = shown(png16(2, [pixels]))
    for x, pixel in enumerate(pixels):
        assert close(loaded.image.getpixel((x, 0)), tuple(c >> 8 for c in pixel))


def black_text_on_nothing(mode: str) -> tuple[Image.Image, dict[str, object]]:
    """A 32 x 24 image, transparent black but for an opaque black bar (text, say) across rows 10 to 13."""
    if mode == "P":  # a palette whose transparent entry is black, as many GIFs have
        image = Image.new("P", (32, 24), 0)
        image.putpalette([0, 0, 0, 0, 0, 0])
        ImageDraw.Draw(image).rectangle((0, 10, 31, 13), fill=1)
        return image, {"transparency": 0}
    rgba = Image.new("RGBA", (32, 24), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).rectangle((0, 10, 31, 13), fill=(0, 0, 0, 255))
    return rgba.convert(mode), {}


@pytest.mark.parametrize("mode, fmt", [("RGBA", "PNG"), ("LA", "PNG"), ("P", "PNG"), ("P", "GIF"), ("RGBA", "WEBP")])
def test_transparency_shows_over_a_light_checkerboard_never_black(mode: str, fmt: str) -> None:
    source, params = black_text_on_nothing(mode)
    if fmt == "WEBP":
        params["lossless"] = True
    loaded = shown(encoded(source, fmt, **params))
    light, dark = ((shade,) * 3 for shade in CHECKER_SHADES)
    assert loaded.image.getpixel((0, 0)) == light
    assert loaded.image.getpixel((CHECKER, 0)) == dark
    assert loaded.image.getpixel((CHECKER - 1, CHECKER)) == dark
    assert loaded.image.getpixel((CHECKER, CHECKER)) == light
    assert loaded.image.getpixel((3, 11)) == (0, 0, 0)  # the text stays black and readable


def test_an_opaque_alpha_channel_changes_nothing() -> None:
    opaque = Image.linear_gradient("L").convert("RGBA")
    assert shown(encoded(opaque)).image.tobytes() == opaque.convert("RGB").tobytes()


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_an_animation_shows_its_first_frame_and_says_it_is_animated(fmt: str) -> None:
    frames = [Image.new("RGB", (8, 8), colour) for colour in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    params = {"lossless": True} if fmt == "WEBP" else {}
    loaded = shown(encoded(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, **params))
    assert (loaded.animated, loaded.frames) == (True, 3)
    assert loaded.image.getpixel((4, 4)) == (255, 0, 0)
    still = shown(encoded(frames[1], fmt, **params))
    assert (still.animated, still.frames) == (False, 1)


# Files and URLs that can't be opened


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "folder.png").mkdir()
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "not-an-image.png").write_text("hello")
    Image.new("1", (9000, 9000)).save(tmp_path / "bomb.png")  # 81 Mpx
    with open(tmp_path / "huge.png", "wb") as huge:
        huge.truncate(26 * 2**20)
    return tmp_path


@pytest.mark.parametrize("name, message", [
    ("missing.png", "no such file"),
    ("folder.png", "is a directory"),
    ("pipe.png", "not a regular file"),
    ("not-an-image.png", "not an image"),
    ("bomb.png", "decompression bomb"),
    ("huge.png", "larger than 25 MB"),
])
async def test_files_that_cannot_be_opened_say_why(files: Path, name: str, message: str) -> None:
    with pytest.raises(LoadError, match=message):
        await load(str(files / name))


@pytest.mark.parametrize("target", ["ftp://example.com/shot.png", "sftp://host/shot.png", "data://x"])
async def test_other_url_schemes_are_not_supported(target: str) -> None:
    scheme = target.split(":", 1)[0]
    with pytest.raises(LoadError, match=f"the {scheme}:// scheme is not supported"):
        await load(target)


async def test_a_file_url_opens_the_file(sample: Path) -> None:
    loaded = await load(sample.as_uri())
    assert (loaded.key, loaded.name, loaded.width) == (file_image_key(sample), "shot.png", SAMPLE_SIZE[0])
    with pytest.raises(LoadError, match="is a directory"):
        await load(sample.parent.as_uri())

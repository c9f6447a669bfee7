"""The encoders' sequences, parsed and decoded back to pixels."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from imagechat_tui.tui.graphics import iterm2, kitty, sixel

from . import decoders
from .images import photo, screenshot


def difference(a: Image.Image, b: Image.Image) -> int:
    """The largest difference of a channel between two images of one size."""
    assert a.size == b.size
    return int(np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16)).max())


@pytest.mark.parametrize("size", [(200, 120), (61, 37), (7, 1)])
def test_sixel_keeps_every_colour_of_a_screenshot(size: tuple[int, int]) -> None:
    image = screenshot(*size)
    assert image.getcolors(256) is not None
    # Sixel colours are percentages: 255 levels become 101, so a channel may move by 1.3.
    assert difference(decoders.sixel(sixel.encode(image)), image) <= 2


def test_sixel_of_a_photo_is_its_quantized_self() -> None:
    image = photo(160, 96)
    assert image.getcolors(256) is None
    quantized = image.quantize(256, method=Image.Quantize.FASTOCTREE).convert("RGB")
    assert difference(decoders.sixel(sixel.encode(image)), quantized) <= 2


def test_sixel_of_one_colour_is_one_run_per_band_and_never_moves_below_the_image() -> None:
    data = sixel.encode(Image.new("RGB", (100, 12), (255, 0, 0)))
    assert data.endswith(b"#0!100~-#0!100~\x1b\\")


def test_kitty_transmits_and_places_in_chunks_and_replaces_by_id() -> None:
    image = photo(160, 96)
    data = kitty.encode(image, 16, 4, image_id=7)
    parsed = decoders.kitty(data)
    assert len(parsed.commands) > 1, "a photo needs several 4096-byte chunks"
    [sent] = parsed.images
    assert {k: sent.keys[k] for k in "aficrCq"} == {"a": "T", "f": "100", "i": "7", "c": "16", "r": "4",
                                                      "C": "1", "q": "2"}
    assert sent.image is not None and difference(sent.image, image) == 0
    assert all(c["q"] == "2" for c in parsed.commands), "replies would reach Textual as keys"
    assert decoders.kitty(kitty.delete(7)).commands == [{"a": "d", "d": "I", "i": "7", "q": "2"}]


def test_iterm2_sends_a_png_sized_in_cells() -> None:
    image = screenshot(200, 120)
    args, decoded = decoders.iterm2(iterm2.encode(image, 20, 6))
    assert (args["inline"], args["width"], args["height"], args["preserveAspectRatio"]) == ("1", "20", "6", "0")
    assert difference(decoded, image) == 0


def test_sixel_leaves_holes_untouched() -> None:
    image = Image.new("RGB", (30, 24), (0, 0, 255))
    drawn = np.asarray(decoders.sixel(sixel.encode(image, holes=[(10, 6, 20, 18)])))
    assert (drawn[6:18, 10:20] == 0).all(), "the decoder leaves unset pixels black"
    assert (drawn[:6] == (0, 0, 255)).all() and (drawn[:, :10] == (0, 0, 255)).all()


def test_sixel_covered_whole_draws_nothing() -> None:
    image = Image.new("RGB", (30, 24), (0, 0, 255))
    assert sixel.encode(image, holes=[(0, 0, 30, 24)]) == b""
    assert sixel.encode(image, holes=[(0, 0, 30, 12), (0, 12, 30, 24)]) == b""

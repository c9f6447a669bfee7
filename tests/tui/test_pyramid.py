"""The image pyramid: any view of the image, cut from cached halvings, in the right place at every zoom."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageDraw

from imagechat_tui.tui.pyramid import BACKGROUND, Pyramid

BLOCK = 32
"""Side of the flat squares of the test images, so that every pixel's colour says where it came from."""


def blocks(width: int, height: int, seed: int = 0) -> Image.Image:
    """Squares of BLOCK pixels, each its own colour."""
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for top in range(0, height, BLOCK):
        for left in range(0, width, BLOCK):
            colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            draw.rectangle((left, top, left + BLOCK - 1, top + BLOCK - 1), fill=colour)
    return image


def stripes(width: int, height: int) -> Image.Image:
    """One-pixel black and white columns: any average of them is mid grey."""
    image = Image.new("L", (width, height), 0)
    image.paste(255, (0, 0, width, height), Image.frombytes("L", (width, 1), bytes([0, 255] * (width // 2))).resize(
        (width, height), Image.Resampling.NEAREST))
    return image.convert("RGB")


def test_the_whole_image_at_its_own_size_is_the_image() -> None:
    image = blocks(100, 70)
    assert Pyramid(image).region((0, 0, 100, 70), (100, 70)).tobytes() == image.tobytes()


def test_a_box_past_the_edges_shows_the_background_there() -> None:
    image = Image.new("RGB", (10, 10), (200, 0, 0))
    view = Pyramid(image).region((-5, -5, 15, 15), (20, 20))
    assert view.size == (20, 20) and view.mode == "RGB"
    assert [view.getpixel(p) for p in [(0, 0), (4, 4), (15, 15), (19, 10)]] == [BACKGROUND] * 4
    assert [view.getpixel(p) for p in [(5, 5), (14, 14), (10, 10)]] == [(200, 0, 0)] * 3
    assert Pyramid(image).region((20, 20, 30, 30), (7, 3)).getcolors() == [(21, BACKGROUND)]


def test_enlarging_keeps_pixels_sharp() -> None:
    image = Image.new("RGB", (2, 2))
    image.putpixel((1, 0), (255, 255, 255))
    image.putpixel((0, 1), (255, 255, 255))
    view = Pyramid(image).region((0, 0, 2, 2), (8, 8))
    assert view.tobytes() == image.resize((8, 8), Image.Resampling.NEAREST).tobytes()
    assert len(view.getcolors()) == 2  # no blended edge


def test_at_one_to_one_a_box_between_pixels_copies_pixels_and_never_blends_them() -> None:
    image = blocks(64, 64)
    view = Pyramid(image).region((0.4, 0.4, 48.4, 48.4), (48, 48))
    assert view.tobytes() == image.crop((0, 0, 48, 48)).tobytes()


@pytest.mark.parametrize("factor", [2, 3, 8, 11])
def test_reducing_averages_what_each_pixel_covers(factor: int) -> None:
    image = stripes(352, 88)
    view = Pyramid(image).region((0, 0, 352, 88), (352 // factor, 88 // factor))
    low, high = view.convert("L").getextrema()
    assert 126 <= low <= high <= 129


def test_levels_halve_are_built_once_and_panning_builds_none() -> None:
    pyramid = Pyramid(blocks(1000, 800))
    pyramid.region((0, 0, 1000, 800), (100, 80))  # a tenth: level 3 (an eighth) is the smallest with enough pixels
    assert pyramid.scaled == 3
    for step in range(20):  # panning at a zoom: the same levels
        pyramid.region((step * 7.3, step * 3.1, step * 7.3 + 500, step * 3.1 + 400), (150, 120))
    assert pyramid.scaled == 3
    pyramid.region((0, 0, 1000, 800), (300, 240))  # zooming between built levels: nothing to build
    pyramid.region((100, 100, 200, 200), (400, 400))
    assert pyramid.scaled == 3
    pyramid.region((0, 0, 1000, 800), (50, 40))  # a twentieth: level 4
    assert pyramid.scaled == 4


def test_a_view_is_the_callers_to_draw_on() -> None:
    pyramid = Pyramid(Image.new("RGB", (40, 40), (0, 0, 200)))
    first = pyramid.region((0, 0, 40, 40), (20, 20))
    first.paste((255, 255, 0), (0, 0, 20, 20))
    assert pyramid.region((0, 0, 40, 40), (20, 20)).getpixel((5, 5)) == (0, 0, 200)


def test_an_empty_box_is_refused() -> None:
    with pytest.raises(ValueError, match="empty box"):
        Pyramid(Image.new("RGB", (4, 4))).region((2, 2, 2, 3), (4, 4))


@settings(max_examples=60, deadline=None)
@given(width=st.integers(40, 300), height=st.integers(40, 300),
       zoom=st.floats(1 / 24, 6), left=st.floats(-100, 300), top=st.floats(-100, 300),
       out_w=st.integers(1, 120), out_h=st.integers(1, 120))
def test_every_view_pixel_shows_the_image_point_under_its_centre(width: int, height: int, zoom: float, left: float,
                                                                  top: float, out_w: int, out_h: int) -> None:
    """Away from block edges (by more than what a pixel averages), a view pixel has its block's colour;
    well outside the image it is the background: so markers drawn by the same mapping land right."""
    image = blocks(width, height)
    box = (left, top, left + out_w / zoom, top + out_h / zoom)
    view = Pyramid(image).region(box, (out_w, out_h))
    assert view.size == (out_w, out_h) and view.mode == "RGB"
    reach = 1 + 2 / zoom  # a level pixel spans up to 2/zoom image pixels, its filter one more
    for u in range(0, out_w, 3):
        for v in range(0, out_h, 3):
            x, y = left + (u + 0.5) / zoom, top + (v + 0.5) / zoom
            if -reach <= x <= width + reach and -reach <= y <= height + reach:
                inside = reach <= x <= width - reach and reach <= y <= height - reach
                if inside and min(x % BLOCK, -x % BLOCK, y % BLOCK, -y % BLOCK) > reach:
                    assert view.getpixel((u, v)) == image.getpixel((int(x), int(y))), (u, v, x, y)
            else:
                assert view.getpixel((u, v)) == BACKGROUND, (u, v, x, y)


def wholly(low: float, high: float, extent: int) -> bool | None:
    """Whether [low, high] lies on [0, extent]; None when an end is too close to an edge to tell in floating point."""
    if min(abs(low), abs(low - extent), abs(high), abs(high - extent)) < 1e-6:
        return None
    return 0 < low and high < extent


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 1000), zoom=st.sampled_from([1, 1.5, 2, 3, 4, 7.25]), left=st.floats(-20, 60),
       top=st.floats(-20, 60), out_w=st.integers(1, 90), out_h=st.integers(1, 90))
def test_zoomed_in_every_view_pixel_is_the_image_pixel_under_its_centre(seed: int, zoom: float, left: float,
                                                                         top: float, out_w: int, out_h: int) -> None:
    """Exact, pixel for pixel, on noise: a view pixel wholly on the image copies the pixel under its centre;
    one the image edge cuts through, or off the image, is background."""
    image = Image.effect_noise((50, 40), 100).convert("RGB") if seed % 2 else blocks(50, 40, seed)
    view = Pyramid(image).region((left, top, left + out_w / zoom, top + out_h / zoom), (out_w, out_h))
    for u in range(out_w):
        for v in range(out_h):
            x, y = left + (u + 0.5) / zoom, top + (v + 0.5) / zoom
            on_x = wholly(left + u / zoom, left + (u + 1) / zoom, 50)
            on_y = wholly(top + v / zoom, top + (v + 1) / zoom, 40)
            if on_x is None or on_y is None or min(abs(x - round(x)), abs(y - round(y))) < 1e-6:
                continue
            expected = image.getpixel((int(x), int(y))) if on_x and on_y else BACKGROUND
            assert view.getpixel((u, v)) == expected, (u, v, x, y)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 1000), zoom=st.sampled_from([0.07, 0.3, 0.5, 0.71, 1, 1.5, 4]),
       moves=st.lists(st.tuples(st.integers(-40, 40), st.integers(-40, 40), st.booleans()), min_size=1, max_size=6))
def test_a_pan_shows_what_a_fresh_cut_shows(seed: int, zoom: float, moves: list[tuple[int, int, bool]]) -> None:
    """Pans by whole view pixels reuse the last view and cut only the strips that come into view:
    the result is the same as cutting the whole view afresh (moves by a fraction of a pixel cut afresh)."""
    image = Image.effect_noise((300, 200), 100).convert("RGB") if seed % 2 else blocks(300, 200, seed)
    panned, size = Pyramid(image), (60, 40)
    left, top = -10.123, 20.377  # no view pixel centre exactly between two image pixels: ties may go either way
    for dx, dy, fraction in moves:
        left, top = left + (dx + 0.37 * fraction) / zoom, top + dy / zoom
        box = (left, top, left + size[0] / zoom, top + size[1] / zoom)
        fresh = Pyramid(image).region(box, size)
        difference = ImageChops.difference(panned.region(box, size), fresh).getextrema()
        assert max(high for _, high in difference) <= 1, (dx, dy, fraction)

"""The image pane's rules without a widget: zoom, pan, cell mapping, badge placement and colours."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from imagechat_tui.tui import viewport
from imagechat_tui.tui.badges import PALETTE, UNDER_CURSOR, Badge, Look, colours, contrast, cycle, place
from imagechat_tui.tui.render import Cursor, halfblock_overlays
from imagechat_tui.tui.viewport import View

IMAGE = (1920, 1080)
PANE = (106, 46)
HALF = (1, 2)


FIT = View()


def geometry(view: View = FIT, image=IMAGE, pane=PANE, cell=HALF) -> viewport.Geometry:
    g = viewport.layout(view, image, pane, cell)
    assert g is not None
    return g


def test_fit_shows_the_whole_image_with_its_aspect() -> None:
    g = geometry()
    assert g.box == (0, 0, 1920, 1080) and g.is_fit
    assert g.cols / (g.rows * 2) == pytest.approx(1920 / 1080, rel=0.05)
    assert viewport.describe(g, 0) == "fit"


def test_actual_pixels_shows_one_image_pixel_per_screen_pixel() -> None:
    g = geometry(viewport.zoom_to(View(), geometry(), 1.0, (50, 50)))
    left, top, right, bottom = g.box
    assert (right - left, bottom - top) == (106, 92)  # 106 cells wide, 46 cells of two pixels tall
    assert viewport.describe(g, 3) == "zoom 1.0x · 47-53% x · 46-54% y · 3 outside"
    assert viewport.describe(g, 3, compact=True) == "1.0x 47-53%x 46-54%y +3"


def test_zoom_keeps_the_anchor_in_place_and_stops_at_actual_pixels_and_the_limits() -> None:
    g = geometry()
    anchor = (20.0, 30.0)
    before = g.cell_of(*anchor)
    view = View()
    scales = []
    for _ in range(30):
        view = viewport.settled(viewport.zoom(view, g, 1, anchor), geometry(viewport.zoom(view, g, 1, anchor)))
        g = geometry(view)
        scales.append(g.scale)
    assert 1.0 in scales and max(scales) == viewport.MAX_SCALE >= 4
    assert g.contains(*anchor)
    for _ in range(30):
        view = viewport.zoom(view, g, -1, anchor)
        g = geometry(view)
    assert g.is_fit and g.cell_of(*anchor) == before


@given(x=st.floats(0, 100), y=st.floats(0, 100), scale=st.sampled_from([None, 0.2, 1.0, 2.0, 4.0, 8.0]))
def test_a_point_maps_to_a_cell_whose_centre_maps_back_to_the_same_cell(x: float, y: float, scale) -> None:
    g = geometry(viewport.centred(scale, x, y))
    cell = g.cell_of(x, y)
    assert cell is not None  # centred on it, so in view
    assert g.cell_of(*g.point_of(*cell)) == cell


def test_pan_moves_a_quarter_of_the_view_and_stops_at_the_edges() -> None:
    view = viewport.zoom_to(View(), geometry(), 1.0, (50, 50))
    g = geometry(view)
    moved = geometry(viewport.pan(view, g, 1, 0))
    assert moved.box[0] - g.box[0] == pytest.approx((g.box[2] - g.box[0]) / 4)
    for _ in range(100):
        view = viewport.settled(viewport.pan(view, g, -1, -1), g := geometry(viewport.pan(view, g, -1, -1)))
    assert g.box[:2] == (0, 0)
    view = viewport.pan(view, g, 1, 0)  # from the edge, one step away moves at once
    assert geometry(view).box[0] > 0


def test_reveal_moves_just_enough_or_centres() -> None:
    view = viewport.zoom_to(View(), geometry(), 2.0, (50, 50))
    g = geometry(view)
    assert viewport.reveal(view, g, 50, 50) == view
    centred = geometry(viewport.reveal(view, g, 90, 10, centre=True))
    assert centred.contains(90, 10)
    nudged = geometry(viewport.reveal(view, g, 60, 50))
    assert nudged.contains(60, 50) and nudged.box[0] > g.box[0]


def badge(n: int, x: float, y: float, resolved: bool = False) -> Badge:
    return Badge(f"m{n}", n, x, y, resolved)


def test_badges_out_of_view_are_counted_not_drawn() -> None:
    g = geometry(viewport.centred(4.0, 10, 10))
    placement = place([badge(1, 10, 10), badge(2, 90, 90), badge(3, 50, 95)], g, None)
    assert [p.text for p in placement.badges] == ["1"]
    assert placement.outside == 2


def test_close_markers_cluster_and_a_click_cycles_through_them() -> None:
    g = geometry(pane=(80, 22))  # at 80x24 neighbours used to read as one long number
    markers = [badge(3, 50, 50), badge(15, 50.2, 50), badge(11, 51, 50), badge(17, 51.5, 50.1), badge(19, 52, 50)]
    placement = place(markers, g, None)
    assert [p.text for p in placement.badges] == ["3+4"]
    cluster = placement.badges[0]
    assert cycle(cluster, None) == "m3" and cycle(cluster, "m3") == "m11" and cycle(cluster, "m19") == "m3"
    selected = place(markers, g, "m17").badges[0]
    assert selected.text == "17+4" and selected.look is Look.SELECTED


def test_neighbouring_badges_never_touch() -> None:
    g = geometry(pane=(80, 22))
    for gap in range(12):
        placement = place([badge(31, 50, 50), badge(5, 50 + gap * 100 / g.cols, 50)], g, None)
        spans = sorted((p.col, p.col + p.width) for p in placement.badges)
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start > end  # at least one cell between two badges


def test_badge_hit_testing_reads_the_placement_that_is_drawn() -> None:
    g = geometry()
    placement = place([badge(7, 25, 25)], g, None)
    drawn = placement.badges[0]
    assert placement.at(drawn.col, drawn.row) is drawn
    assert placement.at(drawn.col + drawn.width, drawn.row) is None


BACKGROUNDS = {"white": (255, 255, 255), "black": (0, 0, 0), "yellow": (255, 255, 0), "mid grey": (128, 128, 128),
               "red": (255, 0, 0), "blue": (0, 0, 255)}


@pytest.mark.parametrize("look", list(Look))
@pytest.mark.parametrize("background", list(BACKGROUNDS))
def test_badges_stand_out_on_every_background(look: Look, background: str) -> None:
    chosen = colours(look, BACKGROUNDS[background])
    assert contrast(chosen.fill, BACKGROUNDS[background]) >= 4.5
    assert contrast(chosen.text, chosen.fill) >= 4.5


def test_every_badge_colour_keeps_its_text_readable() -> None:
    for light, dark in PALETTE.values():
        assert contrast(light.text, light.fill) >= 4.5 and contrast(dark.text, dark.fill) >= 4.5
    assert contrast(UNDER_CURSOR.text, UNDER_CURSOR.fill) >= 4.5


def test_the_cursor_never_hides_a_badge() -> None:
    g = geometry()
    placement = place([badge(19, 50, 50)], g, None)
    cell = g.cell_of(50, 50)
    picture = Image.new("RGB", (g.cols, g.rows * 2), "white")
    layers = halfblock_overlays(picture, placement, Cursor(cell, True))
    ((_, text, style),) = layers[cell[1]]
    assert text == "19" and style.bgcolor.triplet == UNDER_CURSOR.fill
    elsewhere = halfblock_overlays(picture, placement, Cursor((0, 0), True))
    assert [t for _, t, _ in elsewhere[0]] == ["✚"]


def test_half_block_cells_carry_the_top_and_bottom_pixels() -> None:
    from rich.color import Color

    from imagechat_tui.tui.render import halfblock_rows

    picture = Image.new("RGB", (3, 2), (10, 20, 30))
    picture.putpixel((1, 1), (255, 0, 128))
    (row,) = halfblock_rows(picture)
    assert [s.text for s in row] == ["▀"] * 3
    assert row[1].style.color == Color.from_rgb(10, 20, 30) and row[1].style.bgcolor == Color.from_rgb(255, 0, 128)
    assert row[0].style.bgcolor == Color.from_rgb(10, 20, 30)


def test_a_small_image_fits_enlarged_and_still_shows_at_actual_pixels() -> None:
    g = geometry(image=(60, 40))  # enlarged to fit 106 x 92 screen pixels
    assert g.scale > 1 and g.is_fit
    actual = geometry(viewport.zoom_to(View(), g, 1.0, (50, 50)), image=(60, 40))
    assert actual.scale == 1.0 and (actual.cols, actual.rows) == (60, 20)
    assert viewport.zoom(View(1.0), actual, -1, (50, 50)).scale == 1.0  # no smaller than actual pixels
    assert geometry(viewport.zoom(View(), g, -1, (50, 50)), image=(60, 40)).scale == 1.0


def test_points_on_the_edges_stay_in_view_despite_floating_point_drift() -> None:
    for x, y in [(0, 0), (100, 100), (0, 100), (100, 0)]:
        view = viewport.centred(1.0, x, y)
        g = geometry(viewport.settled(view, geometry(view, image=(3999, 3000))), image=(3999, 3000))
        assert g.cell_of(x, y) is not None, (x, y)
    drifted = viewport.Geometry(10, 10, 0, 0, (4.4e-16, 4.4e-16, 10.0, 10.0), 1.0, 0.5, (100, 100))
    assert drifted.cell_of(0, 0) == (0, 0)


def test_zooming_in_never_zooms_out_even_when_fit_is_past_the_closest_zoom() -> None:
    g = geometry(image=(2, 2))  # fit is 46x
    assert g.scale > viewport.MAX_SCALE
    assert viewport.zoom(View(), g, 1, (50, 50)) == View()
    assert geometry(viewport.zoom(View(), g, -1, (50, 50)), image=(2, 2)).scale == viewport.MAX_SCALE


def test_a_close_view_of_a_large_image_gives_tenths_of_a_percent() -> None:
    g = geometry(viewport.centred(8.0, 54.2, 53.3), image=(20000, 10000))
    assert viewport.describe(g, 0).startswith("zoom 8.0x · 54.17-54.23% x")


def test_zooming_from_a_letterboxed_fit_keeps_the_point_under_the_pointer() -> None:
    g = geometry()  # 16:9 in a taller pane: letterboxed above and below
    assert g.top > 0
    spot = g.point_of(g.cols // 4, g.rows // 4)
    screen = (g.left + g.cols // 4, g.top + g.rows // 4)
    zoomed = geometry(viewport.zoom(View(), g, 3, spot))  # far enough to fill the pane
    assert zoomed.top == 0 and zoomed.left == 0
    cell = zoomed.cell_of(*spot)
    assert cell is not None
    assert abs(zoomed.left + cell[0] - screen[0]) <= 1 and abs(zoomed.top + cell[1] - screen[1]) <= 1


def test_an_unread_badge_has_a_dot_and_its_own_look_and_a_cluster_shows_it() -> None:
    g = geometry(pane=(80, 22))
    alone = place([Badge("m4", 4, 10, 10, False, unread=True)], g, None).badges[0]
    assert alone.text == "•4" and alone.look is Look.UNREAD
    cluster = place([badge(3, 50, 50), Badge("m5", 5, 50.5, 50, True, unread=True)], g, None).badges[0]
    assert cluster.text == "•3+1" and cluster.look is Look.UNREAD
    assert place([Badge("m4", 4, 10, 10, False, unread=True)], g, "m4").badges[0].look is Look.SELECTED

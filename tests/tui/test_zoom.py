"""Zoom and pan in the viewer (Pilot): keys, the mouse, placing and clicking at every zoom level."""

from __future__ import annotations

import httpx
import pytest
from textual import events

from imagechat_tui.tui.app import ImageChatApp
from imagechat_tui.tui.graphics.detect import Terminal
from imagechat_tui.tui.widgets.conversation import MarkerList
from imagechat_tui.tui.widgets.image_view import ImageView
from imagechat_tui.tui.widgets.status import StatusBar

from ..conftest import Harness, bid, wait_for
from .test_flows import SIZE, place, ready


def image_view(app: ImageChatApp) -> ImageView:
    return app.query_one(ImageView)


def status(app: ImageChatApp) -> str:
    return str(app.query_one(StatusBar).render())


async def markers_at(server: Harness, token: str, key: str, *spots: tuple[float, float]) -> None:
    async with httpx.AsyncClient(base_url=server.url + "/api/v1", headers={"Authorization": f"Bearer {token}"}) as h:
        for n, (x, y) in enumerate(spots, 1):
            response = await h.post("/chats", json={"image": key, "x": x, "y": y, "text": f"spot {n}",
                                                    "broadcastId": bid()})
            assert response.status_code == 201


async def test_zoom_keys_and_the_status_line(server: Harness, make_app, sample) -> None:
    app = make_app(server, await server.token("u_ana", "Ana"), sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        view = image_view(app)
        fit = view.geometry
        assert fit.is_fit and "fit" in status(app)
        await pilot.press("plus", "plus")
        assert view.geometry.scale == pytest.approx(fit.scale * 2)
        assert "zoom" in status(app) and "% x" in status(app)
        await pilot.press("1")
        assert view.geometry.scale == 1.0
        await pilot.press("plus", "plus")
        assert view.geometry.scale == 3.0  # whole numbers above actual pixels
        await pilot.press("minus", "minus", "minus")
        assert view.geometry.scale == pytest.approx(2 ** -0.5)
        await pilot.press("0")
        assert view.geometry.is_fit
        for _ in range(12):
            await pilot.press("plus")
        assert view.geometry.scale >= 4


async def test_pan_keys_move_the_view_and_the_cursor_pans_past_the_edge(server: Harness, make_app, sample) -> None:
    app = make_app(server, await server.token("u_ana", "Ana"), sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        view = image_view(app)
        await pilot.press("1")
        start = view.geometry.box
        await pilot.press("shift+right", "L")
        assert view.geometry.box[0] > start[0]
        await pilot.press("H", "H")
        assert view.geometry.box[0] == pytest.approx(start[0])
        await pilot.press("J")
        assert view.geometry.box[1] > start[1]
        g = view.geometry
        for _ in range(g.cols):  # walk the cursor off the right edge: the view follows
            await pilot.press("right")
        assert view.geometry.box[0] > g.box[0] and view.geometry.contains(*view.cursor)


@pytest.mark.parametrize("zoom_keys", [(), ("1",), ("1", "plus", "plus"), ("1",) + ("plus",) * 4])
async def test_a_marker_lands_where_it_is_clicked_at_every_zoom(server: Harness, make_app, sample,
                                                               zoom_keys) -> None:
    app = make_app(server, await server.token("u_ana", "Ana"), sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        view = image_view(app)
        await pilot.press(*zoom_keys)
        g = view.geometry
        col, row = g.cols // 3, g.rows // 3
        await pilot.click(ImageView, offset=(g.left + col, g.top + row))
        expected = g.point_of(col, row)
        assert view.cursor == pytest.approx(expected)
        await place(pilot, "here")
        assert (app.marker.x, app.marker.y) == pytest.approx(expected, abs=0.01)
        placed = view.placement.at(col, row)
        assert placed is not None and placed.markers[0].marker_id == app.marker.id
        await pilot.press("escape", "0")
        fit = view.geometry
        cell = fit.cell_of(app.markers[0].x, app.markers[0].y)
        assert view.placement.at(*cell) is not None  # the same spot at fit
        await pilot.click(ImageView, offset=(fit.left + cell[0], fit.top + cell[1]))
        assert app.marker is not None and app.marker.comments[0].text == "here"


async def test_stepping_and_zoom_to_marker_bring_the_marker_into_view(server: Harness, make_app, sample,
                                                                       sample_key) -> None:
    token = await server.token("u_ana", "Ana")
    await markers_at(server, token, sample_key, (5, 5), (95, 95))
    app = make_app(server, token, sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await wait_for(lambda: len(app.markers) == 2, 3, "the markers")
        view = image_view(app)
        await pilot.press("1", "plus", "plus")
        assert not any(view.geometry.contains(m.x, m.y) for m in app.markers)
        assert "2 outside" in status(app) or "+2" in status(app)
        for _ in range(3):
            await pilot.press("n")
            assert view.geometry.contains(app.marker.x, app.marker.y)
        await pilot.press("p")
        assert view.geometry.contains(app.marker.x, app.marker.y)
        await pilot.press("0", "z")
        g = view.geometry
        assert g.scale >= 1 and g.contains(app.marker.x, app.marker.y)
        assert view.cursor == pytest.approx((app.marker.x, app.marker.y))


async def test_the_wheel_zooms_around_the_pointer_and_dragging_pans(server: Harness, make_app, sample) -> None:
    app = make_app(server, await server.token("u_ana", "Ana"), sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        view = image_view(app)
        g = view.geometry
        col, row = g.cols // 4, g.rows // 4
        spot = g.point_of(col, row)
        for _ in range(4):
            view.post_message(events.MouseScrollUp(view, g.left + col, g.top + row, 0, -1, 0, False, False, False))
            await pilot.pause()
        zoomed = view.geometry
        assert zoomed.scale > g.scale * 3 and zoomed.cell_of(*spot) is not None
        before = zoomed.box
        await pilot.mouse_down(ImageView, offset=(20, 10))
        view.post_message(events.MouseMove(view, 10, 5, -10, -5, 1, False, False, False))
        await pilot.pause()
        await pilot.mouse_up(ImageView, offset=(10, 5))
        await pilot.pause()
        assert view.geometry.box[0] > before[0] and view.geometry.box[1] > before[1]  # the image followed the pointer
        assert app.marker is None and view.cursor != pytest.approx(g.point_of(10, 5))  # a drag is not a click


async def test_close_markers_show_as_one_badge_and_a_click_cycles_through_them(server: Harness, make_app, sample,
                                                                              sample_key) -> None:
    token = await server.token("u_ana", "Ana")
    await markers_at(server, token, sample_key, (40, 40), (40.3, 40), (40.6, 40.1))
    app = make_app(server, token, sample)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        await wait_for(lambda: len(app.markers) == 3, 3, "the markers")
        await pilot.pause()
        view = image_view(app)
        placement = view.placement
        assert [p.text for p in placement.badges] == ["1+2"]
        cluster = placement.badges[0]
        g = view.geometry
        seen = []
        for _ in range(3):
            await pilot.click(ImageView, offset=(g.left + cluster.col, g.top + cluster.row))
            seen.append(app.label(app.marker.id))
        assert seen == ["1", "2", "3"]
        await pilot.press("1", "plus", "z")
        assert len(view.placement.badges) == 3  # apart when zoomed in


async def test_the_status_line_fits_80_columns_with_the_essentials(server: Harness, make_app, sample,
                                                                   tmp_path) -> None:
    long_name = tmp_path / ("a-very-long-screenshot-file-name-from-a-ticket-attachment-" + "x" * 40 + ".png")
    long_name.write_bytes(sample.read_bytes())
    app = make_app(server, await server.token("u_ana", "Ana Maria Longname-Example"), long_name)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        await pilot.press("1", "plus")
        await pilot.pause()
        line = status(app)
        assert len(line) <= 78  # inside the bar's padding
        assert "online" in line and "0 open / 0" in line and "Ana Maria" in line
        assert "a-very-lon" in line and "…" in line and "%x" in line  # the name cut short, the view in short form


async def test_pixel_mode_sends_image_bytes_only_when_the_view_changes(server: Harness, make_app, sample,
                                                                       sample_key) -> None:
    token = await server.token("u_ana", "Ana")
    app = make_app(server, token, sample, terminal=Terminal("sixel", (10, 20), None, "sixel: in a test"))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        pane = app.pixel_pane
        await wait_for(lambda: pane.bytes_written > 0, 5, "the first picture")
        await pilot.press("1", "plus")
        await pilot.pause()
        view = image_view(app)
        assert not view.geometry.contains(5, 5)
        sent = pane.bytes_written
        await markers_at(server, token, sample_key, (5, 5))  # out of view: its list entry changes, not the picture
        await wait_for(lambda: len(app.markers) == 1, 3, "the remote marker")
        await pilot.pause()
        app.notify("a status notice")
        await pilot.pause()
        assert pane.bytes_written == sent
        x, y = view.cursor
        await markers_at(server, token, sample_key, (x, y))  # in view: its badge is drawn into the pixels
        await wait_for(lambda: len(app.markers) == 2, 3, "the second marker")
        await wait_for(lambda: pane.bytes_written > sent, 3, "the picture with the new badge")


async def test_an_image_without_markers_says_how_to_place_one(server: Harness, make_app, sample) -> None:
    app = make_app(server, await server.token("u_ana", "Ana"), sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        markers = app.query_one(MarkerList)
        assert markers.option_count == 1 and "press a to place one" in str(markers.get_option_at_index(0).prompt)


@pytest.mark.parametrize("keys", [("question_mark",), ("ctrl+p",), ("a",)])
async def test_a_dialog_over_the_pixels_leaves_them_alone(server: Harness, make_app, sample, keys) -> None:
    """At 80x24 help covers the whole picture: Sixel used to crash on a picture with nothing left to draw."""
    app = make_app(server, await server.token("u_ana", "Ana"), sample,
                   terminal=Terminal("sixel", (10, 20), None, "sixel: in a test"))
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        await pilot.press(*keys)
        await pilot.pause()
        view = image_view(app)
        view.place()
        assert app.pixel_pane._wanted is None or app.pixel_pane._wanted.covered, "the dialog is over the picture"
        app.pixel_pane.pending()
        await pilot.press("escape")
        await pilot.pause()
        assert app.return_code is None


async def test_a_smaller_terminal_keeps_the_cursor_in_view(server: Harness, make_app, sample) -> None:
    app = make_app(server, await server.token("u_ana", "Ana"), sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("1", *["l"] * 40, *["j"] * 15)
        await pilot.resize_terminal(60, 16)
        await pilot.pause()
        view = image_view(app)
        assert view.geometry.contains(*view.cursor)

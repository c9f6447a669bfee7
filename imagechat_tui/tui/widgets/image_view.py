"""The image pane: the picture at any zoom, marker badges, a placement cursor.

The widget holds state and events; what the view shows is worked out in `viewport`, where badges go
in `badges`, and how it is drawn in `render`. Each is cached on what it depends on, so a remote
change to a marker redraws overlays without scaling the image, and a pan scales only the view.
"""

from __future__ import annotations

from PIL import Image
from textual import events
from textual.geometry import Region
from textual.message import Message
from textual.screen import ModalScreen
from textual.strip import Strip
from textual.widget import Widget

from .. import viewport
from ..badges import Badge, Placement, cycle, place
from ..graphics.pixels import PixelPane
from ..pyramid import Pyramid
from ..render import Cursor, Overlays, Row, apply_overlays, draw_pixels, halfblock_overlays, halfblock_rows
from ..viewport import Geometry, View

HALF_BLOCK_CELL = (1, 2)
"""Screen pixels a cell in half-block mode: one wide, two tall."""


class ImageView(Widget, can_focus=True):
    """Shows the image with numbered markers; keys move the cursor and the view, the mouse clicks,
    drags and zooms with the wheel."""

    DEFAULT_CSS = """
    ImageView { width: 1fr; height: 1fr; }
    """

    class MarkerClicked(Message):
        def __init__(self, marker_id: str) -> None:
            super().__init__()
            self.marker_id = marker_id

    class CursorPlaced(Message):
        """The cursor was moved to a spot on the image with the mouse."""

    class ViewChanged(Message):
        """The zoom or the part of the image shown changed."""

    def __init__(self, pane: PixelPane | None = None, *, id: str | None = None) -> None:
        """`pane` draws the picture with real pixels; without one it is drawn in half-blocks."""
        super().__init__(id=id)
        self.pane = pane
        self._pyramid: Pyramid | None = None
        self._badges: list[Badge] = []
        self._selected: str | None = None
        self.view = View()
        self.cursor = (50.0, 50.0)
        self.cell_pixels = pane.cell if pane is not None else HALF_BLOCK_CELL
        self._pixels: tuple[object, Image.Image] | None = None
        self._rows: tuple[object, list[Row]] | None = None
        self._picture: tuple[object, Image.Image] | None = None
        self._placement: tuple[Geometry, Placement] | None = None
        self._overlays: tuple[object, Overlays] | None = None
        self._drag: tuple[int, int] | None = None
        self._dragged = False
        self.scaled = 0
        """How many views were cut from the image (a test and bench hook: marker events cut none)."""

    # What is shown

    def prepare(self, pyramid: Pyramid) -> None:
        """Cut the fit view of a new image before it is shown (thread-safe while the pyramid is not
        shown yet: building its reduced levels is the slow part of a first frame)."""
        geometry = self._layout(View(), pyramid)
        if geometry is not None:
            pyramid.region(geometry.box, self._picture_size(geometry))

    def _layout(self, view: View, pyramid: Pyramid | None) -> Geometry | None:
        if pyramid is None:
            return None
        return viewport.layout(view, (pyramid.width, pyramid.height), self.size, self.cell_pixels)

    def _picture_size(self, geometry: Geometry) -> tuple[int, int]:
        """The picture's size in screen pixels: a cell is `cell_pixels` of them."""
        return geometry.cols * self.cell_pixels[0], geometry.rows * self.cell_pixels[1]

    def set_image(self, pyramid: Pyramid | None) -> None:
        """Show `pyramid`'s image at fit; None shows none (another is on its way)."""
        self._pyramid = pyramid
        self.view = View()
        self._rows = self._placement = self._overlays = self._picture = self._pixels = None
        self._changed()

    def set_badges(self, badges: list[Badge], selected: str | None) -> None:
        if badges == self._badges and selected == self._selected:
            return
        shown = self.placement.badges
        self._badges, self._selected, self._placement = badges, selected, None
        if self.placement.badges != shown:  # a change out of view redraws nothing (and sends no pixels)
            self.refresh()
        else:
            self.post_message(self.ViewChanged())  # the count of markers outside the view may differ

    @property
    def geometry(self) -> Geometry | None:
        return self._layout(self.view, self._pyramid)

    @property
    def placement(self) -> Placement:
        """Where the badges go in the current geometry (worked out again when it or the badges change)."""
        geometry = self.geometry
        if geometry is None:
            return Placement((), len(self._badges))
        if self._placement is None or self._placement[0] != geometry:
            self._placement = (geometry, place(self._badges, geometry, self._selected))
        return self._placement[1]

    def describe(self, compact: bool = False) -> str:
        geometry = self.geometry
        return viewport.describe(geometry, self.placement.outside, compact) if geometry is not None else ""

    # The cursor

    def move_cursor(self, columns: int, rows: int) -> None:
        """Move the cursor by cells; past the edge of the view, the view follows it."""
        geometry = self.geometry
        if geometry is None:
            return
        col, row = geometry.cell_of(*self.cursor) or (geometry.cols // 2, geometry.rows // 2)
        target = geometry.point_of(col + columns, row + rows)
        self.view = viewport.reveal(self.view, geometry, *target)
        geometry = self.geometry
        assert geometry is not None
        self.cursor = geometry.point_of(*(geometry.cell_of(*target) or (col, row)))
        self._changed()

    def place_cursor(self, x: float, y: float) -> None:
        self.cursor = (min(100.0, max(0.0, x)), min(100.0, max(0.0, y)))
        self.refresh()

    # Zoom and pan

    def zoom(self, steps: int, anchor: tuple[float, float] | None = None) -> None:
        """Zoom in (steps > 0) or out around `anchor` (x, y percent; default the cursor)."""
        geometry = self.geometry
        if geometry is not None:
            self._set_view(viewport.zoom(self.view, geometry, steps, anchor or self.cursor))

    def zoom_fit(self) -> None:
        self._set_view(View())

    def zoom_actual(self) -> None:
        """One image pixel per screen pixel, around the cursor."""
        geometry = self.geometry
        if geometry is not None:
            self._set_view(viewport.zoom_to(self.view, geometry, 1.0, self.cursor))

    def zoom_on(self, x: float, y: float) -> None:
        """Centre (x, y) percent at actual pixels or closer."""
        geometry = self.geometry
        if geometry is not None:
            self.cursor = (x, y)
            self._set_view(viewport.centred(max(1.0, geometry.scale), x, y))

    def pan(self, dx: int, dy: int) -> None:
        geometry = self.geometry
        if geometry is not None:
            self._set_view(viewport.pan(self.view, geometry, dx, dy))

    def reveal(self, x: float, y: float) -> None:
        """Bring (x, y) percent into view, centred on it if it was out of view."""
        geometry = self.geometry
        if geometry is not None:
            self._set_view(viewport.reveal(self.view, geometry, x, y, centre=True))

    def _set_view(self, view: View) -> None:
        geometry = self._layout(view, self._pyramid)
        if geometry is None:
            return
        self.view = viewport.settled(view, geometry)
        self.cursor = viewport.nearest_in_view(geometry, *self.cursor)
        self._changed()

    def _changed(self) -> None:
        self.refresh()
        self.post_message(self.ViewChanged())

    def on_resize(self) -> None:
        geometry = self.geometry
        if geometry is not None:  # a smaller pane must not leave the cursor where nobody sees it
            self.cursor = viewport.nearest_in_view(geometry, *self.cursor)
        self._changed()

    # Rendering

    def _view_picture(self, geometry: Geometry) -> Image.Image:
        """The part of the image in view, at the pane's pixels, cut once per view."""
        assert self._pyramid is not None
        key = (geometry.box, self._picture_size(geometry))
        if self._picture is None or self._picture[0] != key:
            self._picture = (key, self._pyramid.region(*key))
            self.scaled += 1
        return self._picture[1]

    def _picture_rows(self, geometry: Geometry) -> list[Row]:
        picture = self._view_picture(geometry)
        if self._rows is None or self._rows[0] is not picture:
            self._rows = (picture, halfblock_rows(picture))
        return self._rows[1]

    def _cursor(self, geometry: Geometry) -> Cursor:
        return Cursor(geometry.cell_of(*self.cursor), self.has_focus)

    def _overlay_rows(self, geometry: Geometry) -> Overlays:
        picture = self._view_picture(geometry)
        placement, cursor = self.placement, self._cursor(geometry)
        key = (placement, cursor, id(picture))  # the picture by identity: comparing pixels would cost more
        if self._overlays is None or self._overlays[0] != key:
            self._overlays = (key, halfblock_overlays(picture, placement, cursor))
        return self._overlays[1]

    def render_line(self, y: int) -> Strip:
        geometry = self.geometry
        width = self.size.width
        if geometry is None or self.pane is not None or not 0 <= y - geometry.top < geometry.rows:
            return Strip.blank(width)
        row = y - geometry.top
        line = apply_overlays(self._picture_rows(geometry)[row], self._overlay_rows(geometry).get(row, ()))
        return Strip.join([Strip.blank(geometry.left), Strip(line, geometry.cols),
                           Strip.blank(width - geometry.left - geometry.cols)])

    # Pixel modes

    def place(self) -> None:
        """Tell the pixel pane what to show now (called before every frame's image write; cheap
        when nothing changed). A modal screen over this one, or a toast, covers part of it."""
        pane, geometry = self.pane, self.geometry
        if pane is None:
            return
        active = self.app.screen
        shown = active is self.screen or (isinstance(active, ModalScreen) and self.screen in self.app.screen_stack)
        if geometry is None or not self.display or not shown:
            pane.hide()
            return
        content = self.content_region
        region = Region(content.x + geometry.left, content.y + geometry.top, geometry.cols, geometry.rows)
        covered = [toast.region for toast in active.query("Toast")]
        if active is not self.screen:  # every widget of the dialog (a palette's own child has no region)
            covered += [widget.region for widget in active.query("*") if widget.region]
        pane.show(region, self._pixel_picture(geometry), covered)

    def _pixel_picture(self, geometry: Geometry) -> Image.Image:
        """The picture with badges and the cursor drawn in, made again only when one of them changed."""
        placement, cursor = self.placement, self._cursor(geometry)
        key = (geometry, placement, cursor)
        if self._pixels is None or self._pixels[0] != key:
            self._pixels = (key, draw_pixels(self._view_picture(geometry), placement, cursor, self.cell_pixels))
        return self._pixels[1]

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # Mouse

    def _picture_cell(self, x: int, y: int) -> tuple[Geometry, int, int] | None:
        geometry = self.geometry
        if geometry is None:
            return None
        col, row = x - geometry.left, y - geometry.top
        return (geometry, col, row) if 0 <= col < geometry.cols and 0 <= row < geometry.rows else None

    def on_click(self, event: events.Click) -> None:
        if self._dragged:
            return
        hit = self._picture_cell(event.x, event.y)
        if hit is None:
            return
        geometry, col, row = hit
        placed = self.placement.at(col, row)
        if placed is not None:
            self.post_message(self.MarkerClicked(cycle(placed, self._selected)))
        else:
            self.place_cursor(*geometry.point_of(col, row))
            self.post_message(self.CursorPlaced())

    def on_mouse_down(self, event: events.MouseDown) -> None:
        if event.button == 1:
            self._drag, self._dragged = (event.x, event.y), False
            self.capture_mouse()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._drag is None or not event.button:
            return
        columns, rows = event.x - self._drag[0], event.y - self._drag[1]
        geometry = self.geometry
        if (columns or rows) and geometry is not None:
            self._drag, self._dragged = (event.x, event.y), True
            self._set_view(viewport.drag(self.view, geometry, columns, rows))

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._drag is not None:
            self._drag = None
            self.release_mouse()

    def _wheel(self, event: events.MouseScrollDown | events.MouseScrollUp, steps: int) -> None:
        event.stop()
        hit = self._picture_cell(event.x, event.y)
        if hit is not None:
            geometry, col, row = hit
            self.zoom(steps, geometry.point_of(col, row))

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._wheel(event, 1)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._wheel(event, -1)

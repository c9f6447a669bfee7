"""The viewer's one screen: its layout, and the one place where state is put into its widgets.

The app decides (session, engine, keys, writes); the selection view model says what is selected;
this screen only shows. Every method takes what it shows as arguments, so it never reaches into the
engine itself.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import datetime

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import ProgressBar, Static

from ...client.engine import Link
from ..badges import Badge
from ..graphics.pixels import PixelPane
from ..pyramid import Pyramid
from ..selection import Selection
from ..widgets.conversation import MarkerList, ThreadView, WritingLine
from ..widgets.footer import SteadyFooter
from ..widgets.image_view import ImageView
from ..widgets.status import OfflineBanner, StatusBar


class MainScreen(Screen[None]):
    class Ready(Message):
        """The widgets are mounted: the app may start showing state."""

    class Resumed(Message):
        """The screen is shown again, from under another (the inbox, the notifications)."""

    def __init__(self, pixel_pane: PixelPane | None) -> None:
        super().__init__()
        self.pixel_pane = pixel_pane

    def compose(self) -> ComposeResult:
        yield OfflineBanner(id="banner")
        with Horizontal(id="main"):
            with Vertical(id="image-pane"):
                with Vertical(id="progress-pane"):
                    yield ProgressBar(id="progress", show_eta=False)
                    yield Static(id="progress-text")
                yield ImageView(self.pixel_pane, id="image")
            with Vertical(id="side"):
                yield WritingLine(id="writing")
                yield MarkerList(id="markers")
                yield ThreadView(id="thread")
        yield StatusBar(id="status")
        yield SteadyFooter()

    def on_mount(self) -> None:
        self.image_view.focus()
        self.post_message(self.Ready())

    def on_screen_resume(self) -> None:
        self.post_message(self.Resumed())

    @property
    def image_view(self) -> ImageView:
        return self.query_one(ImageView)

    def show_progress(self, done: int, total: int | None, elapsed: float) -> None:
        self.query_one(ProgressBar).update(total=total, progress=done)
        size = f"{done / 2**20:.1f} of {total / 2**20:.1f} MB" if total else f"{done / 2**20:.1f} MB"
        waiting = "" if done else " waiting for the server"
        self.query_one("#progress-text", Static).update(
            Content.assemble("Downloading · ", size, f" · {elapsed:.0f} s{waiting}"))

    def show_loading(self) -> None:
        """Another image is on its way: the progress again, and nothing of the old image."""
        self.query_one(ProgressBar).update(total=None, progress=0)
        self.query_one("#progress-pane").display = True
        self.image_view.set_image(None)
        self.image_view.set_badges([], None)
        self.query_one(MarkerList).clear_options()
        self.query_one(ThreadView).display = False
        self.query_one(MarkerList).display = True

    def show_image(self, pyramid: Pyramid) -> None:
        self.query_one("#progress-pane").display = False
        self.image_view.set_image(pyramid)

    def show_markers(self, selection: Selection, now: datetime, mine: Callable[[str], bool],
                     names: Mapping[str, str] | None = None, unread: Collection[str] = ()) -> None:
        """The badges, and the list of markers or the selected one's thread; `unread`, the ids of
        the markers the user has not read."""
        marker = selection.marker
        self.image_view.set_badges(
            [Badge(m.id, m.number, m.x, m.y, m.status == "resolved", m.id in unread) for m in selection.markers],
            selection.marker_id,
        )
        marker_list, thread = self.query_one(MarkerList), self.query_one(ThreadView)
        marker_list.display = marker is None
        thread.display = marker is not None
        if marker is None:
            marker_list.show(selection.markers, now, None, unread, names)
        else:
            thread.show(marker, now, selection.comment_id, mine, names)

    def show_link(self, link: Link, catching_up: bool, token_help: str) -> None:
        self.query_one(OfflineBanner).show(link, catching_up=catching_up, token_help=token_help)

    def show_status(self, link: Link, name: str, selection: Selection, user: str, loaded: bool,
                    others: tuple[str, ...] = (), unread: int = 0, unread_markers: Collection[str] = ()) -> None:
        """`unread`: the user's unread notifications; `unread_markers`: the ids of this image's unread markers."""
        markers = selection.markers
        open_count = sum(1 for m in markers if m.status == "open")
        new = sum(1 for m in markers if m.id in unread_markers)
        view = self.image_view
        self.query_one(StatusBar).show(link, name, open_count, len(markers), user,
                                       (view.describe(), view.describe(compact=True)), loaded, others, unread, new)

    def show_writing(self, writers: list[tuple[str, str]]) -> None:
        self.query_one(WritingLine).show(writers)

"""The inbox: the tenant's images with conversations, most recent activity first, live.

The view model (tui/inbox.py) holds the rows, the selection and the query; this screen loads pages
and thumbnails through the engine's REST client, applies the engine's inbox notices, and shows.
Opening an image is the app's: the screen only says which (`Open`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input, Static

from ...client.engine import (
    InboxFollowed,
    InboxRowChanged,
    InboxRowRemoved,
    Link,
    LinkState,
    SyncEngine,
    UnreadChanged,
)
from ...client.errors import ClientError
from ...client.images import is_url
from ...protocol.imagekey import is_content_key
from ...protocol.limits import INBOX_PAGE_DEFAULT, MAX_SEARCH_LENGTH
from ...protocol.models import ImageSummary, InboxFilter
from ...protocol.safe import visible
from ..inbox import Inbox, Query
from ..thumbnails import thumbnail_lines
from ..widgets.footer import SteadyFooter
from ..widgets.inbox_list import InboxList
from ..widgets.status import unread_text

FILTERS: dict[InboxFilter, str] = {"open": "open only", "all": "all", "mine": "mine", "unread": "unread"}
HOW_TO_START = ("Open a screenshot with imagechat-tui URL|FILE, or share one with imagechat-tui FILE --share; "
                "or press enter to try the sample.")
PAGE = INBOX_PAGE_DEFAULT
MERGE_AFTER = 1.0
"""Seconds between asking for the first page again for feed rows only the server can place."""


EMPTY_HINTS: dict[InboxFilter, str] = {
    "mine": "Nothing of yours: images where you placed a marker or commented show here. a shows all.",
    "unread": "Nothing unread: markers with comments by others you have not opened show here. a shows all.",
}


def open_target(row: ImageSummary) -> str | None:
    """What the viewer opens for a row: the image from the server's store, else its source URL (for a
    conversation of the previous version, its key: the whole URL, never shown, fetched as it was)."""
    if row.stored:
        return row.key
    if not is_content_key(row.key):
        return row.key
    if row.name and is_url(row.name):
        return row.name
    return None


class SearchBox(Input):
    """The search text: enter searches, escape leaves it as it was."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]

    class Cancelled(Message):
        pass

    def action_cancel(self) -> None:
        self.post_message(self.Cancelled())


class InboxScreen(Screen[None]):
    class Open(Message):
        """Open this row's image in the viewer: `target` is a `sha256:` key, a URL or the sample's
        file, None when there is nothing to open it from (unless it is the image open already)."""

        def __init__(self, key: str | None, target: str | None) -> None:
            super().__init__()
            self.key = key
            self.target = target

    def __init__(self, engine: SyncEngine, sample: Callable[[], str], clock: Callable[[], datetime]) -> None:
        super().__init__()
        self.engine = engine
        self.sample = sample
        self.clock = clock
        self.view = Inbox()
        self.pictures: dict[str, list[Content]] = {}
        self._asked_pictures: set[str] = set()
        self.problem = ""
        self._merge_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="inbox-head")
        yield InboxList(id="inbox-list")
        yield Static(id="inbox-hint")
        yield SearchBox(placeholder="Search comments (enter searches, esc cancels)", max_length=MAX_SEARCH_LENGTH,
                        id="inbox-search")
        yield SteadyFooter()

    def on_mount(self) -> None:
        self.query_one(SearchBox).display = False
        self.set_interval(30, self.show)  # relative times age
        if self.engine.link.state is LinkState.ONLINE:
            self.reload()  # otherwise the feed's subscription, once online, loads it

    def on_resize(self) -> None:
        self.show()

    # Loading

    @work(exclusive=True, group="inbox-first-page")
    async def reload(self) -> None:
        """The first page for the current query (after every (re)subscription of the feed too)."""
        self.view.begin_reload()
        query = self.view.query
        try:
            page = await self.engine.rest.images(query.filter, query.q, limit=PAGE)
        except ClientError as exc:
            self.view.reload_failed()
            self.problem = f"Can't load the inbox: {exc}"
            self.show()
            return
        if query == self.view.query:
            self.problem = ""
            self.view.load_first(page)
            self.show()

    @work(exclusive=True, group="inbox-merge")
    async def merge_first(self) -> None:
        """The first page again, for feed rows only the server can place under this query."""
        self._merge_timer = None
        self.view.undecided = False
        query = self.view.query
        try:
            page = await self.engine.rest.images(query.filter, query.q, limit=PAGE)
        except ClientError:
            return  # the next feed row, or the next reload, tries again
        if query == self.view.query and self.view.loaded:
            self.view.merge_first(page)
            self.show()

    @work(group="inbox-next-page")
    async def load_next(self, cursor: str) -> None:
        query = self.view.query
        try:
            page = await self.engine.rest.images(query.filter, query.q, cursor, PAGE)
        except ClientError as exc:
            self.notify(f"Can't load more of the inbox: {exc}", severity="warning")
            page = None
        self.view.load_next(cursor, page)
        self.show()

    @work(group="inbox-pictures")
    async def fetch_pictures(self, keys: list[str]) -> None:
        for key in keys:
            try:
                png = await self.engine.rest.thumbnail(key)
                self.pictures[key] = await asyncio.to_thread(thumbnail_lines, png)
            except (ClientError, OSError, ValueError):
                continue  # the placeholder stays
            self.show()

    @work(group="inbox-unread")
    async def fetch_unread(self, keys: list[str]) -> None:
        """The unread markers of rows the feed brought (its rows are the same for everyone)."""
        for key in keys:
            try:
                answer = await self.engine.rest.unread(key)
            except ClientError:
                continue  # no count on the row until the next reload
            self.view.unread(key, [position.marker_id for position in answer.markers])
            self.show()

    # The live feed, and the connection

    def on_engine(self, notice: InboxFollowed | InboxRowChanged | InboxRowRemoved) -> None:
        if isinstance(notice, InboxFollowed):
            self.view.me = self.engine.me.user.id if self.engine.me else None
            self.reload()
            return
        if isinstance(notice, InboxRowChanged):
            self.view.changed(notice.row)
        else:
            self.view.removed(notice.key)
        if self.view.undecided and self._merge_timer is None:  # at most once a second, however busy
            self._merge_timer = self.set_timer(MERGE_AFTER, self.merge_first)
        wanted = self.view.wanted_unread()
        if wanted:
            self.fetch_unread(wanted)
        self.show()

    def on_unread(self, notice: UnreadChanged, known: frozenset[str] | None) -> None:
        """The user's unread markers of an image changed: `known`, all of them (the image is open),
        else those read."""
        if known is not None:
            self.view.unread(notice.image, known)
        elif notice.read:
            self.view.read(notice.image, [position.marker_id for position in notice.read])
        self.show()

    def show_link(self, link: Link) -> None:
        if self.is_mounted:
            self._show_head(link)

    # Showing

    def show(self) -> None:
        if not self.is_mounted:
            return
        view = self.view
        # The sample is offered where an empty list means an empty server, not an empty filter.
        with_sample = (view.loaded and not view.rows and not view.query.q and view.query.filter in ("open", "all")
                       and not self.problem)
        self.query_one(InboxList).set_names(self.engine.directory)
        self.query_one(InboxList).show(view.rows, self.pictures, view.key, self.clock(), with_sample)
        self._show_head(self.engine.link)
        self.query_one("#inbox-hint", Static).update(self._hint(with_sample))
        missing = [row.key for row in view.rows if row.stored and row.key not in self._asked_pictures]
        if missing:
            self._asked_pictures.update(missing)
            self.fetch_pictures(missing)

    def _show_head(self, link: Link) -> None:
        query = self.view.query
        parts: list[Content | str | tuple[str, str]] = [("Inbox", "bold"), "  "]
        for name, label in FILTERS.items():
            parts += [(f" {label} ", "reverse $accent" if name == query.filter else "$text-muted"), " "]
        if query.q:
            parts += ["  search: ", (visible(query.q), "bold")]
        if link.state is not LinkState.ONLINE:
            parts += ["  ", (f"({link.state.value}: the list may be out of date)", "$warning")]
        unread = self.engine.notifications.unread
        if unread:  # as the image screen's status bar says it: from anywhere in the viewer
            parts += ["  ", (unread_text(unread), "bold $warning")]
        self.query_one("#inbox-head", Static).update(Content.assemble(*parts))

    def _hint(self, with_sample: bool) -> Content:
        view = self.view
        if self.problem:
            return Content.styled(self.problem, "$error")
        if not view.loaded:
            return Content.styled("Loading…", "$text-muted")
        if with_sample:
            nothing = "Nothing is open." if view.query.filter == "open" else "No conversations here yet."
            return Content.styled(f"{nothing} {HOW_TO_START}", "$text-muted")
        if not view.rows:
            return Content.styled(EMPTY_HINTS.get(view.query.filter, "") if not view.query.q
                                  else "No comment matches the search: esc clears it.", "$text-muted")
        more = " · more below" if view.next_cursor else ""
        count = len(view.rows)
        return Content.styled(f"{count} image{'' if count == 1 else 's'}{more}", "$text-muted")

    # The user

    def on_inbox_list_moved(self, message: InboxList.Moved) -> None:
        self.view.select(message.key)
        cursor = self.view.wants_next_page()
        if cursor is not None:
            self.load_next(cursor)

    def on_inbox_list_opened(self, message: InboxList.Opened) -> None:
        self.view.select(message.key)
        self.open_selected()

    def open_selected(self) -> None:
        if self.view.loaded and not self.view.rows and self.query_one(InboxList).highlighted is not None:
            self.post_message(self.Open(None, self.sample()))  # the sample's row, the only one
            return
        row = self.view.selected
        if row is not None:
            self.post_message(self.Open(row.key, open_target(row)))

    def set_query(self, filter: InboxFilter | None = None, q: str | None = None) -> None:
        old = self.view.query
        if self.view.set_query(Query(filter or old.filter, old.q if q is None else q.strip())):
            self.show()
            self.reload()

    def start_search(self) -> None:
        box = self.query_one(SearchBox)
        box.value = self.view.query.q
        box.display = True
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._close_search()
        self.set_query(q=event.value)

    def on_search_box_cancelled(self) -> None:
        self._close_search()

    def _close_search(self) -> None:
        self.query_one(SearchBox).display = False
        self.query_one(InboxList).focus()


"""The inbox's view model: its rows, the selected one, the filter and search text, paging. No Textual.

Rows come from pages of `GET /images` and from the inbox feed. The feed is not sequenced and not
filtered: a row it sends is applied where the filter can tell (the `open` filter drops a row with
nothing open) and otherwise updates a row already listed; whether a new row matches `mine` or the
search text only the server knows, so such a row has the first page asked for again and merged in
(`undecided`, `merge_first`). A first page that was asked for before some feed rows arrived must
not undo them: feed rows seen while it loads are applied again over it.

Unread markers (docs/protocol.md, "Unread markers"): page rows list the user's unread ones; feed
rows, the same for the whole tenant, don't (`unread` None). A row keeps the ids it had, gains the
marker of a newer last comment by someone else, and loses the ids the user reads (on any of their
viewers). For a row it did not have, the screen asks the server (`wanted_unread`), and an image
with nothing unread leaves the `unread` filter as one with nothing open leaves `open`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from ..protocol.imagekey import is_content_key
from ..protocol.models import ImagesPage, ImageSummary, InboxFilter
from .threads import parse_time

NEAR_END = 5
"""The next page is asked for when the selection is this close to the last row."""


@dataclass(frozen=True, slots=True)
class Query:
    """What the listing asks the server for."""

    filter: InboxFilter = "open"
    q: str = ""


@dataclass(frozen=True, slots=True)
class _Unread:
    """The user's unread markers of an image: exactly these (`exact`), or these no longer."""

    key: str
    ids: frozenset[str]
    exact: bool


def _order(row: ImageSummary) -> tuple[str, str]:
    """The server's order, most recent activity first: by last activity, then key (both descending)."""
    return row.last_activity_at, row.key


def _newer(row: ImageSummary, other: ImageSummary | None) -> ImageSummary:
    """Of two states of a row, the later (a page asked before a feed row arrived may be older)."""
    return other if other is not None and _order(other) >= _order(row) else row


@dataclass
class Inbox:
    query: Query = field(default_factory=Query)
    me: str | None = None
    """The viewer's user id: a feed row whose last comment is theirs belongs under `mine`."""
    rows: list[ImageSummary] = field(default_factory=list)
    key: str | None = None
    """The selected row's image key: the selection follows the row wherever it moves."""
    next_cursor: str | None = None
    loaded: bool = False
    """Whether a first page has arrived for the current query."""
    _reloading: bool = False
    _seen_while_reloading: list[ImageSummary | str | _Unread] = field(default_factory=list)
    _paging: bool = False
    _wanted: set[str] = field(default_factory=set)
    """Images whose unread markers the screen should ask for (rows the feed brought)."""
    _waiting: dict[str, ImageSummary] = field(default_factory=dict)
    """Feed rows that belong under the `unread` filter if the answer says they have some."""
    undecided: bool = False
    """A feed row came that may match the query though the viewer can't tell (`mine`, a search): the
    screen asks for the first page again and merges it (`merge_first`), then clears this."""

    # Selection

    @property
    def index(self) -> int | None:
        for i, row in enumerate(self.rows):
            if row.key == self.key:
                return i
        return None

    @property
    def selected(self) -> ImageSummary | None:
        index = self.index
        return None if index is None else self.rows[index]

    def select_index(self, index: int) -> None:
        if self.rows:
            self.key = self.rows[max(0, min(index, len(self.rows) - 1))].key

    def select(self, key: str) -> None:
        if any(row.key == key for row in self.rows):
            self.key = key

    def _keep_selection(self, old_index: int | None) -> None:
        """After rows changed: the same row if it is still there, else the one now in its place."""
        if self.index is None:
            self.key = None
            self.select_index(old_index or 0)

    # Queries and pages

    def set_query(self, query: Query) -> bool:
        """A new filter or search text; True if it changed (the list must be reloaded)."""
        if query == self.query:
            return False
        self.query = query
        self._waiting.clear()
        self.loaded = False
        self.next_cursor = None
        return True

    def begin_reload(self) -> None:
        """The first page is being asked for: feed rows from now on are applied again over it."""
        self._reloading = True
        self._seen_while_reloading.clear()

    def load_first(self, page: ImagesPage) -> None:
        old = self.index
        self.rows = sorted(page.images, key=_order, reverse=True)
        self.next_cursor = page.next_cursor
        self.loaded = True
        self._reloading = False
        for change in self._seen_while_reloading:
            self._apply(change)
        self._seen_while_reloading.clear()
        self._keep_selection(old)

    def reload_failed(self) -> None:
        self._reloading = False
        self._seen_while_reloading.clear()

    def merge_first(self, page: ImagesPage) -> None:
        """The first page, asked again because the feed brought rows that only the server could
        place (under `mine` or a search): its rows join the list, or replace older states of rows
        listed; the rows further down, and the pages loaded, stay."""
        old = self.index
        fresh = {row.key: row for row in page.images}
        kept = [_newer(row, fresh.get(row.key)) for row in self.rows]
        listed = {row.key for row in kept}
        self.rows = sorted(kept + [row for row in page.images if row.key not in listed], key=_order, reverse=True)
        self._keep_selection(old)

    def wants_next_page(self) -> str | None:
        """The cursor to load next, when the selection nears the end and no page is on its way."""
        index = self.index or 0
        if self.next_cursor is None or self._paging or self._reloading or index < len(self.rows) - NEAR_END:
            return None
        self._paging = True
        return self.next_cursor

    def load_next(self, cursor: str, page: ImagesPage | None) -> None:
        """A next page arrived (None: it failed, and may be asked for again). Pages of an old query are dropped."""
        self._paging = False
        if page is None or cursor != self.next_cursor:
            return
        listed = {row.key for row in self.rows}
        self.rows += [row for row in page.images if row.key not in listed]
        self.rows.sort(key=_order, reverse=True)
        self.next_cursor = page.next_cursor
        if self.key is None:
            self.select_index(0)

    # The live feed

    def changed(self, row: ImageSummary) -> None:
        self._record(row)
        self._apply(row)

    def removed(self, key: str) -> None:
        self._record(key)
        self._apply(key)

    # Unread markers

    def unread(self, key: str, ids: Collection[str]) -> None:
        """The image's unread markers are exactly `ids` (the server's answer, or the open image's)."""
        self._record(_Unread(key, frozenset(ids), exact=True))
        self._apply(_Unread(key, frozenset(ids), exact=True))

    def read(self, key: str, ids: Collection[str]) -> None:
        """The user read these markers of the image, on one of their viewers."""
        self._record(_Unread(key, frozenset(ids), exact=False))
        self._apply(_Unread(key, frozenset(ids), exact=False))

    def wanted_unread(self) -> list[str]:
        """The images whose unread markers to ask the server for, each once."""
        wanted, self._wanted = sorted(self._wanted), set()
        return wanted

    def _merge_unread(self, row: ImageSummary, before: ImageSummary | None) -> ImageSummary:
        """A feed row (unread None) with the ids the row had, and the marker of a newer last comment
        by someone else; without ids to start from, the server is asked."""
        if row.unread is not None:
            return row
        if before is None or before.unread is None:
            if is_content_key(row.key):
                self._wanted.add(row.key)
            return row
        ids = list(before.unread)
        last, old = row.last_comment, before.last_comment
        if (last is not None and last.user.id != self.me and last.marker_id not in ids
                and (old is None or parse_time(last.created_at) > parse_time(old.created_at))):
            ids.append(last.marker_id)
        return row.model_copy(update={"unread": ids})

    def _apply_unread(self, change: _Unread) -> None:
        index = next((i for i, row in enumerate(self.rows) if row.key == change.key), None)
        if index is None:
            waiting = self._waiting.pop(change.key, None)
            if waiting is not None and change.exact and change.ids:
                self._apply(waiting.model_copy(update={"unread": sorted(change.ids)}))
            return
        row = self.rows[index]
        if change.exact:
            ids = sorted(change.ids)
        elif row.unread is not None:
            ids = [i for i in row.unread if i not in change.ids]
        else:
            return
        if ids != row.unread:
            self._apply(row.model_copy(update={"unread": ids}))

    def _record(self, change: ImageSummary | str | _Unread) -> None:
        if self._reloading:
            self._seen_while_reloading.append(change)

    def _apply(self, change: ImageSummary | str | _Unread) -> None:
        if isinstance(change, _Unread):
            self._apply_unread(change)
            return
        old = self.index
        key = change if isinstance(change, str) else change.key
        before = next((row for row in self.rows if row.key == key), None)
        last = self.rows[-1] if self.rows else None
        self.rows = [row for row in self.rows if row.key != key]
        if isinstance(change, ImageSummary):
            change = self._merge_unread(change, before)
            if self._matches(change, before is not None) and self._within_loaded(change, last):
                self.rows.append(change)
                self.rows.sort(key=_order, reverse=True)
            elif self.query.filter == "unread" and change.unread is None and before is None and not self.query.q:
                self._waiting[key] = change  # in if the server's answer lists some
            elif before is None and self._only_the_server_knows(change) and self._within_loaded(change, last):
                self.undecided = True
        self._keep_selection(old)

    def _matches(self, row: ImageSummary, listed: bool) -> bool:
        """Whether a feed row matches the query, as far as the viewer can tell (a listed row did)."""
        if self.query.filter == "open" and row.open_count == 0:
            return False
        if self.query.filter == "unread" and row.unread is not None:
            return bool(row.unread)
        if listed:
            return True
        if self.query.q or self.query.filter == "unread":  # unread: not known until the server's answer
            return False
        if self.query.filter == "mine":
            return self.me is not None and row.last_comment is not None and row.last_comment.user.id == self.me
        return True

    def _only_the_server_knows(self, row: ImageSummary) -> bool:
        """Whether a feed row not listed may match the query all the same: its comments' words (a
        search) or who took part (`mine`) are the server's to tell."""
        if self.query.filter == "open" and row.open_count == 0:
            return False
        return bool(self.query.q) or self.query.filter == "mine"

    def _within_loaded(self, row: ImageSummary, last: ImageSummary | None) -> bool:
        """A row older than the last one loaded comes with a later page, not now."""
        return self.next_cursor is None or last is None or _order(row) >= _order(last)

"""The inbox's view model: its rows, the selected one, the filter and search text, paging. No Textual.

Rows come from pages of `GET /images` and from the inbox feed. The feed is not sequenced and not
filtered: a row it sends is applied where the filter can tell (the `open` filter drops a row with
nothing open) and otherwise only updates a row already listed, since whether it matches `mine` or
the search text only the server knows. A first page that was asked for before some feed rows
arrived must not undo them: feed rows seen while it loads are applied again over it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..protocol.models import ImagesPage, ImageSummary, InboxFilter

NEAR_END = 5
"""The next page is asked for when the selection is this close to the last row."""


@dataclass(frozen=True, slots=True)
class Query:
    """What the listing asks the server for."""

    filter: InboxFilter = "open"
    q: str = ""


def _order(row: ImageSummary) -> tuple[str, str]:
    """The server's order, most recent activity first: by last activity, then key (both descending)."""
    return row.last_activity_at, row.key


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
    _seen_while_reloading: list[ImageSummary | str] = field(default_factory=list)
    _paging: bool = False

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

    def _record(self, change: ImageSummary | str) -> None:
        if self._reloading:
            self._seen_while_reloading.append(change)

    def _apply(self, change: ImageSummary | str) -> None:
        old = self.index
        key = change if isinstance(change, str) else change.key
        listed = any(row.key == key for row in self.rows)
        last = self.rows[-1] if self.rows else None
        self.rows = [row for row in self.rows if row.key != key]
        if isinstance(change, ImageSummary) and self._matches(change, listed) and self._within_loaded(change, last):
            self.rows.append(change)
            self.rows.sort(key=_order, reverse=True)
        self._keep_selection(old)

    def _matches(self, row: ImageSummary, listed: bool) -> bool:
        """Whether a feed row matches the query, as far as the viewer can tell (a listed row did)."""
        if self.query.filter == "open" and row.open_count == 0:
            return False
        if listed:
            return True
        if self.query.q:
            return False
        if self.query.filter == "mine":
            return self.me is not None and row.last_comment is not None and row.last_comment.user.id == self.me
        return True

    def _within_loaded(self, row: ImageSummary, last: ImageSummary | None) -> bool:
        """A row older than the last one loaded comes with a later page, not now."""
        return self.next_cursor is None or last is None or _order(row) >= _order(last)

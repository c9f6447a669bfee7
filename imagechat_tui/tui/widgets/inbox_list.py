"""The inbox's list: one two-line row per image, its picture, name, counts and last comment.

A list of its own rather than Textual's OptionList: that one measures every option's height (wrapping
its text) and draws the visible ones anew whenever any option changes, 60 ms and more for 500 rows,
for each live row. Here every row is ROW_LINES lines, so where a row is on screen is arithmetic, and
a row's drawn lines are kept until that row (or the width, or its highlight) changes: a feed row
moved to the top, or a page added, draws only what is new.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.style import Style
from textual.visual import Visual

from ...protocol.models import ImageSummary
from ...protocol.safe import visible
from ..mentions import mention_content
from ..threads import relative_time
from ..thumbnails import COLUMNS, PLACEHOLDER

SAMPLE = "sample"
"""The id of the built-in sample's row, shown when the inbox is empty."""
ROW_LINES = 2
"""Lines per row: `inbox_row` and `sample_row` draw two, each cut to the width."""
UNREAD_STYLE = "bold reverse $accent"
"""An image's count of markers with comments by others the user has not read."""


def row_name(row: ImageSummary) -> str:
    """The name a row shows: its source or file name, else a short form of its key; sanitised."""
    return visible(row.name) if row.name else f"(no name) {visible(row.key[:19])}…"


def _one_line(text: str) -> str:
    """Line breaks and tabs as spaces (not yet sanitised)."""
    return text.replace("\r\n", " ").replace("\n", " ").replace("\t", " ")


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(0, width - 1)] + "…"


def inbox_row(row: ImageSummary, picture: list[Content], now: datetime, width: int,
              names: Mapping[str, str] | None = None) -> Content:
    """Two lines: picture, unread and other counts, and name; picture, when, who and what was said
    last (mentions as @Name by `names`, the tenant's people)."""
    room = max(8, width - COLUMNS - 1)
    new = Content.styled(f" {len(row.unread)} new ", UNREAD_STYLE) + " " if row.unread else Content("")
    counts = Content.assemble(new, (f"● {row.open_count} open", "$warning" if row.open_count else "$text-muted"),
                              ("  ", ""), (f"✓ {row.resolved_count}", "$text-muted"), "  ")
    first = Content.assemble(picture[0], " ", counts, (_fit(row_name(row), room - len(counts.plain)), "bold"))
    last = row.last_comment
    if last is None:
        said = Content.styled(_fit(relative_time(row.last_activity_at, now), room), "$text-muted")
    else:
        when = f"{relative_time(last.created_at, now)} · "
        who = _fit(visible(last.user.name), 20)
        what = Content.assemble(": ", mention_content(_one_line(last.excerpt), names or {})).truncate(
            max(0, room - len(when) - len(who)), ellipsis=True)
        said = Content.assemble((when, "$text-muted"), (who, "bold $accent"), what)
    return Content("\n").join([first, Content.assemble(picture[1], " ", said)])


def sample_row(width: int) -> Content:
    room = max(8, width - COLUMNS - 1)
    return Content("\n").join([
        Content.assemble(PLACEHOLDER[0], " ", (_fit("The built-in sample screenshot", room), "bold")),
        Content.assemble(PLACEHOLDER[1], " ", (_fit("enter opens it, to try markers and comments", room),
                                               "$text-muted")),
    ])


class _Row:
    """A row as drawn: what it is drawn from (the summary and picture by identity: the feed's change
    to a row is a new summary), its content made when first in view, and its lines per style."""

    __slots__ = ("key", "source", "picture", "minute", "width", "names", "_content", "lines")

    def __init__(self, key: str, source: ImageSummary | None, picture: list[Content], minute: int,
                 width: int, names: Mapping[str, str]) -> None:
        self.key, self.source, self.picture, self.minute, self.width = key, source, picture, minute, width
        self.names = names
        self._content: Content | None = None
        self.lines: dict[Style, list[Strip]] = {}

    def drawn_from(self, source: ImageSummary | None, picture: list[Content], minute: int, width: int,
                   names: Mapping[str, str]) -> bool:
        return (self.source is source and self.picture is picture and self.minute == minute
                and self.width == width and self.names is names)

    def content(self, now: datetime) -> Content:
        if self._content is None:
            self._content = sample_row(self.width) if self.source is None else inbox_row(
                self.source, self.picture, now, self.width, self.names)
        return self._content


class InboxList(ScrollView, can_focus=True):
    """The rows, most recent activity first. Enter (or a click) opens one; moving says which is selected.
    Looks and keys as Textual's OptionList."""

    ALLOW_SELECT = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("pagedown", "page(1)", "Page Down", show=False),
        Binding("pageup", "page(-1)", "Page Up", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        Binding("enter", "open", "Open", show=False),
    ]
    DEFAULT_CSS = """
    InboxList {
        height: auto;
        max-height: 100%;
        color: $foreground;
        overflow-x: hidden;
        border: tall $border-blurred;
        padding: 0 1;
        background: $surface;
        & > .inbox-list--highlighted {
            color: $foreground;
            background: $block-cursor-blurred-background;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus {
            border: tall $border;
            background-tint: $foreground 5%;
            & > .inbox-list--highlighted {
                color: $block-cursor-foreground;
                background: $block-cursor-background;
                text-style: $block-cursor-text-style;
            }
        }
        & > .inbox-list--hover {
            background: $block-hover-background;
        }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"inbox-list--row", "inbox-list--highlighted", "inbox-list--hover"}

    class Opened(Message):
        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    class Moved(Message):
        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._rows: list[_Row] = []
        self._now = datetime.now(UTC)
        self._highlighted: int | None = None
        self._hover: str | None = None
        self._last_show: tuple[list[ImageSummary], dict[str, list[Content]], str | None, datetime, bool] | None = None
        self.names: Mapping[str, str] = {}
        """The tenant's people (id -> name): mentions in the rows show their names."""

    def set_names(self, names: Mapping[str, str]) -> None:
        """New names for mentions: the next `show` draws every row again if they changed."""
        if names != self.names:
            self.names = dict(names)

    # What is shown

    def show(self, rows: list[ImageSummary], pictures: dict[str, list[Content]], selected: str | None,
             now: datetime, with_sample: bool) -> None:
        """Show `rows` (a row kept from the last call, and its picture, by identity, is not drawn
        again), `selected` highlighted."""
        self._last_show = (rows, pictures, selected, now, with_sample)
        self._now = now
        width = self._row_width(len(rows) + with_sample)
        kept = {row.key: row for row in self._rows}
        shown = [self._row(kept.get(row.key), row.key, row, pictures.get(row.key, PLACEHOLDER), now.minute, width)
                 for row in rows]
        if with_sample:
            shown.append(self._row(kept.get(SAMPLE), SAMPLE, None, PLACEHOLDER, 0, width))
        changed = len(shown) != len(self._rows) or any(a is not b for a, b in zip(shown, self._rows, strict=False))
        if changed:
            self._redraw_changed(shown)
            self._rows = shown
            self.virtual_size = Size(width + 1, ROW_LINES * len(shown))
        keys = [row.key for row in shown]
        index = keys.index(selected) if selected in keys else (0 if keys else None)
        self._highlight(index, tell=changed)

    def _row_width(self, count: int) -> int:
        """The width rows are cut to: the list's, less the scrollbar `count` rows will need (it
        appears only once they are shown, and says nothing when it does)."""
        content = self.content_region
        if not content.width:
            return 79  # not laid out yet: shown again once it is
        scrollbar = self.styles.scrollbar_size_vertical if count * ROW_LINES > content.height else 0
        return content.width - scrollbar - 1

    def _row(self, kept: _Row | None, key: str, source: ImageSummary | None, picture: list[Content], minute: int,
             width: int) -> _Row:
        if kept is not None and kept.drawn_from(source, picture, minute, width, self.names):
            return kept
        return _Row(key, source, picture, minute, width, self.names)

    def _redraw_changed(self, shown: list[_Row]) -> None:
        """Redraw the rows in view that show another row now: a page added below, or a row
        changed out of view, redraws none."""
        first = self.scroll_offset.y // ROW_LINES
        for index in range(first, first + self.scrollable_content_region.height // ROW_LINES + 2):
            was = self._rows[index] if index < len(self._rows) else None
            now = shown[index] if index < len(shown) else None
            if was is not now:
                self.refresh_lines(index * ROW_LINES, ROW_LINES)

    def on_resize(self) -> None:
        if self._last_show is not None:  # the rows are cut to the width
            self.show(*self._last_show)

    @property
    def highlighted(self) -> int | None:
        """The index of the highlighted row."""
        return self._highlighted

    @property
    def row_count(self) -> int:
        return len(self._rows)

    def row_text(self, index: int) -> str:
        """The text row `index` shows (for tests)."""
        return self._rows[index].content(self._now).plain

    def _highlight(self, index: int | None, tell: bool = True) -> None:
        """Highlight row `index` and bring it into view, if it moved or `tell`: then tell the screen
        which row it is (nothing changed: the list stays where the wheel left it)."""
        old, self._highlighted = self._highlighted, index
        if index is None or not (tell or index != old):
            return
        if index != old:
            for row in (old, index):
                if row is not None:
                    self.refresh_lines(row * ROW_LINES, ROW_LINES)
        self.scroll_to_region(Region(0, index * ROW_LINES, self.scrollable_content_region.width, ROW_LINES),
                              force=True, animate=False, immediate=True)
        self.post_message(self.Moved(self._rows[index].key))

    # Drawing

    def render_line(self, y: int) -> Strip:
        index, offset = divmod(self.scroll_offset.y + y, ROW_LINES)
        if index >= len(self._rows):
            return Strip.blank(self.scrollable_content_region.width,
                               self.get_visual_style("inbox-list--row").rich_style)
        row = self._rows[index]
        if index == self._highlighted:
            style = self.get_visual_style("inbox-list--row", "inbox-list--highlighted")
        elif row.key == self._hover:
            style = self.get_visual_style("inbox-list--row", "inbox-list--hover")
        else:
            style = self.get_visual_style("inbox-list--row")
        lines = row.lines.get(style)
        if lines is None:
            width, meta = self.scrollable_content_region.width, {"row": row.key}
            lines = row.lines[style] = [
                strip.extend_cell_length(width, style.rich_style).apply_meta(meta)
                for strip in Visual.to_strips(self, row.content(self._now), width, ROW_LINES, style)]
        return lines[offset]

    def notify_style_update(self) -> None:
        for row in self._rows:  # focus and the theme change the styles the lines were drawn with
            row.lines.clear()
        super().notify_style_update()

    # Keys and the mouse

    def action_cursor(self, step: int) -> None:
        if self._rows:
            current = self._highlighted
            self._highlight(0 if current is None else min(len(self._rows) - 1, max(0, current + step)))

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.scrollable_content_region.height // ROW_LINES))

    def action_first(self) -> None:
        if self._rows:
            self._highlight(0)

    def action_last(self) -> None:
        if self._rows:
            self._highlight(len(self._rows) - 1)

    def action_open(self) -> None:
        if self._highlighted is not None:
            self.post_message(self.Opened(self._rows[self._highlighted].key))

    def _index_of(self, key: object) -> int | None:
        return next((index for index, row in enumerate(self._rows) if row.key == key), None)

    def on_click(self, event: events.Click) -> None:
        index = self._index_of(event.style.meta.get("row"))
        if index is not None:
            self._highlight(index)
            self.action_open()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        self._set_hover(event.style.meta.get("row"))

    def on_leave(self) -> None:
        self._set_hover(None)

    def _set_hover(self, key: str | None) -> None:
        if key != self._hover:
            for index in (self._index_of(self._hover), self._index_of(key)):
                if index is not None:
                    self.refresh_lines(index * ROW_LINES, ROW_LINES)
            self._hover = key

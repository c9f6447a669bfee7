"""The inbox's list: one two-line row per image, its picture, name, counts and last comment."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ...protocol.models import ImageSummary
from ...protocol.safe import visible
from ..mentions import mention_content
from ..threads import relative_time
from ..thumbnails import COLUMNS, PLACEHOLDER

SAMPLE = "sample"
"""The id of the built-in sample's row, shown when the inbox is empty."""
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


class InboxList(OptionList):
    """The rows, most recent activity first. Enter (or a click) opens one; moving says which is selected."""

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
        self._shown: list[object] = []
        self._row_options: dict[str, tuple[object, Option]] = {}
        """Each row's option with what it was drawn from: an option kept keeps its cached layout."""
        self.names: dict[str, str] = {}
        """The tenant's people (id -> name): mentions in the rows show their names."""

    def set_names(self, names: Mapping[str, str]) -> None:
        """New names for mentions: the next `show` draws every row again if they changed."""
        if names != self.names:
            self.names = dict(names)
            self._shown, self._row_options = [], {}

    def show(self, rows: list[ImageSummary], pictures: dict[str, list[Content]], selected: str | None,
             now: datetime, with_sample: bool) -> None:
        width = (self.scrollable_content_region.width or 80) - 1
        shown: list[object] = [width, with_sample, now.minute, *((row, id(pictures.get(row.key))) for row in rows)]
        if shown != self._shown:
            self._shown = shown
            options = [self._option(row, pictures.get(row.key, PLACEHOLDER), now, width) for row in rows]
            self._row_options = {key: self._row_options[key] for key in (row.key for row in rows)}
            if with_sample:
                options.append(Option(sample_row(width), id=SAMPLE))
            self.set_options(options)
        ids = [row.key for row in rows] + ([SAMPLE] if with_sample else [])
        if selected in ids:
            self.highlighted = ids.index(selected)
        elif ids:
            self.highlighted = 0

    def _option(self, row: ImageSummary, picture: list[Content], now: datetime, width: int) -> Option:
        drawn_from = (row, id(picture), now.minute, width)
        kept = self._row_options.get(row.key)
        if kept is None or kept[0] != drawn_from:
            option = Option(inbox_row(row, picture, now, width, self.names), id=row.key)
            kept = self._row_options[row.key] = (drawn_from, option)
        return kept[1]

    def on_resize(self) -> None:
        self._shown = []  # the rows are cut to the width: the next show redraws them

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Opened(event.option.id))

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Moved(event.option.id))

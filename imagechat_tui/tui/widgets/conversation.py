"""The conversation pane: the list of markers, or the thread of the selected one."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import datetime

from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ...protocol.models import Marker
from ...protocol.safe import visible
from ..mentions import mention_content
from ..numbers import number_text
from ..threads import last_activity, relative_time, threaded

UNREAD_TAG = Content.assemble((" new ", "bold reverse $accent"), " ")
"""Before an unread marker's first line: someone else wrote on it since the user last read it."""


def first_line(marker: Marker, names: Mapping[str, str], width: int = 60) -> Content:
    """The first line of the marker's first comment not deleted, mentions as @Name, cut to `width`."""
    for comment in marker.comments:
        if not comment.deleted:
            return mention_content(comment.text.split("\n", 1)[0], names).truncate(width)
    return Content("(deleted)")


def marker_option(marker: Marker, now: datetime, unread: bool = False,
                  names: Mapping[str, str] | None = None) -> Content:
    replies = max(0, sum(1 for c in marker.comments if not c.deleted) - 1)
    status = ("● open", "$warning") if marker.status == "open" else ("✓ resolved", "$text-muted")
    return Content.assemble(
        (f"{number_text(marker.number):>3} ", "bold"), status, "  ", UNREAD_TAG if unread else "",
        first_line(marker, names or {}), "\n",
        (f"     {replies} repl{'y' if replies == 1 else 'ies'} · {relative_time(last_activity(marker), now)}",
         "$text-muted"),
    )


EMPTY = Content.styled("No markers yet. Move the cursor (arrows, or click) and press a to place one; "
                       "+ zooms in to read the screenshot.", "$text-muted")


class MarkerList(OptionList):
    """Every marker: number, status, unread or not, first line, replies, last activity. Enter opens one."""

    class Opened(Message):
        def __init__(self, marker_id: str) -> None:
            super().__init__()
            self.marker_id = marker_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: list[object] = []

    def show(self, markers: list[Marker], now: datetime, highlighted: str | None,
             unread: Collection[str] = (), names: Mapping[str, str] | None = None) -> None:
        """`unread`: the ids of the markers the user has not read; `names`: the tenant's people, for mentions."""
        keep = self.highlighted
        names = names or {}
        # Rebuilding hundreds of options is what costs; skip it when nothing on them changed.
        shown: list[object] = [names, *((m.id, m.number, m.status, m.id in unread, m.comments[0].text
                                         if m.comments else "", len(m.comments), last_activity(m), now.minute)
                                        for m in markers)]
        if shown != self._shown or not markers:
            self._shown = shown
            self.set_options([Option(marker_option(m, now, m.id in unread, names), id=m.id) for m in markers]
                             or [Option(EMPTY, disabled=True)])
        ids = [m.id for m in markers]
        if highlighted in ids:
            self.highlighted = ids.index(highlighted)
        elif keep is not None and ids:
            self.highlighted = min(keep, len(ids) - 1)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Opened(event.option.id))


class WritingLine(Static):
    """Who else is writing on the image, and where: "Ana is writing on 3". Hidden when no one is."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._writers: list[tuple[str, str]] = []

    def show(self, writers: list[tuple[str, str]]) -> None:
        """`writers`: (name, where), where as "on 3" or "a new marker"."""
        if writers == self._writers:
            return  # told after every change on the image: an update would lay the screen out again
        self._writers = writers
        self.display = bool(writers)
        self.update(Content(" · ").join(
            Content.assemble((visible(name), "bold"), f" is writing {where}") for name, where in writers))


class ThreadView(VerticalScroll):
    """One marker's conversation; replies indented under the comment they answer.

    Its lines are widgets it keeps and updates in place: a redraw per remote event stays cheap,
    and back-to-back redraws can't race each other's mounts."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines: list[Static] = []

    def show(self, marker: Marker, now: datetime, selected: str | None, me: Callable[[str], bool],
             names: Mapping[str, str] | None = None) -> None:
        """`names`: the tenant's people (id -> current name), for mentions."""
        status = "resolved" if marker.status == "resolved" else "open"
        title = Content.assemble((f"Marker {number_text(marker.number)}", "bold"), f" · {status} · ",
                                 (f"{marker.x:.0f}%, {marker.y:.0f}%", "$text-muted"))
        lines: list[tuple[Content, int, bool]] = [(title, 0, False)]
        for depth, comment in threaded(marker):
            head = Content.assemble(
                (visible(comment.user.name), "bold $accent" if me(comment.user.id) else "bold"),
                (f"  {relative_time(comment.created_at, now)}", "$text-muted"),
                (" · edited" if comment.edited_at and not comment.deleted else "", "$text-muted italic"),
            )
            body = (Content.styled("(deleted)", "italic $text-muted") if comment.deleted
                    else mention_content(comment.text, names or {}, multiline=True))
            lines.append((Content("\n").join([head, body]), depth, comment.id == selected))
        while len(self._lines) < len(lines):
            widget = Static(classes="comment")
            self._lines.append(widget)
            self.mount(widget)
        while len(self._lines) > len(lines):
            self._lines.pop().remove()
        for index, (widget, (content, depth, chosen)) in enumerate(zip(self._lines, lines, strict=True)):
            widget.update(content)
            widget.set_classes("thread-title" if index == 0 else "comment")
            widget.set_class(chosen, "-selected")
            widget.styles.margin = (0, 0, 1, 2 * depth)
            if chosen:
                self.call_after_refresh(self.scroll_to_widget, widget, animate=False)

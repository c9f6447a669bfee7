"""The conversation pane: the list of markers, or the thread of the selected one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ...protocol.models import Marker
from ..safe import visible
from ..threads import first_line, last_activity, relative_time, threaded


def marker_option(number: int, marker: Marker, now: datetime) -> Content:
    replies = max(0, sum(1 for c in marker.comments if not c.deleted) - 1)
    status = ("● open", "$warning") if marker.status == "open" else ("✓ resolved", "$text-muted")
    return Content.assemble(
        (f"{number:>3} ", "bold"), status, "  ", first_line(marker)[:60], "\n",
        (f"     {replies} repl{'y' if replies == 1 else 'ies'} · {relative_time(last_activity(marker), now)}",
         "$text-muted"),
    )


class MarkerList(OptionList):
    """Every marker: number, status, first line, replies, last activity. Enter opens one."""

    class Opened(Message):
        def __init__(self, marker_id: str) -> None:
            super().__init__()
            self.marker_id = marker_id

    def show(self, markers: list[Marker], now: datetime, highlighted: str | None) -> None:
        keep = self.highlighted
        self.set_options(Option(marker_option(n, m, now), id=m.id) for n, m in enumerate(markers, 1))
        ids = [m.id for m in markers]
        if highlighted in ids:
            self.highlighted = ids.index(highlighted)
        elif keep is not None and ids:
            self.highlighted = min(keep, len(ids) - 1)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Opened(event.option.id))


class ThreadView(VerticalScroll):
    """One marker's conversation; replies indented under the comment they answer."""

    def show(self, marker: Marker, number: int, now: datetime, selected: str | None,
             me: Callable[[str], bool]) -> None:
        with self.app.batch_update():
            self.remove_children()
            status = "resolved" if marker.status == "resolved" else "open"
            title = Content.assemble((f"Marker {number}", "bold"), f" · {status} · ",
                                     (f"{marker.x:.0f}%, {marker.y:.0f}%", "$text-muted"))
            widgets: list[Static] = [Static(title, classes="thread-title")]
            for depth, comment in threaded(marker):
                head = Content.assemble(
                    (visible(comment.user.name), "bold $accent" if me(comment.user.id) else "bold"),
                    (f"  {relative_time(comment.created_at, now)}", "$text-muted"),
                    (" · edited" if comment.edited_at and not comment.deleted else "", "$text-muted italic"),
                )
                body = (Content.styled("(deleted)", "italic $text-muted") if comment.deleted
                        else Content(visible(comment.text, multiline=True)))
                widget = Static(Content("\n").join([head, body]), classes="comment")
                widget.styles.margin = (0, 0, 0, 2 * depth)
                widget.set_class(comment.id == selected, "-selected")
                widgets.append(widget)
                if comment.id == selected:
                    self.call_after_refresh(self.scroll_to_widget, widget, animate=False)
            self.mount_all(widgets)

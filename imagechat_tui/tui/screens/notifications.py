"""The user's notifications, newest first: who did what, on which image and marker, and when.
Enter opens one (and marks it read); m marks the highlighted one read, M all of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ...protocol.models import Notification, NotificationKind
from ...protocol.safe import visible
from ..mentions import mention_content
from ..threads import relative_time
from ..widgets.footer import SteadyFooter
from ..widgets.status import unread_text

WHAT: dict[NotificationKind, str] = {
    "reply": "replied to you on marker",
    "comment": "commented on marker",
    "mention": "mentioned you on marker",
    "resolved": "resolved your marker",
    "reopened": "reopened your marker",
}
"""What happened, said before the marker's number."""

EMPTY = Content.styled("Nothing yet. Replies to you, comments on markers you placed or commented on, mentions "
                       "and your markers resolved or reopened appear here.", "$text-muted")
HINT = "enter open · m mark read · M mark all read · esc back"


def image_label(n: Notification) -> str:
    """The image as the list names it: its name if known, else the start of its key."""
    return visible(n.image_name) if n.image_name else visible(n.image[:19]) + "…"


def notification_option(n: Notification, now: datetime, names: Mapping[str, str]) -> Content:
    dot = ("● ", "bold $warning") if not n.read else ("  ", "")
    head = Content.assemble(
        dot, (visible(n.by.name), "bold"), f" {WHAT[n.kind]} ", (str(n.marker_number), "bold"),
        " · ", (image_label(n), "$text-muted"), " · ", (relative_time(n.created_at, now), "$text-muted"),
    )
    if not n.excerpt:
        return head
    return Content("\n").join([head, Content("  ") + mention_content(n.excerpt, names).stylize("$text-muted")])


class NotificationsScreen(Screen[None]):
    BINDINGS = [
        Binding("m", "mark_read", "Mark read"),
        Binding("M", "mark_all_read", "Mark all read"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    class Open(Message):
        def __init__(self, notification: Notification) -> None:
            super().__init__()
            self.notification = notification

    class MarkRead(Message):
        def __init__(self, ids: list[int]) -> None:
            super().__init__()
            self.ids = ids

    class MarkAllRead(Message):
        pass

    def __init__(self) -> None:
        super().__init__()
        self.items: list[Notification] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="notifications"):
            yield Static(id="notifications-title")
            yield OptionList(id="notifications-list")
            yield Static(Content.styled(HINT, "$text-muted"), id="notifications-hint")
        yield SteadyFooter()

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def show(self, items: Sequence[Notification], unread: int, names: Mapping[str, str], now: datetime) -> None:
        """What the engine holds now; the highlight stays on the same notification."""
        options = self.query_one(OptionList)
        kept = self.highlighted
        self.items = list(items)
        count = (unread_text(unread), "$warning") if unread else ("all read", "$text-muted")
        title = Content.assemble(("Notifications", "bold"), "  ", count)
        self.query_one("#notifications-title", Static).update(title)
        options.set_options([Option(notification_option(n, now, names), id=str(n.id)) for n in self.items]
                            or [Option(EMPTY, disabled=True)])
        ids = [n.id for n in self.items]
        if ids:
            options.highlighted = ids.index(kept.id) if kept is not None and kept.id in ids else 0

    @property
    def highlighted(self) -> Notification | None:
        index = self.query_one(OptionList).highlighted
        return self.items[index] if index is not None and index < len(self.items) else None

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        chosen = self.highlighted
        if chosen is not None:
            self.post_message(self.Open(chosen))

    def action_mark_read(self) -> None:
        chosen = self.highlighted
        if chosen is not None and not chosen.read:
            self.post_message(self.MarkRead([chosen.id]))

    def action_mark_all_read(self) -> None:
        if any(not n.read for n in self.items):
            self.post_message(self.MarkAllRead())

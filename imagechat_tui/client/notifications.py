"""The user's notifications as the engine keeps them: the newest pages loaded, live ones added in
front, read marks applied, and the unread count (the server's, kept in step)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..protocol.events import NotificationsRead
from ..protocol.models import Notification, NotificationsPage


@dataclass(slots=True)
class NotificationBook:
    items: list[Notification] = field(default_factory=list)
    """Newest first."""
    unread: int = 0
    next_cursor: str | None = None
    """Where older ones continue; None when all are loaded."""
    loaded: bool = False

    def load(self, page: NotificationsPage) -> None:
        """The first page, fresh from the server: it replaces what was loaded, except live ones newer
        than it (they arrived while it was on its way)."""
        newest = page.notifications[0].id if page.notifications else 0
        newer = [n for n in self.items if n.id > newest]
        self.items = newer + page.notifications
        self.unread = page.unread_count + sum(not n.read for n in newer)
        self.next_cursor = page.next_cursor
        self.loaded = True

    def extend(self, page: NotificationsPage) -> None:
        """An older page, after the last one loaded."""
        known = {n.id for n in self.items}
        self.items.extend(n for n in page.notifications if n.id not in known)
        self.next_cursor = page.next_cursor
        self.unread = page.unread_count

    def arrived(self, notification: Notification) -> bool:
        """A live one; False if it was known already."""
        if any(n.id == notification.id for n in self.items):
            return False
        self.items.insert(0, notification)
        self.items.sort(key=lambda n: n.id, reverse=True)
        self.unread += not notification.read
        return True

    def read(self, frame: NotificationsRead) -> None:
        """Marked read by one of the user's viewers: the loaded ones change now (the count is the
        server's, reloaded by the engine, as some may not be loaded)."""
        for index, n in enumerate(self.items):
            chosen = n.id in frame.ids if frame.ids is not None else frame.up_to is not None and n.id <= frame.up_to
            if chosen and not n.read:
                self.items[index] = n.model_copy(update={"read": True})

"""The status bar and the offline banner."""

from __future__ import annotations

import time

from textual.content import Content
from textual.widgets import Static

from ...client.engine import Link, LinkState
from ...protocol.safe import visible

_LINK = {
    LinkState.CONNECTING: ("◌ connecting", "$warning"),
    LinkState.ONLINE: ("● online", "$success"),
    LinkState.RECONNECTING: ("○ reconnecting", "$warning"),
    LinkState.OFFLINE: ("✕ offline", "$error"),
}


class StatusBar(Static):
    """One line: the connection, the image, its counts, the view and who you are. The connection,
    the counts and the user always show; the image's name and the view give way on narrow terminals."""

    SEPARATOR = " │ "

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[Link, str, int, int, str, tuple[str, str]] | None = None

    def show(self, link: Link, image: str, open_count: int, total: int, user: str,
             view: tuple[str, str] = ("", "")) -> None:
        """`view` is the account of the view, long and compact."""
        self._shown = (link, image, open_count, total, user, view)
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        if self._shown is None:
            return
        link, image, open_count, total, user, (view, compact_view) = self._shown
        state, style = _LINK[link.state]
        who, name = _fit(visible(user), 16), visible(image)
        width = (self.size.width or 80) - 1
        counts = f"{open_count} open / {total} markers"
        short_counts = f"{open_count} open / {total}"
        # From the fullest to the barest; the first that leaves the name a few characters wins.
        for counts_text, view_text in ((counts, view), (counts, compact_view), (short_counts, compact_view),
                                       (short_counts, "")):
            middle = [counts_text, view_text] if view_text else [counts_text]
            fixed = len(state) + len(who) + sum(map(len, middle)) + len(self.SEPARATOR) * (len(middle) + 2)
            if width - fixed >= min(len(name), 8):
                break
        parts: list[str | tuple[str, str]] = [(state, style), self.SEPARATOR,
                                              (_fit(name, width - fixed), "$text-muted")]
        for text in middle:
            parts += [self.SEPARATOR, text]
        self.update(Content.assemble(*parts, self.SEPARATOR, who))


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(0, width - 1)] + "…"


class OfflineBanner(Static):
    """Shown while the live connection is down, counting down to the next attempt."""

    def show(self, link: Link, catching_up: bool = False) -> None:
        """Shown until the connection is back and the image resynced (`catching_up` in between)."""
        self.display = link.state is not LinkState.ONLINE or catching_up
        if not self.display:
            return
        if link.state is LinkState.ONLINE:
            when = "connected again, catching up"
        elif link.state is LinkState.RECONNECTING and link.next_attempt is not None:
            wait = max(0, round(link.next_attempt - time.time()))
            when = f"reconnecting in {wait} s" if wait else "reconnecting now"
        elif link.state is LinkState.CONNECTING:
            when = "connecting"
        else:
            when = visible(link.reason) or "not connected"
        self.update(Content.assemble(
            ("OFFLINE", "bold"), f" — {when}. Markers and threads stay readable; changes can't be saved until "
            "the connection is back.",
        ))

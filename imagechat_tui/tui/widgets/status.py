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
    LinkState.REFUSED: ("✕ token refused", "$error"),
}

TOKEN_HELP = ("Ask the server's admin for a new token (imagechat-server token create) and start the viewer with "
              "it: --token, the IMAGECHAT_TOKEN variable, or token = \"…\" in the config file.")
"""What to do about a refused token, unless the app knows better (the local server's own token)."""


def marker_counts(link: Link, loaded: bool, open_count: int, total: int, short: bool = False, new: int = 0) -> str:
    """The markers in words; never `0 markers` for an image whose markers were never fetched.
    `short`, for a narrow terminal: the bare counts; `new`, how many of them are unread."""
    if short:
        return (f"{open_count} open / {total}" + (f" · {new} new" if new else "")) if loaded else "not synced yet"
    if not loaded:
        return "not synced yet" if link.state is LinkState.ONLINE else "not synced yet: markers unknown"
    counts = f"{open_count} open / {total} markers" + (f", {new} new" if new else "")
    return counts if link.state is LinkState.ONLINE else f"{counts} (as last synced)"


class StatusBar(Static):
    """One line: the connection, the image, its counts, the view and who you are. The connection,
    the counts and the user always show; the image's name and the view give way on narrow terminals."""

    SEPARATOR = " │ "

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[Link, str, int, int, str, tuple[str, str], bool, tuple[str, ...], int, int] | None = None

    def show(self, link: Link, image: str, open_count: int, total: int, user: str,
             view: tuple[str, str] = ("", ""), loaded: bool = True, others: tuple[str, ...] = (),
             unread: int = 0, new: int = 0) -> None:
        """`view` is the account of the view, long and compact; `loaded`, whether the image's
        markers ever came (from the server or the cache); `others`, the names of the other people
        viewing the image now; `unread`, the user's unread notifications; `new`, the image's
        markers the user has not read."""
        shown = (link, image, open_count, total, user, view, loaded, others, unread, new)
        if shown != self._shown:  # it is told after every change anywhere in the viewer
            self._shown = shown
            self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        if self._shown is None:
            return
        link, image, open_count, total, user, (view, compact_view), loaded, others, unread, new = self._shown
        state, style = _LINK[link.state]
        who, name = _fit(visible(user), 16), visible(image)
        # Unread notifications always show, whatever else gives way: they are news from elsewhere.
        unread_part = unread_text(unread) + self.SEPARATOR if unread else ""
        width = (self.size.width or 80) - 1
        counts = marker_counts(link, loaded, open_count, total, new=new)
        short_counts = marker_counts(link, loaded, open_count, total, short=True, new=new)
        people, few = here(others), here(others, short=True)
        # From the fullest to the barest; the first that leaves the name a few characters wins.
        for counts_text, view_text, people_text in (
                (counts, view, people), (counts, compact_view, people), (short_counts, compact_view, people),
                (short_counts, compact_view, few), (short_counts, "", few)):
            middle = [text for text in (counts_text, view_text, people_text) if text]
            fixed = (len(state) + len(unread_part) + len(who) + sum(map(len, middle))
                     + len(self.SEPARATOR) * (len(middle) + 2))
            if width - fixed >= min(len(name), 8):
                break
        parts: list[str | tuple[str, str]] = [(state, style), self.SEPARATOR,
                                              (_fit(name, width - fixed), "$text-muted")]
        for text in middle:
            parts += [self.SEPARATOR, text]
        # One line whatever it says (app.tcss): a repaint, never a layout of the screen.
        self.update(Content.assemble(*parts, self.SEPARATOR, (unread_part, "bold $warning"), who), layout=False)


def unread_text(unread: int) -> str:
    """The unread notifications, as the status bar says them (N opens the list)."""
    return f"✉ {unread} unread"


def here(others: tuple[str, ...], short: bool = False) -> str:
    """Who else is viewing: their names (each sanitised and cut short), or, `short`, how many."""
    if not others:
        return ""
    if short:
        return f"+{len(others)} here"
    return "here: " + ", ".join(_fit(visible(name), 16) for name in others)


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(0, width - 1)] + "…"


class OfflineBanner(Static):
    """Shown while the live connection is down: counting down to the next attempt, or, when no
    attempt can help (a refused token), saying what to do instead."""

    def show(self, link: Link, catching_up: bool = False, token_help: str = TOKEN_HELP) -> None:
        """Shown until the connection is back and the image resynced (`catching_up` in between)."""
        self.display = link.state is not LinkState.ONLINE or catching_up
        if not self.display:
            return
        if link.state is LinkState.REFUSED:
            self.update(Content.assemble(
                ("TOKEN REFUSED", "bold"), f" — {visible(link.reason) or 'the server refused the token'}: it is "
                "wrong or was revoked, and reconnecting won't help. ", token_help,
                " Markers and threads stay readable; nothing can be saved.",
            ))
            return
        if link.state is LinkState.ONLINE:
            when = "connected again, catching up"
        elif link.state is LinkState.RECONNECTING and link.next_attempt is not None:
            wait = max(0, round(link.next_attempt - time.time()))
            when = f"reconnecting in {wait} s" if wait else "reconnecting now"
            if link.reason:
                when = f"{visible(link.reason)}; {when}"
        elif link.state is LinkState.CONNECTING:
            when = "connecting"
        else:
            when = visible(link.reason) or "not connected"
        self.update(Content.assemble(
            ("OFFLINE", "bold"), f" — {when}. Markers and threads stay readable; changes can't be saved until "
            "the connection is back.",
        ))

"""The status bar and the offline banner."""

from __future__ import annotations

import time

from textual.content import Content
from textual.widgets import Static

from ...client.engine import Link, LinkState
from ..safe import visible

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


def marker_counts(link: Link, loaded: bool, open_count: int, total: int) -> str:
    """The markers in words; never `0 markers` for an image whose markers were never fetched."""
    if not loaded:
        return "not synced yet" if link.state is LinkState.ONLINE else "not synced yet: markers unknown"
    counts = f"{open_count} open / {total} markers"
    return counts if link.state is LinkState.ONLINE else f"{counts} (as last synced)"


class StatusBar(Static):
    def show(self, link: Link, image: str, open_count: int, total: int, user: str, loaded: bool = True) -> None:
        state, style = _LINK[link.state]
        self.update(Content.assemble(
            (state, style), "  │  ", (visible(image), "$text-muted"), "  │  ",
            marker_counts(link, loaded, open_count, total), "  │  ", visible(user),
        ))


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

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
    def show(self, link: Link, image: str, open_count: int, total: int, user: str) -> None:
        state, style = _LINK[link.state]
        self.update(Content.assemble(
            (state, style), "  │  ", (visible(image), "$text-muted"), "  │  ",
            f"{open_count} open / {total} markers", "  │  ", visible(user),
        ))


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

"""Writing a comment: a new marker's first, a reply, or an edit."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static, TextArea

from ...protocol.limits import MAX_TEXT_LENGTH


class ComposeScreen(ModalScreen[str | None]):
    """Returns the text to send, or None if cancelled."""

    BINDINGS = [
        Binding("ctrl+s", "send", "Send", priority=True),
        Binding("escape", "cancel", "Cancel", priority=True),
    ]

    def __init__(self, title: str, text: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.initial = text

    def compose(self) -> ComposeResult:
        with Vertical(id="compose"):
            yield Static(Content.styled(self.title_text, "bold"), id="compose-title")
            yield TextArea(self.initial, id="compose-text", soft_wrap=True, show_line_numbers=False)
            yield Static(Content.styled("ctrl+s send · esc cancel", "$text-muted"), id="compose-hint")

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.focus()
        area.move_cursor(area.document.end)

    def action_send(self) -> None:
        text = self.query_one(TextArea).text.strip()
        if not text:
            self.notify("Write something first, or press esc to cancel.", severity="warning")
        elif len(text) > MAX_TEXT_LENGTH:
            self.notify(f"At most {MAX_TEXT_LENGTH} characters ({len(text)} now).", severity="warning")
        else:
            self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)

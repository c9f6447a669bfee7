"""Text that could not be put on a clipboard, shown to be selected and copied by hand."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static, TextArea


class CopiedScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "dismiss", "Close", priority=True)]

    def __init__(self, title: str, text: str, saved_to: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text
        self.saved_to = saved_to

    def compose(self) -> ComposeResult:
        with Vertical(id="copied"):
            yield Static(Content.styled(self.title_text, "bold"))
            yield TextArea(self.text, id="copied-text", read_only=True, soft_wrap=True)
            yield Static(Content.assemble(
                ("No clipboard tool took it (wl-copy, xclip, xsel or pbcopy). Select it here, or find it in ",
                 "$text-muted"), (self.saved_to, "bold"), (". esc closes this.", "$text-muted")))

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

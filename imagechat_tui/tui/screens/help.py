"""Every key of the viewer, as the keymap has them now."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", priority=True)]

    def __init__(self, rows: list[tuple[str, str]], graphics: str = "") -> None:
        super().__init__()
        self.rows = rows
        self.graphics = graphics

    def compose(self) -> ComposeResult:
        width = max(len(keys) for keys, _ in self.rows)
        lines = [Content.styled("Keys", "bold"), Content.styled(self.graphics, "$text-muted"), Content("")]
        lines += [Content.assemble((keys.ljust(width), "bold $accent"), "  ", what) for keys, what in self.rows]
        lines += [Content(""), Content.styled("The mouse works too: click a marker to open it, click the image "
                                              "to put the cursor there. Keys can be changed in the config "
                                              "file's [keymap] table. esc closes this.", "$text-muted")]
        with VerticalScroll(id="help"):
            yield Static(Content("\n").join(lines))

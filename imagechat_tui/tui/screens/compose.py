"""Writing a comment: a new marker's first, a reply, or an edit; and the drafts kept when one is left."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static, TextArea

from ...protocol.limits import MAX_TEXT_LENGTH
from ...protocol.mentions import completions, shown, with_tokens
from ...protocol.safe import visible

MENTION_PREFIX = re.compile(r"(?:^|(?<=\s))@([^\s@<>]{0,40})$")
"""An `@` being typed, at the start or after a space, with what follows it up to the cursor."""

Draft = tuple[str, str, str]
"""What a text is for: (image, kind, target): ("…", "place", "12.5,40.0"), ("…", "comment", marker id),
("…", "reply", comment id) or ("…", "edit", comment id)."""


class Drafts:
    """Texts left unsent, one per place they were written for. Esc keeps the text here, and so does
    ctrl+s until the server has it: typed text is never thrown away by a key or a refused write."""

    def __init__(self) -> None:
        self._texts: dict[Draft, str] = {}

    def get(self, draft: Draft) -> str | None:
        return self._texts.get(draft)

    def keep(self, draft: Draft, text: str) -> None:
        if text.strip():
            self._texts[draft] = text
        else:
            self._texts.pop(draft, None)  # emptied on purpose: that is how a draft is thrown away

    def drop(self, draft: Draft) -> None:
        self._texts.pop(draft, None)

    def __len__(self) -> int:
        return len(self._texts)


class ComposeScreen(ModalScreen[str | None]):
    """Returns the text to send, or None if left (the text stays in `drafts` either way)."""

    BINDINGS = [
        Binding("ctrl+s", "send", "Send", priority=True),
        Binding("escape", "cancel", "Keep as draft", priority=True),
        Binding("tab", "complete", "Complete @name", priority=True, show=False),
    ]

    def __init__(self, title: str, text: str = "", drafts: Drafts | None = None, draft: Draft | None = None,
                 typing: Callable[[], None] | None = None, closed: Callable[[], None] | None = None,
                 people: Mapping[str, str] | None = None) -> None:
        """`typing` is called when the box opens and as the text changes, `closed` when it goes:
        they announce to the others that the user is writing here. `people`: the tenant's people
        (id -> current name), whom `@` completes; the text shows mentions as `@Name` and they are
        sent as the server's tokens."""
        super().__init__()
        self.typing = typing
        self.closed = closed
        self.drafts = drafts if drafts is not None else Drafts()
        self.draft = draft
        self.people = people or {}
        kept = self.drafts.get(draft) if draft is not None else None
        self.title_text = title if kept is None else f"{title} (your draft)"
        self.original = shown(text, self.people)
        self.initial = self.original if kept is None else kept
        self.suggested: list[tuple[str, str]] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="compose"):
            yield Static(Content.styled(self.title_text, "bold"), id="compose-title")
            yield TextArea(self.initial, id="compose-text", soft_wrap=True, show_line_numbers=False)
            yield Static(id="compose-people")
            yield Static(Content.styled("ctrl+s send · esc keep as draft (empty it to discard)", "$text-muted"),
                         id="compose-hint")

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.focus()
        area.move_cursor(area.document.end)
        if self.typing is not None:
            self.typing()

    def on_unmount(self) -> None:
        if self.closed is not None:
            self.closed()

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        if self.typing is not None:
            self.typing()
        self._suggest()

    def on_text_area_selection_changed(self, event: TextArea.SelectionChanged) -> None:
        self._suggest()

    def _typed_mention(self) -> re.Match[str] | None:
        area = self.query_one(TextArea)
        row, column = area.cursor_location
        return MENTION_PREFIX.search(area.document.get_line(row)[:column])

    def _suggest(self) -> None:
        """Under the text, the people an `@` being typed may mean (tab takes the first)."""
        typed = self._typed_mention()
        self.suggested = completions(typed.group(1), self.people) if typed is not None else []
        hint = self.query_one("#compose-people", Static)
        hint.display = bool(self.suggested)
        if self.suggested:
            names = [(visible(name), "bold $accent" if i == 0 else "") for i, (_, name) in enumerate(self.suggested)]
            parts: list[str | tuple[str, str]] = ["@ "]
            for i, name in enumerate(names):
                parts += [" · "] * bool(i) + [name]
            hint.update(Content.assemble(*parts, ("   tab: mention the first", "$text-muted")))

    def action_complete(self) -> None:
        typed = self._typed_mention()
        if typed is None or not self.suggested:
            return
        area = self.query_one(TextArea)
        row, column = area.cursor_location
        area.replace(f"@{self.suggested[0][1]} ", (row, column - len(typed.group(0))), (row, column))

    def action_send(self) -> None:
        text = self.query_one(TextArea).text.strip()
        if not text:
            self.notify("Write something first, or press esc to cancel.", severity="warning")
        elif len(text) > MAX_TEXT_LENGTH:
            self.notify(f"At most {MAX_TEXT_LENGTH} characters ({len(text)} now).", severity="warning")
        else:
            self._keep(text)  # until the server has it
            self.dismiss(with_tokens(text, self.people))

    def action_cancel(self) -> None:
        text = self.query_one(TextArea).text
        kept = self._keep(text if text != self.original else "")
        if kept:
            self.notify("Draft kept: open this box again on the same place to finish it.", title="Not sent")
        self.dismiss(None)

    def _keep(self, text: str) -> bool:
        if self.draft is None:
            return False
        self.drafts.keep(self.draft, text)
        return self.drafts.get(self.draft) is not None

"""Comment text as shown: mentions as `@Name` by the person's current name, highlighted; every piece
sanitised (a name is as untrusted as the text around it) and drawn as Content, never markup."""

from __future__ import annotations

from collections.abc import Mapping

from textual.content import Content

from ..protocol.mentions import pieces
from ..protocol.safe import visible

MENTION_STYLE = "bold $accent"


def mention_content(text: str, names: Mapping[str, str], *, multiline: bool = False) -> Content:
    parts: list[str | tuple[str, str]] = []
    for piece in pieces(text, names):
        if piece.user_id is None:
            parts.append(visible(piece.text, multiline=multiline))
        else:
            parts.append((visible(piece.text), MENTION_STYLE))
    return Content.assemble(*parts)

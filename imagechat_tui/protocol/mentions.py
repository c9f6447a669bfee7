"""Mentions in comment text (docs/protocol.md, "Mentions and notifications").

A mention is a token `<@USER_ID>` in the comment's text: the text is the one place it is stored,
so the mentions of a comment can never disagree with what it says, an edit changes them as it
changes the text, and a client that knows nothing of mentions still shows something readable.
Viewers show a token as `@` and the user's current name, looked up by id, so it survives renames.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

MENTION = re.compile(r"<@([^<>\s]{1,200})>")
"""A user id without whitespace or angle brackets, at most as long as a stored id."""
_CUT_TOKEN = re.compile(r"<@[^<>\s]{0,200}$")


def mention_token(user_id: str) -> str:
    """What a client writes into the text to mention `user_id`; ValueError if it can't be mentioned."""
    if not mentionable(user_id):
        raise ValueError("user ids with whitespace or angle brackets can't be mentioned")
    return f"<@{user_id}>"


def mentionable(user_id: str) -> bool:
    return MENTION.fullmatch(f"<@{user_id}>") is not None


def mentioned_ids(text: str) -> list[str]:
    """The ids the text mentions, each once, in the order they first appear."""
    return list(dict.fromkeys(MENTION.findall(text)))


@dataclass(frozen=True, slots=True)
class Piece:
    """A run of a comment's text: plain text, or a mention (its id and the name to show)."""

    text: str
    user_id: str | None = None


def pieces(text: str, names: Mapping[str, str]) -> Iterator[Piece]:
    """`text` cut into plain runs and mentions, each mention as `@Name` by the user's current name
    (`@` and the id when the name is unknown). Names are untrusted: the viewer sanitises them."""
    start = 0
    for match in MENTION.finditer(text):
        if match.start() > start:
            yield Piece(text[start:match.start()])
        user_id = match.group(1)
        yield Piece("@" + names.get(user_id, user_id), user_id)
        start = match.end()
    if start < len(text):
        yield Piece(text[start:])


def shown(text: str, names: Mapping[str, str]) -> str:
    """`text` with each mention as `@Name`."""
    return "".join(piece.text for piece in pieces(text, names))


def excerpt(text: str, length: int) -> str:
    """The first `length` characters of `text`, without a mention token cut in half at the end."""
    if len(text) <= length:
        return text
    return _CUT_TOKEN.sub("", text[:length])


def with_tokens(text: str, names: Mapping[str, str]) -> str:
    """`text` as typed, each `@Name` of someone in `names` (id -> name) made their token: the inverse
    of `shown`. A name two people share is left as typed (it can't say whom); longer names first,
    so that `@Ana Lima` is not taken for `@Ana`."""
    ids_by_name: dict[str, list[str]] = {}
    for user_id, name in names.items():
        if mentionable(user_id) and name.strip():
            ids_by_name.setdefault(name, []).append(user_id)
    unique = {name: ids[0] for name, ids in ids_by_name.items() if len(ids) == 1}
    if not unique:
        return text
    pattern = re.compile("@(" + "|".join(re.escape(n) for n in sorted(unique, key=len, reverse=True)) + r")(?!\w)")
    return pattern.sub(lambda match: mention_token(unique[match.group(1)]), text)


def completions(prefix: str, names: Mapping[str, str], limit: int = 5) -> list[tuple[str, str]]:
    """(id, name) of the people whose name starts with `prefix` (any case), by name."""
    folded = prefix.casefold()
    found = [(user_id, name) for user_id, name in names.items()
             if mentionable(user_id) and name.casefold().startswith(folded)]
    return sorted(found, key=lambda person: (person[1].casefold(), person[0]))[:limit]

"""Threads as people read them: replies under what they answer, relative times, Markdown export."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

from ..protocol.mentions import shown
from ..protocol.models import Comment, Marker
from ..protocol.safe import visible
from .numbers import number_text


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def relative_time(value: str, now: datetime) -> str:
    seconds = max(0, int((now - parse_time(value)).total_seconds()))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return "just now"


def threaded(marker: Marker) -> Iterator[tuple[int, Comment]]:
    """Comments in reading order with their depth: each reply right under what it answers."""
    children: dict[str | None, list[Comment]] = {}
    ids = {c.id for c in marker.comments}
    for comment in marker.comments:
        parent = comment.parent_id if comment.parent_id in ids else None
        children.setdefault(parent, []).append(comment)

    def walk(parent: str | None, depth: int) -> Iterator[tuple[int, Comment]]:
        for comment in children.get(parent, ()):
            yield depth, comment
            yield from walk(comment.id, depth + 1)

    return walk(None, 0)


def last_activity(marker: Marker) -> str:
    times = [marker.created_at, *(c.edited_at or c.created_at for c in marker.comments)]
    return max(times, key=parse_time)


def as_markdown(marker: Marker, link: str, names: Mapping[str, str] | None = None) -> str:
    """The thread as Markdown for the clipboard, headed by the link that opens it. A comment of
    several lines is kept as a quoted block under its author. Text is sanitised like everything
    shown; mentions are written `@Name`, by `names` (the tenant's people, id -> current name)."""
    lines = [f"`{link}`", "",
             f"## Marker {number_text(marker.number)} ({marker.status}) at {marker.x:g}%, {marker.y:g}%", ""]
    for depth, comment in threaded(marker):
        indent = "  " * depth
        text = "*(deleted)*" if comment.deleted else visible(shown(comment.text, names or {}), multiline=True).strip()
        edited = " (edited)" if comment.edited_at else ""
        head = f"{indent}- **{visible(comment.user.name)}** ({comment.created_at}{edited}):"
        if "\n" not in text:
            lines.append(f"{head} {text}")
            continue
        lines.append(head)
        lines += [f"{indent}  > {line}".rstrip() for line in text.split("\n")]
    return "\n".join(lines) + "\n"


def utc_now() -> datetime:
    return datetime.now(UTC)

"""Who is notified of a write, and why: the one place of these rules (pure; the store gathers the
facts inside the write's transaction and stores what this decides).

A user is told of a reply to their comment, of a new comment on a marker they created or commented
on, of a mention, and of their marker resolved or reopened; never of their own writes. Each user
gets at most one notification per write, the first kind that applies of mention, reply, comment.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..protocol.models import NotificationKind

Action = Literal["comment", "edit", "resolved", "reopened"]
"""`comment`: a new comment (or a new marker's first one); `edit`: a comment's text changed."""


@dataclass(frozen=True, slots=True)
class Occasion:
    """The facts of one write that the rules look at."""

    actor: str
    action: Action
    marker_creator: str
    commenters: Collection[str] = ()
    """Who wrote the marker's comments before this write (deleted ones aside)."""
    parent_author: str | None = None
    """The author of the comment replied to."""
    mentioned: Sequence[str] = field(default_factory=tuple)
    """The ids the write mentions anew (an edit: only those its old text did not)."""


def recipients(o: Occasion) -> dict[str, NotificationKind]:
    """Who is notified of the write, and of what, in a stable order (mentions first)."""
    told: dict[str, NotificationKind] = {}

    def tell(user: str | None, kind: NotificationKind) -> None:
        if user is not None and user != o.actor and user not in told:
            told[user] = kind

    for user in o.mentioned:
        tell(user, "mention")
    if o.action == "comment":
        tell(o.parent_author, "reply")
        tell(o.marker_creator, "comment")
        for user in sorted(o.commenters):
            tell(user, "comment")
    elif o.action == "resolved":
        tell(o.marker_creator, "resolved")
    elif o.action == "reopened":
        tell(o.marker_creator, "reopened")
    return told

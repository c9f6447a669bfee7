"""How each event changes an image's markers: the rules the server writes to its database and
clients replay on their state, kept here once so that both end identical (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .events import AnyEvent, Change, DeletedImage, DeletedImageChat, NewImageChat
from .models import Comment, Marker, MarkerPosition, PatchChat


def patched(marker: Marker, patch: PatchChat) -> MarkerPosition:
    """A marker's place and status after `patch`: what it gives replaces, the rest stays."""
    position = MarkerPosition(id=marker.id, x=marker.x, y=marker.y, status=marker.status)
    return position.model_copy(update=patch.model_dump(include={"status", "x", "y"}, exclude_none=True))


def patch_change(patch: PatchChat) -> Change:
    """The change a PATCH is published as: a move (which carries the status too) or a status change."""
    return "moved" if patch.x is not None or patch.y is not None else "status"


def edited(comment: Comment, text: str, at: str) -> Comment:
    return comment.model_copy(update={"text": text, "edited_at": at})


def tombstone(comment: Comment) -> Comment:
    """What stays of a deleted comment that has replies, and what a `comment-deleted` event carries."""
    return comment.model_copy(update={"text": "", "deleted": True})


class Link(Protocol):
    """What the tombstone rule needs of a comment (a `Comment`, or the server's row of one)."""

    @property
    def id(self) -> str: ...
    @property
    def parent_id(self) -> str | None: ...
    @property
    def deleted(self) -> bool: ...


def removed_by_delete(thread: Sequence[Link], comment_id: str) -> set[str]:
    """The comments that deleting `comment_id` removes from its marker's thread: none if it has
    replies (it stays as a tombstone); else it, and every tombstoned ancestor it leaves without
    replies."""
    by_id = {c.id: c for c in thread}
    if comment_id not in by_id or any(c.parent_id == comment_id for c in thread):
        return set()
    gone = {comment_id}
    parent = by_id[comment_id].parent_id
    while parent in by_id and by_id[parent].deleted and not any(
        c.parent_id == parent and c.id not in gone for c in thread
    ):
        gone.add(parent)
        parent = by_id[parent].parent_id
    return gone


def delete_comment(thread: Sequence[Comment], comment_id: str) -> list[Comment]:
    """The thread after `comment_id` is deleted (`removed_by_delete`, or else its tombstone)."""
    gone = removed_by_delete(thread, comment_id)
    if gone:
        return [c for c in thread if c.id not in gone]
    return [tombstone(c) if c.id == comment_id else c for c in thread]


def apply_event(markers: dict[str, Marker], event: AnyEvent) -> None:
    """Apply `event` to `markers` in place. Idempotent: applying it twice changes nothing more."""
    if isinstance(event, DeletedImage):
        markers.clear()
    elif isinstance(event, NewImageChat):
        markers[event.marker_id] = event.marker.model_copy(deep=True)
    elif isinstance(event, DeletedImageChat):
        markers.pop(event.marker_id, None)
    else:
        marker = markers.get(event.marker_id)
        if marker is None:
            return
        if event.marker is not None:
            marker.x, marker.y, marker.status = event.marker.x, event.marker.y, event.marker.status
        elif event.comment is not None:
            _apply_comment(marker, event.change, event.comment)


def _apply_comment(marker: Marker, change: str, comment: Comment) -> None:
    if change == "comment-deleted":
        marker.comments = delete_comment(marker.comments, comment.id)
        return
    index = next((i for i, c in enumerate(marker.comments) if c.id == comment.id), None)
    if index is None:
        marker.comments.append(comment.model_copy())
    else:
        marker.comments[index] = comment.model_copy()

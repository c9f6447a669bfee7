"""One image's markers as the server had them at `seq`, and how each event changes them (pure)."""

from __future__ import annotations

from ..protocol.events import DeletedImageChat, ImageChatUpdated, NewImageChat
from ..protocol.models import Comment, Marker

AnyEvent = NewImageChat | ImageChatUpdated | DeletedImageChat


def apply_event(markers: dict[str, Marker], event: AnyEvent) -> None:
    """Apply `event` to `markers` in place. Idempotent: applying it twice changes nothing more."""
    if isinstance(event, NewImageChat):
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
    index = next((i for i, c in enumerate(marker.comments) if c.id == comment.id), None)
    if change == "comment-deleted":
        if index is not None:
            remove_comment(marker, comment.id)
    elif index is None:
        marker.comments.append(comment.model_copy())
    else:
        marker.comments[index] = comment.model_copy()


def remove_comment(marker: Marker, comment_id: str) -> None:
    """A comment with replies becomes a tombstone; one without is removed, with any tombstoned
    ancestors it leaves without replies (the server applies the same rule)."""
    by_id = {c.id: c for c in marker.comments}
    if any(c.parent_id == comment_id for c in marker.comments):
        by_id[comment_id] = by_id[comment_id].model_copy(update={"text": "", "deleted": True})
        marker.comments = [by_id[c.id] for c in marker.comments]
        return
    gone = set()
    current: str | None = comment_id
    while current is not None and current in by_id:
        gone.add(current)
        parent = by_id[current].parent_id
        orphan = (
            parent is not None
            and parent in by_id
            and by_id[parent].deleted
            and not any(c.parent_id == parent and c.id not in gone for c in marker.comments)
        )
        current = parent if orphan else None
    marker.comments = [c for c in marker.comments if c.id not in gone]


class ImageState:
    """The confirmed state of one image: exactly the server's at `seq`."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.seq = 0
        self.loaded = False
        self.markers: dict[str, Marker] = {}

    def load(self, seq: int, markers: list[Marker]) -> int:
        """Replace everything with a snapshot; the number of markers that differ."""
        new = {m.id: m for m in markers}
        changed = sum(1 for k, m in new.items() if self.markers.get(k) != m)
        changed += sum(1 for k in self.markers if k not in new)
        self.markers, self.seq, self.loaded = new, seq, True
        return changed

    def apply(self, event: AnyEvent) -> None:
        apply_event(self.markers, event)
        self.seq = event.seq

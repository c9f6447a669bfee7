"""The user's unread markers of one image, as the engine keeps them (pure; docs/protocol.md,
"Unread markers").

Three sources meet here. The server's answer to `GET /images/{key}/unread` is exact as of its seq;
events applied after it change what it said (a comment by someone else makes its marker unread, one
of the user's own marks it read, a deleted marker goes); read marks come from this client at once
(optimistic, before its POST answers) and from `markers-read` frames of any of the user's viewers.
Read positions are remembered, so an answer or an event that is older than a read mark never brings
a marker back; a mark whose POST failed is forgotten, so the next load shows the marker again.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..protocol.events import AnyEvent, DeletedImage, DeletedImageChat, ImageChatUpdated, NewImageChat
from ..protocol.models import ReadPosition, UnreadMarkers


class UnreadBook:
    def __init__(self) -> None:
        self.unread: dict[str, int] = {}
        """Marker id -> the seq of its newest comment the user has not read."""
        self.seq: int | None = None
        """The image seq of the last answer loaded (None: none yet)."""
        self._read: dict[str, int] = {}
        """Marker id -> how far the user has read it, as the server confirmed (frames, answers)."""
        self._reading: dict[str, int] = {}
        """This client's own read marks whose POST has not answered yet."""

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self.unread)

    def load(self, answer: UnreadMarkers) -> bool:
        """The server's answer; True if what is unread changed. Markers made unread by events newer
        than the answer stay; an answer older than one loaded already is dropped (two loads crossed)."""
        if self.seq is not None and answer.seq < self.seq:
            return False
        merged = {p.marker_id: p.seq for p in answer.markers if not self._has_read(p.marker_id, p.seq)}
        for marker_id, seq in self.unread.items():
            if seq > answer.seq:
                merged[marker_id] = max(seq, merged.get(marker_id, 0))
        self.seq = answer.seq
        return self._set(merged)

    def applied(self, event: AnyEvent, me: str | None) -> bool:
        """An event of the image, applied in seq order; True if what is unread changed."""
        if isinstance(event, DeletedImage):
            return self._set({})
        if isinstance(event, DeletedImageChat):
            return self._set({k: v for k, v in self.unread.items() if k != event.marker_id})
        if isinstance(event, NewImageChat):
            author = event.marker.comments[0].user.id if event.marker.comments else event.marker.created_by.id
        elif isinstance(event, ImageChatUpdated) and event.change == "comment-added" and event.comment is not None:
            author = event.comment.user.id
        else:
            return False  # edits, moves, status changes and deleted comments make nothing unread
        if self.seq is not None and event.seq <= self.seq:
            return False  # the loaded answer counted it already
        if me is not None and author == me:  # writing on a marker reads it, for the writer
            return self.read([ReadPosition(marker_id=event.marker_id, seq=event.seq)])
        if self._has_read(event.marker_id, event.seq):
            return False
        return self._set({**self.unread, event.marker_id: max(event.seq, self.unread.get(event.marker_id, 0))})

    def read(self, positions: Iterable[ReadPosition]) -> bool:
        """Read positions confirmed by the server (a `markers-read` frame, a POST's answer): a marker
        stays unread only for a comment newer than its position."""
        unread = dict(self.unread)
        for position in positions:
            self._read[position.marker_id] = max(position.seq, self._read.get(position.marker_id, 0))
            if unread.get(position.marker_id, 0) <= position.seq:
                unread.pop(position.marker_id, None)
        return self._set(unread)

    def mark(self, marker_id: str, seq: int) -> bool:
        """The user read `marker_id` with the image applied up to `seq`: it stops being unread at once,
        if that covers its newest unread comment. True if it did (the caller then POSTs the mark)."""
        if marker_id not in self.unread or self.unread[marker_id] > seq:
            return False
        self._reading[marker_id] = max(seq, self._reading.get(marker_id, 0))
        return self._set({k: v for k, v in self.unread.items() if k != marker_id})

    def marked(self, marker_id: str, seq: int, saved: bool) -> None:
        """The POST of `mark` answered: saved, the position is the server's; failed, it is forgotten,
        so that the next load brings the marker back (no write is queued)."""
        if self._reading.get(marker_id) == seq:
            del self._reading[marker_id]
        if saved:
            self._read[marker_id] = max(seq, self._read.get(marker_id, 0))

    def _has_read(self, marker_id: str, seq: int) -> bool:
        return seq <= max(self._read.get(marker_id, -1), self._reading.get(marker_id, -1))

    def _set(self, unread: dict[str, int]) -> bool:
        changed = unread != self.unread
        self.unread = unread
        return changed

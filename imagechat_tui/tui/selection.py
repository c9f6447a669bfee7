"""The viewer's selection and stepping through markers and comments: rules without a UI."""

from __future__ import annotations

from collections.abc import Collection

from ..protocol.models import Comment, Marker
from .numbers import number_text
from .threads import threaded


class Selection:
    """The markers in display order, the selected marker and comment."""

    def __init__(self) -> None:
        self.markers: list[Marker] = []
        self.marker_id: str | None = None
        self.comment_id: str | None = None

    def update(self, markers: list[Marker]) -> None:
        """New markers from the engine; a selection that is gone is dropped, and an open thread
        keeps a selected comment (its first, if the selected one went)."""
        self.markers = markers
        if self.marker is None:
            self.marker_id = self.comment_id = None
        marker = self.marker
        if marker is not None and self.comment is None:
            self.comment_id = marker.comments[0].id if marker.comments else None

    @property
    def marker(self) -> Marker | None:
        return next((m for m in self.markers if m.id == self.marker_id), None)

    @property
    def comment(self) -> Comment | None:
        marker = self.marker
        return next((c for c in marker.comments if c.id == self.comment_id), None) if marker else None

    def label(self, marker_id: str) -> str:
        """A marker's number as shown (the server's, stable)."""
        return number_text(next((m.number for m in self.markers if m.id == marker_id), None))

    def by_number(self, number: int) -> Marker | None:
        return next((m for m in self.markers if m.number == number), None)

    def select(self, marker_id: str | None) -> None:
        """Select a marker (which may arrive with the next `update`, as a new one does), at its first comment."""
        self.marker_id = marker_id
        marker = self.marker
        self.comment_id = marker.comments[0].id if marker and marker.comments else None

    def step_marker(self, step: int, only_open: bool = False, among: Collection[str] | None = None) -> bool:
        """Select the next (step 1) or previous (-1) marker, open ones only if asked, or only those
        `among` some ids (the unread ones), wrapping around; False when there is none to go to."""
        markers = self.markers
        candidates = {m.id for m in markers
                      if (not only_open or m.status == "open") and (among is None or m.id in among)}
        if not candidates:
            return False
        ids = [m.id for m in markers]
        start = ids.index(self.marker_id) if self.marker_id in ids else (-1 if step > 0 else 0)
        for offset in range(1, len(ids) + 1):
            candidate = ids[(start + step * offset) % len(ids)]
            if candidate in candidates:
                self.select(candidate)
                return True
        return False

    def step_comment(self, step: int) -> bool:
        """Move through the open thread in reading order, stopping at its ends; False if nothing moved."""
        marker = self.marker
        order = [c.id for _, c in threaded(marker)] if marker else []
        if not order:
            return False
        index = order.index(self.comment_id) if self.comment_id in order else 0
        target = order[max(0, min(len(order) - 1, index + step))]
        moved, self.comment_id = target != self.comment_id, target
        return moved

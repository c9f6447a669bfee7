"""One image's markers as the server had them at `seq` (pure; how each event changes them is
`protocol.changes`, shared with the server)."""

from __future__ import annotations

from ..protocol.changes import apply_event
from ..protocol.events import AnyEvent
from ..protocol.models import Marker


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

"""The viewer's heap after start-up: Python's collector never walks it again."""

from __future__ import annotations

import gc


def settle() -> None:
    """Called once the modules are imported, before the viewer runs: what lives now (classes,
    functions, Textual's and pydantic's tables, well over 100,000 objects) lives as long as the
    process. A full collection walks every object; over that heap it took 0.1-0.3 s on a busy
    machine and struck at random, often in the middle of opening an image. Frozen, the objects are
    left out of every collection; the garbage is collected first, so none of it is kept."""
    gc.collect()
    gc.freeze()

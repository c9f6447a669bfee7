"""How a marker's number reads everywhere (badges, the list, threads, notices, exports): the one the
server gave it, stable across deletions; a marker the server has not acknowledged yet has none."""

from __future__ import annotations

PENDING = "…"
"""Shown for a marker placed here and not yet numbered by the server."""


def number_text(number: int | None) -> str:
    return PENDING if number is None else str(number)


def number_order(number: int | None) -> float:
    """Sorts numbered markers by number, pending ones after them."""
    return float("inf") if number is None else number

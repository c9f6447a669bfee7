"""Who may change what: one rule, applied by the server and foreseen by clients."""

from __future__ import annotations

from .models import Role

MODERATING: tuple[Role, ...] = ("moderator", "admin")


def may_change(role: Role, user_id: str, owner_id: str) -> bool:
    """Editing or deleting a comment, moving or deleting a marker: its author (for a marker, its
    creator), or a moderator or admin."""
    return role in MODERATING or user_id == owner_id

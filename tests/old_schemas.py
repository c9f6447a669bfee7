"""Taking a current database back to an older schema version, for the migration tests: each step
undoes one migration of `schema.MIGRATIONS`, the newest first."""

from __future__ import annotations

from sqlalchemy import text, update
from sqlalchemy.engine import Connection

from imagechat_tui.server.schema import (
    images_inbox,
    images_read,
    markers_by_number,
    meta,
    notifications,
    notifications_by_reader,
    participants,
    read_positions,
)


def back_to_version_5(conn: Connection) -> None:
    """Undo 5 → 6: no read positions, no notification seqs."""
    images_read.drop(conn)
    read_positions.drop(conn)  # with its indexes
    notifications_by_reader.drop(conn)
    conn.execute(text("ALTER TABLE notifications DROP COLUMN seq"))
    _record(conn, 5)


def back_to_version_4(conn: Connection) -> None:
    """Undo 4 → 5 (after 5 → 6): no notifications."""
    back_to_version_5(conn)
    notifications.drop(conn)  # with its indexes
    _record(conn, 4)


def back_to_version_3(conn: Connection) -> None:
    """Undo 3 → 4 (after 4 → 5): no inbox summaries, participants or comment search."""
    back_to_version_4(conn)
    if conn.dialect.name == "sqlite":
        for trigger in ("comment_text_insert", "comment_text_update", "comment_text_delete", "comment_docs_image"):
            conn.execute(text(f"DROP TRIGGER {trigger}"))
        conn.execute(text("DROP TABLE comment_text"))
        conn.execute(text("DROP TABLE comment_docs"))
    else:
        conn.execute(text("ALTER TABLE comments DROP COLUMN search"))  # its index goes with it
    participants.drop(conn)
    images_inbox.drop(conn)
    for column in ("open_count", "resolved_count", "last_activity_at", "last_comment_id"):
        conn.execute(text(f"ALTER TABLE images DROP COLUMN {column}"))
    _record(conn, 3)


def back_to_version_2(conn: Connection) -> None:
    """Undo 2 → 3 (after 3 → 4): no marker numbers, no per-image counters, no upload names."""
    back_to_version_3(conn)
    markers_by_number.drop(conn)
    conn.execute(text("ALTER TABLE markers DROP COLUMN number"))
    conn.execute(text("ALTER TABLE images DROP COLUMN last_number"))
    conn.execute(text("ALTER TABLE image_files DROP COLUMN name"))
    _record(conn, 2)


def _record(conn: Connection, version: int) -> None:
    conn.execute(update(meta).where(meta.c.key == "schema_version").values(value=str(version)))

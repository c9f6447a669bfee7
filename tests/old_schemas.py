"""Taking a current database back to an older schema version, for the migration tests: each step
undoes one migration of `schema.MIGRATIONS`, the newest first."""

from __future__ import annotations

from sqlalchemy import text, update
from sqlalchemy.engine import Connection

from imagechat_tui.server.schema import markers_by_number, meta


def back_to_version_2(conn: Connection) -> None:
    """Undo 2 → 3: no marker numbers, no per-image counters, no upload names."""
    markers_by_number.drop(conn)
    conn.execute(text("ALTER TABLE markers DROP COLUMN number"))
    conn.execute(text("ALTER TABLE images DROP COLUMN last_number"))
    conn.execute(text("ALTER TABLE image_files DROP COLUMN name"))
    _record(conn, 2)


def _record(conn: Connection, version: int) -> None:
    conn.execute(update(meta).where(meta.c.key == "schema_version").values(value=str(version)))

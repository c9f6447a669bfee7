"""Database tables, engine creation and the schema version check (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection

SCHEMA_VERSION = 6
MIGRATION_LOCK = 0x696D6763  # "imgc": the PostgreSQL advisory lock every process's `prepare` takes

metadata = MetaData()

meta = Table("meta", metadata, Column("key", String(64), primary_key=True), Column("value", Text, nullable=False))

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", String(32), nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("tenant_id", String(40), ForeignKey("tenants.id"), nullable=False),
    Column("user_id", String(200), nullable=False),
    Column("user_name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32)),
    # Bumped on revocation so that live servers can poll for "revoked since N" cheaply.
    Column("revision", BigInteger, nullable=False, default=0),
)
Index("tokens_revision", tokens.c.revision)

images = Table(
    "images",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(40), ForeignKey("tenants.id"), nullable=False),
    # Keys may be long and non-ASCII: the unique index is on their digest.
    Column("key_hash", String(64), nullable=False),
    Column("key", Text, nullable=False),
    Column("seq", BigInteger, nullable=False, default=0),
    # Version 3: the highest marker number ever given on the image. It never goes down, so that a
    # number, once quoted in a ticket, names one marker for good.
    Column("last_number", BigInteger, nullable=False, default=0, server_default="0"),
    # Version 4: the image's inbox summary, kept by every write in its own transaction, so that
    # the inbox reads one row per image instead of aggregating its markers and comments.
    Column("open_count", Integer, nullable=False, default=0, server_default="0"),
    Column("resolved_count", Integer, nullable=False, default=0, server_default="0"),
    Column("last_activity_at", String(32)),  # of the last write; None until the first
    Column("last_comment_id", String(40)),  # the newest comment not deleted; None if none
)
Index("images_tenant_key", images.c.tenant_id, images.c.key_hash, unique=True)
images_inbox = Index("images_inbox", images.c.tenant_id, images.c.last_activity_at, images.c.id)

markers = Table(
    "markers",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("image_id", Integer, ForeignKey("images.id"), nullable=False, index=True),
    Column("x", Float, nullable=False),
    Column("y", Float, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("created_by_id", String(200), nullable=False),
    Column("created_by_name", String(200), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("number", Integer, nullable=False),  # version 3: per image, from 1, never reused
)
markers_by_number = Index("markers_image_number", markers.c.image_id, markers.c.number, unique=True)

comments = Table(
    "comments",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("marker_id", String(40), ForeignKey("markers.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("parent_id", String(40)),
    Column("user_id", String(200), nullable=False),
    Column("user_name", String(200), nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("edited_at", String(32)),
    Column("deleted", Boolean, nullable=False, default=False),
    # The image seq that created the comment: a total order of a thread that timestamps can't give.
    Column("seq", BigInteger, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("image_id", Integer, ForeignKey("images.id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("body", Text, nullable=False),
)

receipts = Table(
    "receipts",
    metadata,
    Column("tenant_id", String(40), primary_key=True),
    Column("user_id", String(200), primary_key=True),
    Column("broadcast_id", String(36), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", String(32), nullable=False, index=True),
)

# Version 2: uploaded image bytes, per tenant, keyed by their SHA-256. In the database, so that
# every server process over PostgreSQL serves the same images (README: "Images on the server").
image_files = Table(
    "image_files",
    metadata,
    Column("tenant_id", String(40), ForeignKey("tenants.id"), primary_key=True),
    Column("key", String(71), primary_key=True),  # sha256:<64 hex>
    Column("size", BigInteger, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("format", String(8), nullable=False),
    Column("source", Text),
    # Version 3: the file's base name, given at upload. Here, with `source`, because both are what the
    # uploader said about these bytes, and only an upload can say it (an `images` row exists for
    # every key that has had a conversation, legacy URL keys included).
    Column("name", String(255)),
    Column("uploaded_by_id", String(200), nullable=False),
    Column("uploaded_by_name", String(200), nullable=False),
    Column("uploaded_at", String(32), nullable=False),
    Column("thumbnail", LargeBinary, nullable=False),
    Column("content", LargeBinary, nullable=False),
)

# Version 4: who created a marker or wrote a comment on an image (the inbox's "mine"), with the
# image's last activity copied, so that one index walks a user's images newest first.
participants = Table(
    "participants",
    metadata,
    Column("image_id", Integer, ForeignKey("images.id"), primary_key=True),
    Column("user_id", String(200), primary_key=True),
    Column("tenant_id", String(40), nullable=False),
    Column("last_activity_at", String(32), nullable=False),
)
Index("participants_inbox", participants.c.tenant_id, participants.c.user_id, participants.c.last_activity_at,
      participants.c.image_id)

# Version 5: each user's notifications of other people's writes, made in the write's transaction.
# The image key, name and marker number are read through `image_id` and stored `marker_number`; the
# comment's excerpt is kept (and goes with the comment or marker when they are deleted).
notifications = Table(
    "notifications",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("tenant_id", String(40), nullable=False),
    Column("user_id", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("image_id", Integer, ForeignKey("images.id"), nullable=False),
    Column("marker_id", String(40), nullable=False),
    Column("marker_number", Integer, nullable=False),
    Column("comment_id", String(40)),
    Column("by_id", String(200), nullable=False),
    Column("by_name", String(200), nullable=False),
    Column("excerpt", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("read", Boolean, nullable=False, default=False),
    # Version 6: the seq of the write that made it, so that reading its marker up to a seq marks it read.
    Column("seq", BigInteger, nullable=False, default=0, server_default="0"),
)
# A user's list, newest first, by keyset on id; and what goes when a marker or comment is deleted.
notifications_by_user = Index("notifications_user", notifications.c.tenant_id, notifications.c.user_id,
                              notifications.c.id)
notifications_by_marker = Index("notifications_marker", notifications.c.marker_id)
# Version 6: a user's notifications about a marker, marked read with it (by marker and user, the
# marker's index alone walked every notification of a busy marker, 50 per comment).
notifications_by_reader = Index("notifications_reader", notifications.c.tenant_id, notifications.c.user_id,
                                notifications.c.marker_id)

# Version 6: how far each user has read each marker (docs/protocol.md, "Unread markers"): a seq of
# its image. The rows go with their marker (ON DELETE CASCADE, whatever deletes it).
read_positions = Table(
    "read_positions",
    metadata,
    Column("tenant_id", String(40), primary_key=True),
    Column("user_id", String(200), primary_key=True),
    Column("marker_id", String(40), ForeignKey("markers.id", ondelete="CASCADE"), primary_key=True),
    Column("image_id", Integer, ForeignKey("images.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
)
# The cascade's lookup, and a user's positions on one image.
Index("read_positions_marker", read_positions.c.marker_id)
Index("read_positions_image", read_positions.c.tenant_id, read_positions.c.user_id, read_positions.c.image_id)

# Version 6: a user had read the whole image when its newest comment was `last_comment_id`. While that
# is still the image's newest comment, nothing on it is unread for the user: `filter=unread` skips
# the image by one lookup instead of looking at its markers (reads.py says when a row is written).
images_read = Table(
    "images_read",
    metadata,
    Column("tenant_id", String(40), primary_key=True),
    Column("user_id", String(200), primary_key=True),
    Column("image_id", Integer, ForeignKey("images.id"), primary_key=True),
    Column("last_comment_id", String(40), nullable=False),
)

usage = Table(
    "usage",
    metadata,
    Column("tenant_id", String(40), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)


class SchemaError(RuntimeError):
    """The database belongs to a newer server, or is not an Image Chat database."""


def _add_image_files(conn: Connection) -> None:
    image_files.create(conn)


def _numbers_and_names(conn: Connection) -> None:
    """Version 3: marker numbers, and the file names of uploads."""
    _number_markers(conn)
    # Step 1 → 2 makes image_files as defined today, with `name` already.
    if "name" not in {column["name"] for column in inspect(conn).get_columns("image_files")}:
        conn.execute(text("ALTER TABLE image_files ADD COLUMN name VARCHAR(255)"))


def _number_markers(conn: Connection) -> None:
    """Give every marker its number, per image in the order they were placed (seq), and each
    image its counter. SQLite can't make an added column NOT NULL; PostgreSQL is told after."""
    conn.execute(text("ALTER TABLE images ADD COLUMN last_number BIGINT NOT NULL DEFAULT 0"))
    conn.execute(text("ALTER TABLE markers ADD COLUMN number INTEGER"))
    placed = func.row_number().over(partition_by=markers.c.image_id, order_by=(markers.c.seq, markers.c.id))
    ranked = select(markers.c.id, placed.label("number")).subquery()
    conn.execute(markers.update().where(markers.c.id == ranked.c.id).values(number=ranked.c.number))
    highest = select(func.coalesce(func.max(markers.c.number), 0)).where(markers.c.image_id == images.c.id)
    conn.execute(images.update().values(last_number=highest.scalar_subquery()))
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE markers ALTER COLUMN number SET NOT NULL"))
    markers_by_number.create(conn)


def _add_inbox(conn: Connection) -> None:
    """The inbox's summary columns, participants and comment search, filled for what is there."""
    # Imported here: both build on this module's tables.
    from .search import search_for
    from .summary import fill_summaries

    for column in ("open_count INTEGER NOT NULL DEFAULT 0", "resolved_count INTEGER NOT NULL DEFAULT 0",
                   "last_activity_at VARCHAR(32)", "last_comment_id VARCHAR(40)"):
        conn.execute(text(f"ALTER TABLE images ADD COLUMN {column}"))
    images_inbox.create(conn)
    participants.create(conn)
    fill_summaries(conn)
    search_for(conn.dialect.name).install(conn)


def _add_notifications(conn: Connection) -> None:
    notifications.create(conn)  # with its indexes


def _add_read_positions(conn: Connection) -> None:
    """Read positions, as if writes had always marked their marker read for the writer (each user's
    newest comment on a marker), which also says which images they had read whole; and the seq of
    each notification: its comment's, else 0 (a status change, read once its marker is read at all)."""
    from .reads import seed_read_positions  # it builds on this module's tables

    # Step 4 → 5 makes notifications as defined today, with `seq` already.
    if "seq" not in {column["name"] for column in inspect(conn).get_columns("notifications")}:
        conn.execute(text("ALTER TABLE notifications ADD COLUMN seq BIGINT NOT NULL DEFAULT 0"))
    made = select(comments.c.seq).where(comments.c.id == notifications.c.comment_id).scalar_subquery()
    conn.execute(notifications.update().where(notifications.c.comment_id.is_not(None))
                 .values(seq=func.coalesce(made, 0)))
    if "notifications_reader" not in {index["name"] for index in inspect(conn).get_indexes("notifications")}:
        notifications_by_reader.create(conn)
    read_positions.create(conn)  # with its indexes
    images_read.create(conn)
    seed_read_positions(conn)


def _create(conn: Connection) -> None:
    """A fresh schema: the tables, and the comment search (kept by the database, outside them)."""
    from .search import search_for

    metadata.create_all(conn)
    search_for(conn.dialect.name).install(conn)


# Steps from version N to N + 1, each run in the transaction that records the new version.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _add_image_files, 2: _numbers_and_names, 3: _add_inbox,
                                                        4: _add_notifications, 5: _add_read_positions}


def prepare(conn: Connection) -> int:
    """Create a fresh schema, or migrate an older one; refuse one written by a newer server.
    One process at a time, so that processes starting together migrate exactly once: PostgreSQL
    would otherwise let two create the same tables at once (one fails on its catalogue's unique
    index), so they queue on an advisory lock held until the transaction ends; SQLite's writes
    already queue, `Database` beginning them with BEGIN IMMEDIATE, before anything is read."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    inspector = inspect(conn)
    if not inspector.has_table("meta"):
        if inspector.has_table("tenants"):
            raise SchemaError("the database has Image Chat tables but no schema version; refusing to touch it")
        _create(conn)
        conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
        return SCHEMA_VERSION
    version = int(conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar_one())
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"the database has schema version {version}, newer than this server's {SCHEMA_VERSION}: "
            "upgrade imagechat-tui to open it"
        )
    while version < SCHEMA_VERSION:
        MIGRATIONS[version](conn)
        version += 1
    conn.execute(meta.update().where(meta.c.key == "schema_version").values(value=str(version)))
    return version

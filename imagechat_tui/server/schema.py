"""Database tables, engine creation and the schema version check (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    event,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

SCHEMA_VERSION = 1

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
)
Index("images_tenant_key", images.c.tenant_id, images.c.key_hash, unique=True)

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
)

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

usage = Table(
    "usage",
    metadata,
    Column("tenant_id", String(40), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)


class SchemaError(RuntimeError):
    """The database belongs to a newer server, or is not an Image Chat database."""


# Steps from version N to N + 1, run in one transaction each. Empty until version 2 exists.
MIGRATIONS: dict[int, Callable[[AsyncConnection], Awaitable[None]]] = {}


def make_engine(url: str) -> AsyncEngine:
    """An async engine for `url`; SQLite gets WAL, a busy timeout and enforced foreign keys."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        # The driver's own transaction handling never BEGINs before a SELECT, so a read of
        # seq and markers would see two snapshots; SQLAlchemy's documented recipe takes over.
        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN")

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


async def prepare(engine: AsyncEngine) -> int:
    """Create a fresh schema, or migrate an older one; refuse one written by a newer server."""
    async with engine.begin() as conn:
        has_meta = await conn.run_sync(lambda sync: sync.dialect.has_table(sync, "meta"))
        if not has_meta:
            has_any = await conn.run_sync(lambda sync: sync.dialect.has_table(sync, "tenants"))
            if has_any:
                raise SchemaError("the database has Image Chat tables but no schema version; refusing to touch it")
            await conn.run_sync(metadata.create_all)
            await conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
            return SCHEMA_VERSION
        version = int((await conn.execute(select(meta.c.value).where(meta.c.key == "schema_version"))).scalar_one())
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"the database has schema version {version}, newer than this server's {SCHEMA_VERSION}: "
            "upgrade imagechat-tui to open it"
        )
    while version < SCHEMA_VERSION:
        async with engine.begin() as conn:
            await MIGRATIONS[version](conn)
            version += 1
            await conn.execute(meta.update().where(meta.c.key == "schema_version").values(value=str(version)))
    return version

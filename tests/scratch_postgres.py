"""A PostgreSQL database of one test's own on the shared server, dropped at the end: tests of
several sessions run on the same server at once, and must not reset each other's schema."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from .conftest import POSTGRES_URL, services_unavailable


@asynccontextmanager
async def scratch_database(prefix: str = "imagechat_test") -> AsyncIterator[str]:
    """The SQLAlchemy URL of a new, empty database, dropped (connections and all) on the way out."""
    import asyncpg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin_dsn = POSTGRES_URL.replace("postgresql+asyncpg", "postgresql")
    try:
        conn = await asyncio.wait_for(asyncpg.connect(admin_dsn), 5)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        services_unavailable("PostgreSQL")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

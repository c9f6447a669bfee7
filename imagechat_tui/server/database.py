"""Where transactions run: one function on a SQLAlchemy `Connection`, whichever the database.

The SQL is written once, as plain functions of a `Connection`. How a transaction reaches the
database differs, for speed: measured here, SQLAlchemy over aiosqlite costs about 450 µs of CPU
per statement (each one a thread hop), the same statement on the sync pysqlite driver 18 µs. So
SQLite transactions run whole in one dedicated thread (one hop per transaction, and one writer at
a time, which is what SQLite allows anyway); PostgreSQL runs them through the async engine
(asyncpg) with `run_sync`, SQLAlchemy's own bridge for sync code on an async connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import SingletonThreadPool

T = TypeVar("T")


class Database:
    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite:
            self._sync = create_engine(parsed.set(drivername="sqlite"), connect_args={"timeout": 30})
            event.listen(self._sync, "connect", _sqlite_connect)
            event.listen(self._sync, "begin", _sqlite_begin)
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="imagechat-sqlite")
            # For `lookup`: the event loop's own connection, in autocommit (one SELECT is atomic by
            # itself). A WAL reader never waits for a writer; a busy database is given 50 ms before
            # the lookup fails, rather than stall the loop.
            self._inline = create_engine(parsed.set(drivername="sqlite"), poolclass=SingletonThreadPool,
                                         connect_args={"timeout": 0.05}, isolation_level="AUTOCOMMIT")
            event.listen(self._inline, "connect", _sqlite_connect)
            self._inline_conn: Connection | None = None  # opened on first use, kept: checkouts cost more
        else:
            self._async = create_async_engine(parsed, pool_size=10, max_overflow=10, pool_pre_ping=True)

    async def run(self, work: Callable[[Connection], T], *, snapshot: bool = False) -> T:
        """Run `work` in one transaction, committed if it returns, rolled back if it raises.
        With `snapshot`, all its reads see one consistent state."""
        if self.is_sqlite:
            return await asyncio.get_running_loop().run_in_executor(self._thread, self._run_sqlite, work, snapshot)
        async with self._async.connect() as conn:
            if snapshot:
                conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                return await conn.run_sync(work)

    async def lookup(self, work: Callable[[Connection], T]) -> T:
        """One SELECT by index (a token, say). On SQLite it runs right here on the event loop: the
        read takes ~30 µs, the hop to the database thread and back ~600 µs of waiting (measured at
        20 requests a second)."""
        if not self.is_sqlite:
            return await self.run(work, snapshot=True)
        if self._inline_conn is None:
            self._inline_conn = self._inline.connect()
        return work(self._inline_conn)

    def _run_sqlite(self, work: Callable[[Connection], T], snapshot: bool) -> T:
        with self._sync.connect() as conn:
            # A reader needs only WAL's snapshot; a writer takes the write lock up front, so
            # that what it reads before writing can't change under it.
            conn.info["imagechat_begin"] = "BEGIN" if snapshot else "BEGIN IMMEDIATE"
            with conn.begin():
                return work(conn)

    async def dispose(self) -> None:
        if self.is_sqlite:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._sync.dispose)
            self._thread.shutdown(wait=True)
            if self._inline_conn is not None:
                self._inline_conn.close()
            self._inline.dispose()
        else:
            await self._async.dispose()


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling never BEGINs before a SELECT, so one transaction's
    # reads could see two states; SQLAlchemy's documented recipe takes over (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: a commit survives a crash of the process
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql(conn.info.get("imagechat_begin", "BEGIN IMMEDIATE"))

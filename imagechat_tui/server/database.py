"""Where transactions run: one function on a SQLAlchemy `Connection`, whichever the database.

The SQL is written once, as plain functions of a `Connection`. How a transaction reaches the
database differs, for speed: measured here, SQLAlchemy over aiosqlite costs about 450 µs of CPU
per statement (each one a thread hop), the same statement on the sync pysqlite driver 18 µs.

On SQLite, writes run right on the event loop, on a connection of their own: SQLite takes one
writer at a time anyway, a write is ~0.7 ms of work that holds the GIL either way, and the hop to
a thread and back cost ~0.45 ms of waiting per write at 20 writes a second. Nothing on the loop
waits for the disk or a lock: the write connection never checkpoints the WAL (`checkpoint` does,
in the thread), and a write that finds the database locked (another process writing) goes to the
thread, which waits its turn. Reads that see one snapshot run in that thread too, so that a big
one never stalls the loop. PostgreSQL runs everything through the async engine (asyncpg) with
`run_sync`, SQLAlchemy's own bridge for sync code on an async connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import SingletonThreadPool

T = TypeVar("T")


class Database:
    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite:
            self._sync = _sqlite_engine(parsed, timeout=30)
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="imagechat-sqlite")
            # For `lookup`: the event loop's own connection, in autocommit (one SELECT is atomic by
            # itself). A WAL reader never waits for a writer; a busy database is given 50 ms before
            # the lookup fails, rather than stall the loop.
            self._inline = _sqlite_engine(parsed, timeout=0.05, autocommit=True, poolclass=SingletonThreadPool)
            self._inline_conn: Connection | None = None  # opened on first use, kept: checkouts cost more
            # For writes on the loop: no busy wait (a locked database sends the write to the thread).
            self._writer = _sqlite_engine(parsed, timeout=0, poolclass=SingletonThreadPool)
            event.listen(self._writer, "connect", _no_autocheckpoint)
            self._writer_conn: Connection | None = None
        else:
            self._async = create_async_engine(parsed, pool_size=10, max_overflow=10, pool_pre_ping=True)

    async def run(self, work: Callable[[Connection], T], *, snapshot: bool = False, bulky: bool = False) -> T:
        """Run `work` in one transaction, committed if it returns, rolled back if it raises.
        With `snapshot`, all its reads see one consistent state. A `bulky` write (megabytes of
        image bytes, a batch of a sweep) never runs on the event loop."""
        if self.is_sqlite:
            if not snapshot and not bulky:
                try:
                    return self._write_here(work)
                except OperationalError as exc:
                    if not _locked(exc):
                        raise
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

    async def checkpoint(self) -> None:
        """Copy what the WAL holds into the database file (SQLite; nothing elsewhere), in the
        thread, without waiting for readers or writers: the loop's writes never do it."""
        if self.is_sqlite:
            await self.run(lambda conn: conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").all(), snapshot=True)

    def _write_here(self, work: Callable[[Connection], T]) -> T:
        if self._writer_conn is None:
            self._writer_conn = self._writer.connect()
        with self._writer_conn.begin():
            return work(self._writer_conn)

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
            for conn in (self._inline_conn, self._writer_conn):
                if conn is not None:
                    conn.close()
            self._inline.dispose()
            self._writer.dispose()
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


def _sqlite_engine(url: URL, *, timeout: float, autocommit: bool = False, **options: Any) -> Engine:
    """A sync pysqlite engine on `url`, its connections in WAL mode, waiting at most `timeout`
    seconds for a lock; its transactions begun as `_sqlite_begin` says, or, with `autocommit`,
    none at all (SQLAlchemy still "begins" there, and a BEGIN would hold a lock it never ends)."""
    if autocommit:
        options["isolation_level"] = "AUTOCOMMIT"
    engine = create_engine(url.set(drivername="sqlite"), connect_args={"timeout": timeout}, **options)
    event.listen(engine, "connect", _sqlite_connect)
    if not autocommit:
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")


def _locked(exc: OperationalError) -> bool:
    return "database is locked" in str(exc.orig)


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql(conn.info.get("imagechat_begin", "BEGIN IMMEDIATE"))

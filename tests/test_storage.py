"""Storage on SQLite and on the local PostgreSQL: seq under concurrency, history, schema versions."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select, update

from imagechat_tui.protocol.models import AddComment, CreateChat
from imagechat_tui.server import admin
from imagechat_tui.server.config import sqlite_url
from imagechat_tui.server.database import Database
from imagechat_tui.server.domain_errors import Conflict
from imagechat_tui.server.schema import (
    SCHEMA_VERSION,
    SchemaError,
    meta,
    prepare,
    tokens,
)
from imagechat_tui.server.store import Principal, Store

from .conftest import IMAGE, bid


@pytest.fixture
async def store(database_url: str):
    db = Database(database_url)
    await db.run(prepare)
    yield Store(db)
    await db.dispose()


async def principal(store: Store, user: str = "u_ana") -> Principal:
    tenant = "acme"
    try:
        await admin.create_tenant(store.db, tenant)
    except admin.AdminError:
        pass
    _, token = await admin.create_token(store.db, tenant, user, user, "member")
    found = await store.principal(token)
    assert found is not None
    return found


async def test_concurrent_writers_to_one_image_get_distinct_consecutive_seqs(store: Store) -> None:
    writers = [await principal(store, f"u_{i}") for i in range(8)]
    first = await store.create_marker(writers[0], CreateChat(image=IMAGE, x=1, y=1, text="t", broadcast_id=bid()),
                                      "f")
    marker_id = json.loads(first.body)["marker"]["id"]

    async def burst(p: Principal) -> list[int]:
        seqs = []
        for i in range(10):
            if i % 2:
                c = await store.add_comment(p, marker_id, AddComment(text=f"c{i}", broadcast_id=bid()), bid())
            else:
                c = await store.create_marker(p, CreateChat(image=IMAGE, x=2, y=2, text="m", broadcast_id=bid()), bid())
            seqs.append(c.seq)
        return seqs

    results = await asyncio.gather(*(burst(p) for p in writers))
    seqs = sorted(s for r in results for s in r)
    assert seqs == list(range(2, 82))
    page = await store.chats(writers[0], IMAGE)
    assert page.seq == 81
    history = await store.history(writers[0], IMAGE, 0)
    assert history.events is not None
    assert [json.loads(e)["seq"] for e in history.events] == list(range(1, 82))


async def test_concurrent_revocations_each_reach_a_polling_server(store: Store) -> None:
    """Two revokes once shared a revision, and a poller asking for "after N" skipped one."""
    await admin.create_tenant(store.db, "acme")
    ids = [(await admin.create_token(store.db, "acme", f"u_{i}", f"U{i}", "member"))[0] for i in range(12)]
    seen: set[str] = set()
    revision = 0

    async def poll() -> None:
        nonlocal revision
        revision, revoked = await store.revocations_after(revision)
        seen.update(revoked)

    async def revoke_all() -> None:
        await asyncio.gather(*(admin.revoke_token(store.db, token_id) for token_id in ids))

    revoking = asyncio.create_task(revoke_all())
    while not revoking.done():
        await poll()
    await revoking
    await poll()
    assert seen == set(ids)
    rows = await store.db.run(lambda conn: conn.execute(select(tokens.c.revision)).scalars().all())
    assert sorted(rows) == list(range(1, len(ids) + 1))


async def test_retries_are_answered_from_their_receipt_and_commit_nothing(store: Store) -> None:
    p = await principal(store)
    create = CreateChat(image=IMAGE, x=1, y=1, text="t", broadcast_id=bid())
    first = await store.create_marker(p, create, "create")
    marker_id = json.loads(first.body)["marker"]["id"]
    comment = AddComment(text="c", broadcast_id=bid())
    added = await store.add_comment(p, marker_id, comment, "comment")
    # Retried concurrently: one write commits, the others break the receipt's unique key.
    retries = await asyncio.gather(*(store.add_comment(p, marker_id, comment, "comment") for _ in range(4)))
    assert {(r.status, r.body, r.event) for r in retries} == {(201, added.body, None)}
    deleted = await store.delete_marker(p, marker_id, bid(), "delete")
    # The marker is gone, so the retry fails anew, and is answered from its receipt all the same.
    assert (await store.add_comment(p, marker_id, comment, "comment")).body == added.body
    with pytest.raises(Conflict):
        await store.add_comment(p, marker_id, comment, "a different write")
    again = await store.create_marker(p, CreateChat(image=IMAGE, x=1, y=1, text="t", broadcast_id=bid()), "next")
    assert again.seq == deleted.seq + 1  # nothing of the retries was committed
    history = await store.history(p, IMAGE, 0)
    assert [json.loads(e)["seq"] for e in history.events or []] == list(range(1, again.seq + 1))


async def test_the_event_log_keeps_at_least_the_last_1000_events(store: Store) -> None:
    p = await principal(store)
    for _ in range(1099):
        await store.create_marker(p, CreateChat(image=IMAGE, x=1, y=1, text="t", broadcast_id=bid()), bid())
    assert len((await store.history(p, IMAGE, 0)).events or []) == 1099  # trimmed on every 100th seq
    await store.create_marker(p, CreateChat(image=IMAGE, x=1, y=1, text="t", broadcast_id=bid()), bid())
    kept = await store.history(p, IMAGE, 100)
    assert kept.events is not None and len(kept.events) == 1000
    assert (await store.history(p, IMAGE, 99)).events is None


async def test_a_newer_schema_is_refused_and_a_current_one_reopens(database_url: str) -> None:
    db = Database(database_url)
    assert await db.run(prepare) == SCHEMA_VERSION
    assert await db.run(prepare) == SCHEMA_VERSION  # reopening is a no-op
    await db.run(lambda conn: conn.execute(
        update(meta).where(meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION + 1))))
    with pytest.raises(SchemaError, match="newer than this server"):
        await db.run(prepare)
    await db.dispose()


async def test_a_write_that_finds_sqlite_locked_waits_in_the_thread_not_on_the_loop(tmp_path: Path) -> None:
    store = Store(Database(sqlite_url(tmp_path)))
    await store.db.run(prepare)
    p = await principal(store)
    other = sqlite3.connect(tmp_path / "imagechat.db", isolation_level=None)  # another process, say
    other.execute("BEGIN IMMEDIATE")
    try:
        write = asyncio.create_task(
            store.create_marker(p, CreateChat(image=IMAGE, x=1, y=1, text="t", broadcast_id=bid()), "f"))
        started = asyncio.get_running_loop().time()
        for _ in range(5):  # the loop goes on turning while the write waits for the lock
            await asyncio.sleep(0.01)
        assert asyncio.get_running_loop().time() - started < 5, "the write held the event loop"
        assert not write.done()
    finally:
        other.execute("COMMIT")
        other.close()
    assert (await asyncio.wait_for(write, 10)).seq == 1
    await store.db.dispose()


async def test_writes_on_the_loop_leave_wal_checkpoints_to_the_thread(tmp_path: Path) -> None:
    store = Store(Database(sqlite_url(tmp_path)))
    await store.db.run(prepare)
    p = await principal(store)
    file = tmp_path / "imagechat.db"
    await store.db.checkpoint()
    before = file.stat().st_size
    for _ in range(200):  # well past SQLite's automatic checkpoint at 1000 WAL pages
        await store.create_marker(p, CreateChat(image=IMAGE, x=1, y=1, text="t" * 500, broadcast_id=bid()), bid())
    assert file.stat().st_size == before, "a write on the event loop checkpointed the WAL"
    await store.db.checkpoint()
    assert file.stat().st_size > before
    await store.db.dispose()

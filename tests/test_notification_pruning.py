"""Notifications kept (server/notification_pruning.py): each user's newest N, read ones until D
days old; trimmed on insert and by the sweep, idempotent and in batches, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select

from imagechat_tui.protocol.models import AddComment, CreateChat, iso
from imagechat_tui.server import cli, notification_pruning
from imagechat_tui.server.config import sqlite_url
from imagechat_tui.server.database import Database
from imagechat_tui.server.notification_pruning import PruneStatements, Retention, due, sweep
from imagechat_tui.server.notifications import ListQuery
from imagechat_tui.server.schema import images, notifications, prepare, tenants
from imagechat_tui.server.store import Store

from .conftest import IMAGE, bid, fresh_postgres_database, principal_in

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    await db.run(prepare)
    yield db
    await db.dispose()


async def notify(db: Database, tenant: str, user: str, count: int, *, days_old: float = 0.0,
                 read: bool = False) -> list[int]:
    """`count` notifications for `user` of `tenant`, created `days_old` before NOW; their ids."""
    def work(conn: Connection) -> list[int]:
        if conn.execute(select(tenants.c.id).where(tenants.c.id == tenant)).first() is None:
            conn.execute(tenants.insert().values(id=tenant, name=tenant, created_at=iso(NOW)))
        image_id = conn.execute(select(images.c.id).where(images.c.tenant_id == tenant)).scalar()
        if image_id is None:
            image_id = conn.execute(images.insert().values(tenant_id=tenant, key_hash=tenant, key=IMAGE, seq=0)
                                    .returning(images.c.id)).scalar_one()
        made = iso(NOW - timedelta(days=days_old))
        return [conn.execute(notifications.insert().values(
            tenant_id=tenant, user_id=user, kind="comment", image_id=image_id, marker_id="m_1", marker_number=1,
            by_id="u_by", by_name="By", excerpt="hi", created_at=made, read=read,
        ).returning(notifications.c.id)).scalar_one() for _ in range(count)]

    return await db.run(work)


async def kept(db: Database, tenant: str, user: str) -> list[int]:
    query = (select(notifications.c.id).where(notifications.c.tenant_id == tenant, notifications.c.user_id == user)
             .order_by(notifications.c.id))
    return await db.run(lambda conn: list(conn.execute(query).scalars()), snapshot=True)


async def test_the_sweep_keeps_each_users_newest_and_read_ones_until_their_age(db: Database) -> None:
    ana = await notify(db, "acme", "u_ana", 30)
    old_read = await notify(db, "acme", "u_bo", 3, days_old=100, read=True)
    old_unread = await notify(db, "acme", "u_bo", 1, days_old=100)
    recent_read = await notify(db, "acme", "u_bo", 1, days_old=80, read=True)
    other_tenant = await notify(db, "globex", "u_ana", 12)  # the same user id, elsewhere: a list of its own
    deleted = await sweep(db, PruneStatements(Retention(kept=10, read_days=90)), NOW)
    assert deleted == 20 + len(old_read) + 2
    assert await kept(db, "acme", "u_ana") == ana[-10:]
    assert await kept(db, "acme", "u_bo") == old_unread + recent_read  # unread ones stay, however old
    assert await kept(db, "globex", "u_ana") == other_tenant[-10:]
    assert await sweep(db, PruneStatements(Retention(kept=10, read_days=90)), NOW) == 0  # idempotent


async def test_either_rule_can_be_turned_off(db: Database) -> None:
    old_read = await notify(db, "acme", "u_ana", 5, days_old=400, read=True)
    fresh = await notify(db, "acme", "u_ana", 5)
    assert await sweep(db, PruneStatements(Retention(kept=0, read_days=0)), NOW) == 0
    assert await sweep(db, PruneStatements(Retention(kept=0, read_days=90)), NOW) == 5
    assert await kept(db, "acme", "u_ana") == fresh
    late = await notify(db, "acme", "u_ana", 1, days_old=400, read=True)  # old, read, and the newest by id
    assert await sweep(db, PruneStatements(Retention(kept=3, read_days=0)), NOW) == 3
    assert await kept(db, "acme", "u_ana") == fresh[-2:] + late
    assert len(old_read) == 5


async def test_sweeps_delete_in_batches_and_at_once_in_several_processes(db: Database,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notification_pruning, "BATCH", 7)
    await notify(db, "acme", "u_ana", 40, days_old=100, read=True)
    newest = await notify(db, "acme", "u_bo", 30)
    rules = Retention(kept=5, read_days=90)
    # Two processes' sweeps at once (each with its own statements): every row goes once, no error.
    results = await asyncio.gather(sweep(db, PruneStatements(rules), NOW), sweep(db, PruneStatements(rules), NOW))
    assert sum(results) == 40 + 25
    assert await kept(db, "acme", "u_ana") == []
    assert await kept(db, "acme", "u_bo") == newest[-5:]


def test_about_one_id_in_trim_every_is_due_whatever_ids_a_user_gets() -> None:
    every = notification_pruning.TRIM_EVERY
    for ids in (range(1, 64_001), range(1, 128_001, 2), range(2, 128_001, 2), range(5, 640_001, 10)):
        share = sum(map(due, ids)) / len(ids)
        assert 0.8 / every < share < 1.2 / every, (ids, share)


async def test_a_write_trims_its_recipients_lists_on_a_due_id(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(db, Retention(kept=3, read_days=90))
    ana = await principal_in(store, "u_ana")
    bo = await principal_in(store, "u_bo")
    marker = json.loads((await store.create_marker(
        ana, CreateChat(image=IMAGE, x=1, y=1, text="look", broadcast_id=bid()), bid())).body)["marker"]
    for i in range(5):  # each notifies Ana; no id due yet, so nothing trimmed
        monkeypatch.setattr(notification_pruning, "due", lambda _id: False)
        await store.add_comment(bo, marker["id"], AddComment(text=f"c{i}", broadcast_id=bid()), bid())
    tenant = ana.tenant_id
    assert len(await kept(db, tenant, "u_ana")) == 5
    monkeypatch.setattr(notification_pruning, "due", lambda _id: True)
    await store.add_comment(bo, marker["id"], AddComment(text="due", broadcast_id=bid()), bid())
    assert len(await kept(db, tenant, "u_ana")) == 3
    page = await store.list_notifications(ListQuery(tenant, "u_ana", None, 10))
    assert [n.excerpt for n in page.notifications] == ["due", "c4", "c3"]


def test_the_admin_command_prunes_now_with_the_options_or_their_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    url = sqlite_url(tmp_path)

    async def fill() -> list[int]:
        db = Database(url)
        try:
            await db.run(prepare)
            return await notify(db, "acme", "u_ana", 12)
        finally:
            await db.dispose()

    async def count() -> int:
        db = Database(url)
        try:
            return await db.run(lambda conn: conn.execute(select(func.count()).select_from(notifications)).scalar_one())
        finally:
            await db.dispose()

    asyncio.run(fill())
    monkeypatch.setenv("IMAGECHAT_NOTIFICATIONS_KEPT", "8")
    assert cli.main(["--data-dir", str(tmp_path), "notifications", "prune"]) == 0
    assert asyncio.run(count()) == 8
    assert cli.main(["notifications", "prune", "--data-dir", str(tmp_path), "--notifications-kept", "2"]) == 0
    assert asyncio.run(count()) == 2
    assert "6 notifications deleted (each user's newest 2 kept" in capsys.readouterr().out


def test_the_retention_options_come_from_the_environment_and_are_never_negative(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    args = cli._parser().parse_args([])
    assert (args.notifications_kept, args.notifications_read_days) == (1000, 90)
    monkeypatch.setenv("IMAGECHAT_NOTIFICATIONS_READ_DAYS", "30")
    assert cli._parser().parse_args([]).notifications_read_days == 30
    with pytest.raises(SystemExit):
        cli._parser().parse_args(["--notifications-kept", "-1"])
    assert "--notifications-kept" in capsys.readouterr().err


@pytest.mark.postgres
async def test_rows_another_transaction_is_deleting_are_left_to_it_without_waiting() -> None:
    import asyncpg

    async with fresh_postgres_database() as url:
        db = Database(url)
        await db.run(prepare)
        try:
            ids = await notify(db, "acme", "u_bo", 10, days_old=100, read=True)
            other = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
            try:
                async with other.transaction():  # another process's sweep or write, holding three rows
                    await other.fetch("SELECT id FROM notifications WHERE id = ANY($1::bigint[]) FOR UPDATE",
                                      ids[:3])
                    rules = PruneStatements(Retention(kept=5, read_days=90))
                    assert await asyncio.wait_for(sweep(db, rules, NOW), 5) == 7
                    assert await kept(db, "acme", "u_bo") == ids[:3]
            finally:
                await other.close()
            assert await sweep(db, rules, NOW) == 3
        finally:
            await db.dispose()

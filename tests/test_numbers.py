"""Stable marker numbers on SQLite and PostgreSQL: per image, from 1, never reused; the migration
that numbers a version-2 database's markers."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select

from imagechat_tui.protocol.models import CreateChat
from imagechat_tui.server.database import Database
from imagechat_tui.server.schema import SCHEMA_VERSION, meta, prepare
from imagechat_tui.server.store import Principal, Store

from .conftest import IMAGE, bid, principal_in
from .old_schemas import back_to_version_2

OTHER_IMAGE = "sha256:" + "b" * 64


@pytest.fixture
async def store(database_url: str):
    db = Database(database_url)
    await db.run(prepare)
    yield Store(db)
    await db.dispose()


async def principal(store: Store, user: str = "u_ana") -> Principal:
    return await principal_in(store, user, "moderator")


async def place(store: Store, p: Principal, image: str = IMAGE) -> dict:
    committed = await store.create_marker(p, CreateChat(image=image, x=1, y=1, text="t", broadcast_id=bid()), bid())
    return json.loads(committed.body)["marker"]


async def numbers(store: Store, p: Principal, image: str = IMAGE) -> list[int | None]:
    return [m.number for m in (await store.chats(p, image)).markers]


async def test_numbers_count_up_per_image_and_are_never_reused_after_deletions(store: Store) -> None:
    p = await principal(store)
    placed = [await place(store, p) for _ in range(4)]
    assert [m["number"] for m in placed] == [1, 2, 3, 4]
    assert (await place(store, p, OTHER_IMAGE))["number"] == 1  # per image
    await store.delete_marker(p, placed[1]["id"], bid(), bid())  # marker 2
    assert await numbers(store, p) == [1, 3, 4]  # 3 is still 3
    await store.delete_marker(p, placed[3]["id"], bid(), bid())  # the newest, 4
    fifth = await place(store, p)
    assert fifth["number"] == 5
    assert await numbers(store, p) == [1, 3, 5]


async def test_the_number_is_in_every_marker_the_server_sends(store: Store) -> None:
    p = await principal(store)
    created = await store.create_marker(p, CreateChat(image=IMAGE, x=1, y=1, text="t", broadcast_id=bid()), bid())
    assert json.loads(created.body)["marker"]["number"] == 1  # the REST answer
    assert created.event is not None and json.loads(created.event)["marker"]["number"] == 1  # the live event
    history = await store.history(p, IMAGE, 0)
    assert json.loads((history.events or [])[0])["marker"]["number"] == 1  # the replayed event
    assert await numbers(store, p) == [1]  # the snapshot (`GET /chats` and `subscribed`)


async def test_concurrent_creates_get_distinct_numbers(store: Store) -> None:
    writers = [await principal(store, f"u_{i}") for i in range(6)]

    async def burst(p: Principal) -> list[int]:
        return [(await place(store, p))["number"] for _ in range(8)]

    results = await asyncio.gather(*(burst(p) for p in writers))
    assert sorted(n for r in results for n in r) == list(range(1, 49))
    assert sorted(await numbers(store, writers[0])) == list(range(1, 49))


async def test_a_version_2_database_has_its_markers_numbered_in_the_order_they_were_placed(database_url: str) -> None:
    db = Database(database_url)
    store = Store(db)
    try:
        await db.run(prepare)
        p = await principal(store)
        first = [await place(store, p) for _ in range(3)]
        await place(store, p, OTHER_IMAGE)
        later = [await place(store, p) for _ in range(2)]
        await store.delete_marker(p, first[1]["id"], bid(), bid())
        await db.run(back_to_version_2)

        assert await db.run(prepare) == SCHEMA_VERSION
        version = select(meta.c.value).where(meta.c.key == "schema_version")
        assert await db.run(lambda conn: conn.execute(version).scalar_one(), snapshot=True) == str(SCHEMA_VERSION)
        page = await store.chats(p, IMAGE)
        assert [(m.id, m.number) for m in page.markers] == [
            (first[0]["id"], 1), (first[2]["id"], 2), (later[0]["id"], 3), (later[1]["id"], 4)]
        assert await numbers(store, p, OTHER_IMAGE) == [1]
        assert (await place(store, p))["number"] == 5
        assert (await place(store, p, OTHER_IMAGE))["number"] == 2
    finally:
        await db.dispose()


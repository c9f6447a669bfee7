"""Upgrade and adoption benchmark: migrating a version-2 database (numbering its markers), then
adopting a previous version's URL-keyed conversation. Prints the time of each.

    python bench/migration.py                    # 10,000 images x 10 markers, SQLite in a temp dir
    python bench/migration.py --database-url postgresql+asyncpg://postgres@127.0.0.1/bench_db   # an empty database

The version-2 database is made as the migration tests make it: a current one taken back
(tests/old_schemas.py), so this script runs from the repository's root.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.old_schemas

from imagechat_tui.protocol.imagekey import data_image_key, key_digest, legacy_key_hash
from imagechat_tui.protocol.models import CreateChat
from imagechat_tui.server import admin
from imagechat_tui.server.config import sqlite_url
from imagechat_tui.server.database import Database
from imagechat_tui.server.schema import images, markers, prepare, tenants
from imagechat_tui.server.store import Store
from tests.old_schemas import back_to_version_2


def fill(conn: Connection, image_count: int, per_image: int) -> None:
    """`image_count` URL-keyed images of one tenant, each with `per_image` markers (no comments:
    the migration does not read them)."""
    conn.execute(insert(tenants), [{"id": "t_bench", "name": f"bench-{uuid.uuid4().hex[:8]}", "created_at": "-"}])
    keys = [f"https://shots.example.com/{i}.png" for i in range(image_count)]
    conn.execute(insert(images), [{"tenant_id": "t_bench", "key_hash": key_digest(k), "key": k, "seq": per_image,
                                   "last_number": per_image} for k in keys])
    ids = conn.execute(select(images.c.id).where(images.c.tenant_id == "t_bench")).scalars().all()
    conn.execute(insert(markers), [
        {"id": f"m_{image_id}_{n}", "image_id": image_id, "x": 1.0, "y": 1.0, "status": "open", "created_at": "-",
         "created_by_id": "u", "created_by_name": "U", "seq": n, "number": n}
        for image_id in ids for n in range(1, per_image + 1)
    ])


async def run(database_url: str, image_count: int, per_image: int, adopted: int) -> None:
    db = Database(database_url)
    try:
        await db.run(prepare)
        await db.run(lambda conn: fill(conn, image_count, per_image), bulky=True)
        await db.run(back_to_version_2, bulky=True)
        started = time.perf_counter()
        await db.run(prepare, bulky=True)
        took = time.perf_counter() - started
        count = await db.run(lambda conn: conn.execute(select(func.count()).select_from(markers)).scalar_one())
        print(f"migration 2 -> 3: {image_count:,} images, {count:,} markers numbered in {took:.2f} s")

        store = Store(db)
        tenant = f"bench-{uuid.uuid4().hex[:8]}"
        await admin.create_tenant(db, tenant)
        _, token = await admin.create_token(db, tenant, "u_bench", "Bench", "member")
        p = await store.principal(token)
        assert p is not None
        url = "https://shots.example.com/legacy.png?X-Amz-Signature=abc"
        for _ in range(adopted):  # as the previous version wrote them: on the URL key
            body = CreateChat.model_construct(image=url, x=1.0, y=1.0, text="t" * 200, broadcast_id=str(uuid.uuid4()))
            await store.create_marker(p, body, str(uuid.uuid4()))
        started = time.perf_counter()
        adoption = await store.adopt(p, data_image_key(b"legacy.png"), legacy_key_hash(url))
        took = time.perf_counter() - started
        assert adoption.result.adopted
        print(f"adoption: a conversation of {adopted} markers moved in {took * 1000:.0f} ms")
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="an empty database (default: SQLite in a temp dir)")
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--markers-per-image", type=int, default=10)
    parser.add_argument("--adopt", type=int, default=300, help="markers in the adopted conversation")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or sqlite_url(Path(tmp))
        asyncio.run(run(url, args.images, args.markers_per_image, args.adopt))


if __name__ == "__main__":
    main()

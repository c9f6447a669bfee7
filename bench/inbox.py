"""Inbox benchmark: one tenant with 10,000 images, 100,000 markers and 300,000 comments (bulk
inserts, then the inbox summaries filled by the schema migration's own rule), then the server
time (p50 / p99 over the repeats) of the inbox's first page, a next page, each filter and
searches; and a 10 MB upload over loopback (bench/upload.py).

Every page carries the caller's unread markers per row. The caller (u_0) has read 90% of the
markers; `filter=unread` is also timed for u_1, who has read all but the markers of 20 images
(0.2%), so that a page never fills and the whole inbox is walked: with the `images_read` rows
(the images each user has read whole, as the migration notes them), and without (every image
then asked marker by marker).

    python bench/inbox.py                                  # SQLite in a temp dir
    python bench/inbox.py --postgres                       # a scratch database on the local server
    python bench/inbox.py --images 1000 --repeat 50        # smaller, quicker

"Server time" is the store's work for one request (the queries and building the page), timed in
the server process; "HTTP" is the whole round trip of `GET /api/v1/images` from a client on the
same loop, JSON included.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Connection, select
from upload import run as upload_run
from upload import serving

from imagechat_tui.protocol.models import InboxFilter, iso
from imagechat_tui.server import admin
from imagechat_tui.server.app import ImageChatServer
from imagechat_tui.server.config import ServerConfig, sqlite_url
from imagechat_tui.server.inbox import Cursor, InboxQuery
from imagechat_tui.server.reads import note_images_read_whole, unread_by_image
from imagechat_tui.server.schema import comments, images, images_read, markers, read_positions, tenants
from imagechat_tui.server.store import key_hash
from imagechat_tui.server.summary import fill_summaries

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
USERS = [(f"u_{n}", f"User {n}") for n in range(20)]
WORDS = [f"w{n}" for n in range(5000)]
"""A vocabulary drawn by Zipf's law, as words of a language are: w0 is in most comments (like
"the"), w100 in a few per cent, w2000 in a few per thousand."""
ZIPF = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(WORDS))))
CHUNK = 5000
READ_SHARE = 0.9
"""Of the markers, those u_0 has read."""
UNREAD_EVERY = 500
"""u_1 has read every marker but those of one image in this many."""


def words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choices(WORDS, cum_weights=ZIPF, k=count))


def fill(conn: Connection, tenant_id: str, n_images: int, per_image: int, per_marker: int) -> None:
    """Bulk-insert the images, markers and comments of one tenant (their summaries come after)."""
    rng, reading = random.Random(8), random.Random(9)
    start = datetime.now(UTC) - timedelta(days=60)
    image_rows, marker_rows, comment_rows, read_rows = [], [], [], []
    for i in range(n_images):
        key = f"sha256:{i:064x}"
        image_rows.append({"tenant_id": tenant_id, "key_hash": key_hash(key), "key": key,
                           "seq": per_image * (per_marker + 1), "last_number": per_image})
    conn.execute(images.insert(), image_rows)
    seq = 0
    for image_id in range(1, n_images + 1):
        moment = start + timedelta(seconds=rng.uniform(0, 60 * 86400))
        resolved_all = rng.random() < 0.3
        for number in range(1, per_image + 1):
            marker_id = f"m_{image_id:07x}{number:03x}"
            user_id, user_name = rng.choice(USERS)
            status = "resolved" if resolved_all or rng.random() < 0.5 else "open"
            seq += 1
            marker_rows.append({"id": marker_id, "image_id": image_id, "x": rng.uniform(0, 100),
                                "y": rng.uniform(0, 100), "status": status, "created_at": iso(moment),
                                "created_by_id": user_id, "created_by_name": user_name, "seq": seq,
                                "number": number})
            for reader, has_read in ((USERS[0][0], reading.random() < READ_SHARE),
                                     (USERS[1][0], image_id % UNREAD_EVERY != 0)):
                if has_read:  # up to the marker's comments, which share its seq here
                    read_rows.append({"tenant_id": tenant_id, "user_id": reader, "marker_id": marker_id,
                                      "image_id": image_id, "seq": seq})
            for c in range(per_marker):
                moment += timedelta(seconds=rng.uniform(1, 600))
                author_id, author_name = (user_id, user_name) if c == 0 else rng.choice(USERS)
                comment_rows.append({"id": f"c_{image_id:07x}{number:03x}{c:02x}", "marker_id": marker_id,
                                     "parent_id": None, "user_id": author_id, "user_name": author_name,
                                     "text": words(rng, rng.randint(4, 30)), "created_at": iso(moment),
                                     "edited_at": None, "deleted": False, "seq": seq})
        if len(comment_rows) >= CHUNK:
            conn.execute(markers.insert(), marker_rows)
            conn.execute(comments.insert(), comment_rows)
            conn.execute(read_positions.insert(), read_rows)
            marker_rows, comment_rows, read_rows = [], [], []
    if marker_rows:
        conn.execute(markers.insert(), marker_rows)
        conn.execute(comments.insert(), comment_rows)
        conn.execute(read_positions.insert(), read_rows)


def summarise(conn: Connection) -> None:
    """The summaries, as the migration to schema 4 fills them, on tables with planner statistics
    (a database being migrated has them; freshly loaded tables have none until ANALYZE)."""
    conn.exec_driver_sql("ANALYZE")
    fill_summaries(conn)
    note_images_read_whole(conn)
    conn.exec_driver_sql("ANALYZE")


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:7.2f} ms   p99 {p99 * 1000:7.2f} ms"


async def timed(work: Callable[[], Awaitable[Any]], repeat: int) -> list[float]:
    await work()  # warm
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await work()
        samples.append(time.perf_counter() - started)
    return samples


async def report(store: Any, label: str, case: InboxQuery, repeat: int) -> None:
    found = len((await store.images_page(case)).images)
    samples = await timed(lambda: store.images_page(case), repeat)
    print(f"  server  {label:24} {percentiles(samples)}   ({found} rows)")


async def run(database_url: str, args: argparse.Namespace) -> None:
    app = ImageChatServer(ServerConfig(database_url))
    runner, task = await serving(app)
    try:
        known = await app.db.run(lambda conn: conn.execute(select(tenants.c.id).where(tenants.c.name == "bench"))
                                 .scalar(), snapshot=True)
        tenant_id = known or await admin.create_tenant(app.db, "bench")
        _, token = await admin.create_token(app.db, "bench", USERS[0][0], USERS[0][1], "member")
        if known is None:
            started = time.perf_counter()
            await app.db.run(lambda conn: fill(conn, tenant_id, args.images, args.markers, args.comments))
            filled = time.perf_counter()
            await app.db.run(summarise)
            print(f"{database_url.split(':')[0]}: filled {args.images} images, {args.images * args.markers} "
                  f"markers, {args.images * args.markers * args.comments} comments in {filled - started:.1f} s; "
                  f"their summaries (the migration's statements) in {time.perf_counter() - filled:.1f} s")
        store = app.store

        def query(filter: InboxFilter = "open", q: str | None = None, cursor: Cursor | None = None,
                  user: str = USERS[0][0]) -> InboxQuery:
            from imagechat_tui.server.search import search_terms

            return InboxQuery(tenant_id, user, filter, search_terms(q) if q else None, cursor, 50)

        first = await store.images_page(query())
        assert first.next_cursor is not None
        second = Cursor.decode(first.next_cursor)
        deep, pages = second, 2
        while pages < 20:  # a page further down
            page = await store.images_page(query(cursor=deep))
            if page.next_cursor is None:
                break
            deep, pages = Cursor.decode(page.next_cursor), pages + 1
        cases: list[tuple[str, InboxQuery]] = [
            ("first page (open)", query()),
            ("next page (open)", query(cursor=second)),
            (f"page {pages} (open)", query(cursor=deep)),
            ("first page (all)", query("all")),
            ("first page (mine)", query("mine")),
            ("next page (mine)", query("mine", cursor=Cursor.decode((await store.images_page(query("mine")))
                                                                     .next_cursor or ""))),
            ("search, a rare word", query("all", WORDS[2000])),
            ("search, a word", query("all", WORDS[100])),
            ("search, two words", query("all", f"{WORDS[30]} {WORDS[100]}")),
            ("search, like 'the'", query("all", WORDS[0])),
            ("first page (unread)", query("unread")),
            ("next page (unread)", query("unread", cursor=Cursor.decode((await store.images_page(query("unread")))
                                                                         .next_cursor or ""))),
            ("unread, a word", query("unread", WORDS[100])),
            ("unread, 99.8% read", query("unread", user=USERS[1][0])),
        ]
        for label, case in cases:
            await report(store, label, case, args.repeat)
        # What every page's `unread` column costs: the one query for a page's 50 rows.
        ids = [row.id for row in await app.db.run(lambda conn: conn.execute(
            select(images.c.id).order_by(images.c.last_activity_at.desc()).limit(50)).all(), snapshot=True)]
        samples = await timed(lambda: app.db.run(lambda conn: unread_by_image(conn, tenant_id, USERS[0][0], ids),
                                                 snapshot=True), args.repeat)
        print(f"  server  {'unread column, 50 rows':24} {percentiles(samples)}")
        # The same walk without the shortcut: what `images_read` saves.
        kept = await app.db.run(lambda conn: conn.execute(select(images_read)).mappings().all(), snapshot=True)
        await app.db.run(lambda conn: conn.execute(images_read.delete()))
        await report(store, "99.8% read, no shortcut", query("unread", user=USERS[1][0]), args.repeat)
        if kept:
            await app.db.run(lambda conn: conn.execute(images_read.insert(), [dict(row) for row in kept]))
        async with httpx.AsyncClient(base_url=runner.url + "/api/v1",
                                     headers={"Authorization": f"Bearer {token}"}) as http:
            samples = await timed(lambda: http.get("/images"), args.repeat)
            print(f"  HTTP    {'first page (open)':24} {percentiles(samples)}")
            samples = await timed(lambda: http.get("/images", params={"q": WORDS[100], "filter": "all"}), args.repeat)
            print(f"  HTTP    {'search, a word':24} {percentiles(samples)}")
    finally:
        runner.should_exit = True
        await task
    if args.upload:
        await upload_run(database_url, 10.0, 3)


async def scratch_postgres(args: argparse.Namespace) -> None:
    import asyncpg

    name = f"imagechat_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        await run(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", args)
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="a scratch database on 127.0.0.1:5432")
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--markers", type=int, default=10, help="per image")
    parser.add_argument("--comments", type=int, default=3, help="per marker")
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--no-upload", dest="upload", action="store_false")
    parser.add_argument("--keep", type=Path, help="SQLite: the data directory to fill once and reuse")
    args = parser.parse_args()
    if args.postgres:
        asyncio.run(scratch_postgres(args))
        return
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        asyncio.run(run(sqlite_url(args.keep), args))
        return
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(sqlite_url(Path(tmp)), args))


if __name__ == "__main__":
    main()

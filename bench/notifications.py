"""Notification benchmark: what a comment that notifies 50 users adds to the write, measured at the
store (one transaction each, no HTTP), on SQLite (default) or PostgreSQL. Prints the medians.

    python bench/notifications.py                 # SQLite in a temp dir, 200 comments of each kind
    python bench/notifications.py --database-url postgresql+asyncpg://postgres@127.0.0.1/test
    python bench/notifications.py --notifications-kept 50   # users past the cap: writes trim lists

Two markers on one image: on the first, its creator and 49 others have commented, so a further
comment by someone else tells 50 people; on the second nobody else has, so a comment on it tells no
one. Comments on the two alternate; the difference of the medians is what notifying adds (finding
who took part, the rules, and storing 50 rows, in the write's own transaction). With a cap below
the comments' number, the users' lists pass it early and the writes trim them as a server's do
(about one notification in 64 trims its user's list: see server/notification_pruning.py); the
means are printed too, as the trims fall on some writes only.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from imagechat_tui.protocol.models import AddComment, CreateChat, MarkerResult
from imagechat_tui.server import admin
from imagechat_tui.server.config import DEFAULT_NOTIFICATIONS_KEPT, sqlite_url
from imagechat_tui.server.database import Database
from imagechat_tui.server.notification_pruning import Retention
from imagechat_tui.server.schema import prepare
from imagechat_tui.server.store import Principal, Store

IMAGE = "sha256:" + "e" * 64
TOLD = 50


def bid() -> str:
    return str(uuid.uuid4())


async def person(db: Database, store: Store, tenant: str, user: str) -> Principal:
    _, token = await admin.create_token(db, tenant, user, user.title(), "member")
    principal = await store.principal(token)
    assert principal is not None
    return principal


async def timed(store: Store, writer: Principal, marker_id: str) -> float:
    started = time.perf_counter()
    await store.add_comment(writer, marker_id, AddComment(text="a comment", broadcast_id=bid()), bid())
    return time.perf_counter() - started


async def run(database_url: str, repeat: int, kept: int) -> None:
    db = Database(database_url)
    try:
        await db.run(prepare)
        store = Store(db, Retention(kept=kept))
        tenant = f"bench-{time.time_ns()}"
        await admin.create_tenant(db, tenant)
        people = [await person(db, store, tenant, f"u_{i}") for i in range(TOLD)]
        writer = await person(db, store, tenant, "u_writer")
        loud = await store.create_marker(people[0], CreateChat(image=IMAGE, x=1, y=1, text="busy", broadcast_id=bid()),
                                         bid())
        quiet = await store.create_marker(writer, CreateChat(image=IMAGE, x=2, y=2, text="mine",
                                                             broadcast_id=bid()), bid())
        loud_id, quiet_id = (_marker_id(c.body) for c in (loud, quiet))
        for p in people[1:]:
            await store.add_comment(p, loud_id, AddComment(text="me too", broadcast_id=bid()), bid())
        check = await store.add_comment(writer, loud_id, AddComment(text="warm-up", broadcast_id=bid()), bid())
        told = [frame for _, _, frame in check.notify if frame.startswith('{"type":"notification"')]
        assert len(told) == TOLD, len(told)  # besides, the writer's own markers-read
        notifying, plain = [], []
        for _ in range(repeat):
            notifying.append(await timed(store, writer, loud_id))
            plain.append(await timed(store, writer, quiet_id))
        told, alone = statistics.median(notifying) * 1000, statistics.median(plain) * 1000
        mean = (statistics.mean(notifying) - statistics.mean(plain)) * 1000
        print(f"{database_url.split(':')[0]}, {repeat} comments of each, {kept or 'all'} kept per user: notifying"
              f" {TOLD} users {told:.2f} ms, notifying no one {alone:.2f} ms (medians): notifying adds"
              f" {told - alone:.2f} ms (target < 5 ms; {mean:.2f} ms in the means)")
    finally:
        await db.dispose()


def _marker_id(body: str) -> str:
    return MarkerResult.model_validate_json(body).marker.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--notifications-kept", type=int, default=DEFAULT_NOTIFICATIONS_KEPT,
                        help="each user's newest kept, as the server's option")
    args = parser.parse_args()
    if args.database_url:
        asyncio.run(run(args.database_url, args.repeat, args.notifications_kept))
        return
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(sqlite_url(Path(tmp)), args.repeat, args.notifications_kept))


if __name__ == "__main__":
    main()

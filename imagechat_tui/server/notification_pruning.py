"""How many notifications are kept: each user's newest `kept`, and read ones only until they are
`read_days` old (unread ones stay, within the cap, however old).

Both rules are applied in two places, each idempotent and in bounded batches, so that any number
of server processes may apply them at once (a row already deleted is not deleted again, and on
PostgreSQL one that another transaction is deleting is left to it, without waiting):

- on insert, in the write's transaction (as an image's old events are trimmed on every 100th seq):
  a user given a notification whose id is "due" (about one id in TRIM_EVERY, see `due`) has their
  list cut to `kept`. That reads only the index on (tenant, user, id): the newest `kept` entries,
  then the ones past them, which go. A user's list so stays near `kept` (TRIM_EVERY more on
  average) however fast it grows. The age rule is not applied here: it reads every row of the
  list (1,000 rows: 4 ms on SQLite, most writes would have paid it);
- a sweep that each process runs every SWEEP_EVERY (`ImageChatServer.running`), and that
  `imagechat-server notifications prune` runs once: read ones past their age, whoever they belong
  to, then every user still over `kept` (after `kept` was lowered, say). Its reads take a
  snapshot, its deletes a short transaction of at most BATCH rows each, none of it on the event
  loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, select

from ..protocol.models import iso
from .config import DEFAULT_NOTIFICATIONS_KEPT, DEFAULT_NOTIFICATIONS_READ_DAYS
from .database import Database
from .schema import notifications

log = logging.getLogger(__name__)

TRIM_EVERY = 64
"""About one notification in this many trims its user's list on insert."""
BATCH = 500
"""Rows deleted by one statement at most: a transaction never holds the database for long."""
SWEEP_EVERY = 3600.0
"""Seconds between a process's sweeps."""


def due(notification_id: int) -> bool:
    """Whether a new notification trims its user's list: for about one id in TRIM_EVERY. The id's
    Fibonacci hash, not the id itself: a user who gets every other id (two people notifying each
    other in turn) would never get a multiple of TRIM_EVERY, but gets as many due ids as anyone."""
    return (notification_id * 0x9E3779B1) & 0xFFFFFFFF < (1 << 32) // TRIM_EVERY


@dataclass(frozen=True, slots=True)
class Retention:
    """The rules: 0 turns either off (no cap; read ones kept until the cap)."""

    kept: int = DEFAULT_NOTIFICATIONS_KEPT
    read_days: int = DEFAULT_NOTIFICATIONS_READ_DAYS

    def cutoff(self, now: datetime) -> str:
        """Read notifications created before this go (never, if `read_days` is 0)."""
        return iso(now - timedelta(days=self.read_days)) if self.read_days else ""


class PruneStatements:
    """The statements for a `Retention`, built once."""

    def __init__(self, rules: Retention) -> None:
        self.rules = rules
        n = notifications
        mine = and_(n.c.tenant_id == bindparam("b_tenant"), n.c.user_id == bindparam("b_user"))
        stale = and_(n.c.read.is_(True), n.c.created_at < bindparam("b_cutoff"))
        # The newest of those past the cap (NULL, matching nothing, if there are none).
        first_past = select(n.c.id).where(mine).order_by(n.c.id.desc()).limit(1).offset(rules.kept)
        # Rows another transaction is deleting are left to it (PostgreSQL; SQLite's writes queue
        # anyway): a write trimming two users never waits on a sweep or a write trimming them in
        # another order, which could deadlock, failing the write.
        self.trim = n.delete().where(n.c.id.in_(
            select(n.c.id).where(mine, n.c.id <= first_past.scalar_subquery()).order_by(n.c.id).limit(BATCH)
            .with_for_update(skip_locked=True)))
        # Any BATCH of them: unordered, so that the scan stops at the BATCH-th, or an index on the
        # read ones' created_at is used if there is one (see docs/protocol-notes.md).
        self.stale_ids = select(n.c.id).where(stale).limit(BATCH)
        self.delete_stale = n.delete().where(n.c.id.in_(
            select(n.c.id).where(n.c.id.in_(bindparam("b_ids", expanding=True)), stale)
            .with_for_update(skip_locked=True)))
        self.over_cap = (select(n.c.tenant_id, n.c.user_id).group_by(n.c.tenant_id, n.c.user_id)
                         .having(func.count() > rules.kept))

    def trim_user(self, conn: Connection, tenant_id: str, user_id: str) -> int:
        """Delete up to BATCH of the user's notifications past the cap; how many went."""
        if not self.rules.kept:
            return 0
        return int(conn.execute(self.trim, {"b_tenant": tenant_id, "b_user": user_id}).rowcount)

    def trim_due(self, conn: Connection, tenant_id: str, told: list[tuple[str, int]]) -> None:
        """On insert: trim the list of each (user, new notification id) whose id is due."""
        for user_id, notification_id in told:
            if due(notification_id):
                self.trim_user(conn, tenant_id, user_id)


async def sweep(db: Database, q: PruneStatements, now: datetime | None = None) -> int:
    """Apply the rules to everyone, in batches; how many notifications were deleted."""
    rules, deleted = q.rules, 0
    cutoff = rules.cutoff(now or datetime.now(UTC))
    if rules.read_days:
        while True:
            ids = await db.run(lambda conn: list(conn.execute(q.stale_ids, {"b_cutoff": cutoff}).scalars()),
                               snapshot=True)
            if ids:
                params: dict[str, Any] = {"b_ids": ids, "b_cutoff": cutoff}
                deleted += await db.run(lambda conn, p=params: int(conn.execute(q.delete_stale, p).rowcount),
                                        bulky=True)
            if len(ids) < BATCH:
                break
    if rules.kept:
        over = await db.run(lambda conn: [tuple(row) for row in conn.execute(q.over_cap)], snapshot=True)
        for tenant_id, user_id in over:
            while True:
                gone = await db.run(lambda conn, t=tenant_id, u=user_id: q.trim_user(conn, t, u), bulky=True)
                deleted += gone
                if gone < BATCH:
                    break
    if deleted:
        log.info("pruned %d notifications", deleted)
    return deleted

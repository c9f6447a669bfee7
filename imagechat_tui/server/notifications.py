"""Notifications as stored: made in the transaction of the write that causes them (who gets what is
`notify_rules`'), listed per user newest first by keyset on id, and marked read.

Every statement filters on the caller's tenant and user: a notification is only ever read or
changed by the user it belongs to.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, func, select, text

from ..protocol.events import NotificationsRead
from ..protocol.limits import EXCERPT_LENGTH
from ..protocol.mentions import excerpt
from ..protocol.models import MarkRead, Notification, NotificationKind, NotificationsPage, UserRef
from .domain_errors import BadCursor, Invalid
from .schema import image_files, images, notifications, tokens
from .summary import image_name

MAX_CURSOR_LENGTH = 24
_COLUMNS = ("id", "tenant_id", "user_id", "kind", "image_id", "marker_id", "marker_number", "comment_id", "by_id",
            "by_name", "excerpt", "created_at", "read", "seq")


@dataclass(frozen=True, slots=True)
class About:
    """What a write's notifications say: where, by whom, which comment."""

    image_id: int
    image: str
    image_name: str | None
    marker_id: str
    marker_number: int
    comment_id: str | None
    by: UserRef
    text: str
    """The comment's text ("" for a status change): its excerpt is stored."""
    created_at: str
    seq: int
    """The write's seq: reading the marker up to it marks the notification read."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A stored notification's live frame, for its user's topic."""

    user_id: str
    id: int
    frame: str


class NotificationStatements:
    """The statements of the write path, built once (see store._Statements for why)."""

    def __init__(self, is_sqlite: bool) -> None:
        self.is_sqlite = is_sqlite
        self.people = select(tokens.c.user_id).distinct().where(
            tokens.c.tenant_id == bindparam("b_tenant"), tokens.c.revoked_at.is_(None),
            tokens.c.user_id.in_(bindparam("b_users", expanding=True)),
        )
        # The driver's own executemany of one prepared statement: INSERT … RETURNING ran a row at a
        # time on SQLite, and SQLAlchemy's per-row parameter handling cost as much as the database
        # (bench/notifications.py). The ids are given (PostgreSQL) or known (SQLite) instead.
        columns = ", ".join(_COLUMNS)
        marks = ", ".join("?" if is_sqlite else f"${i}" for i in range(1, len(_COLUMNS) + 1))
        self.insert = f"INSERT INTO notifications ({columns}) VALUES ({marks})"
        self.last_id = select(func.max(notifications.c.id))
        self.next_ids = text("SELECT nextval(pg_get_serial_sequence('notifications', 'id')) "
                             "FROM generate_series(1, :b_count)")
        self.forget_marker = notifications.delete().where(notifications.c.marker_id == bindparam("b_marker"))
        self.forget_comments = notifications.delete().where(
            notifications.c.marker_id == bindparam("b_marker"),
            notifications.c.comment_id.in_(bindparam("b_comments", expanding=True)),
        )
        self.mark_markers = _marking(bindparam("b_tenant"), bindparam("b_user"), and_(
            notifications.c.marker_id.in_(bindparam("b_markers", expanding=True)),
            notifications.c.seq <= bindparam("b_seq"),
        ))
        self.reword = notifications.update().where(
            notifications.c.marker_id == bindparam("b_marker"), notifications.c.comment_id == bindparam("b_comment"),
        ).values(excerpt=bindparam("b_excerpt"))


def check_mentions(conn: Connection, q: NotificationStatements, tenant_id: str, ids: list[str]) -> None:
    """Invalid (422) unless every id is someone of the tenant (a user with a token not revoked)."""
    if not ids:
        return
    known = set(conn.execute(q.people, {"b_tenant": tenant_id, "b_users": ids}).scalars())
    unknown = [user for user in ids if user not in known]
    if unknown:
        raise Invalid(f"mentions someone who is not in this tenant: {unknown[0][:64]!r}")


def store_notifications(conn: Connection, q: NotificationStatements, tenant_id: str, about: About,
                        told: Mapping[str, NotificationKind]) -> list[Outgoing]:
    """Store one notification per user told; their live frames."""
    if not told:
        return []
    short = excerpt(about.text, EXCERPT_LENGTH)
    ids = _new_ids(conn, q, len(told)) if not q.is_sqlite else [None] * len(told)
    rows = [(notification_id, tenant_id, user, kind, about.image_id, about.marker_id, about.marker_number,
             about.comment_id, about.by.id, about.by.name, short, about.created_at, False, about.seq)
            for notification_id, (user, kind) in zip(ids, told.items(), strict=True)]
    conn.exec_driver_sql(q.insert, rows)  # type: ignore[arg-type]
    if q.is_sqlite:
        # The write holds SQLite's one write lock: the rows just added took the ids after the last.
        last = int(conn.execute(q.last_id).scalar_one())
        ids = list(range(last - len(rows) + 1, last + 1))
    # One model's JSON, then each user's frame from it (their id and kind lead it): a model and its
    # JSON per user were a third of the cost.
    shared = Notification(
        id=0, kind="comment", image=about.image, image_name=about.image_name, marker_id=about.marker_id,
        marker_number=about.marker_number, comment_id=about.comment_id, by=about.by, excerpt=short,
        created_at=about.created_at,
    ).model_dump_json()
    rest = shared.removeprefix('{"id":0,"kind":"comment",')
    assert rest is not shared, "Notification's first fields are id and kind"
    return [Outgoing(user, int(notification_id), f'{{"type":"notification","notification":{{"id":{notification_id},'
                                                 f'"kind":"{kind}",{rest}}}')
            for notification_id, (user, kind) in zip(ids, told.items(), strict=True)]


def _new_ids(conn: Connection, q: NotificationStatements, count: int) -> list[int]:
    """PostgreSQL: `count` ids from the table's sequence, in increasing order, given before the rows."""
    return sorted(int(i) for i in conn.execute(q.next_ids, {"b_count": count}).scalars())




# Reading and marking read


@dataclass(frozen=True, slots=True)
class ListQuery:
    tenant_id: str
    user_id: str
    before: int | None
    """Only ids below this (the cursor); None for the newest."""
    limit: int


def encode_cursor(notification_id: int) -> str:
    return base64.urlsafe_b64encode(str(notification_id).encode()).decode().rstrip("=")


def decode_cursor(raw: str) -> int:
    """The id a page's cursor names; BadCursor for anything this server could not have made."""
    try:
        if len(raw) > MAX_CURSOR_LENGTH:
            raise ValueError
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        if not text.isascii() or not text.isdigit():
            raise ValueError
        return int(text)
    except (ValueError, binascii.Error):
        raise BadCursor("cursor: not one this server gave; start again without it") from None


def _mine(tenant_id: str, user_id: str) -> Any:
    return and_(notifications.c.tenant_id == tenant_id, notifications.c.user_id == user_id)


def unread_count(conn: Connection, tenant_id: str, user_id: str) -> int:
    query = select(func.count()).select_from(notifications).where(_mine(tenant_id, user_id),
                                                                  notifications.c.read.is_(False))
    return int(conn.execute(query).scalar_one())


def notifications_page(conn: Connection, q: ListQuery) -> NotificationsPage:
    query = (
        select(notifications, images.c.key, image_files.c.source)
        .join(images, images.c.id == notifications.c.image_id)
        .outerjoin(image_files, and_(image_files.c.tenant_id == images.c.tenant_id, image_files.c.key == images.c.key))
        .where(_mine(q.tenant_id, q.user_id))
    )
    if q.before is not None:
        query = query.where(notifications.c.id < q.before)
    rows = conn.execute(query.order_by(notifications.c.id.desc()).limit(q.limit + 1)).all()
    more = len(rows) > q.limit
    rows = rows[:q.limit]
    return NotificationsPage(
        notifications=[_notification(row) for row in rows],
        next_cursor=encode_cursor(rows[-1].id) if more else None,
        unread_count=unread_count(conn, q.tenant_id, q.user_id),
    )


def mark_read(conn: Connection, tenant_id: str, user_id: str, body: MarkRead) -> int:
    """Mark the caller's notifications read as `body` says; how many were unread."""
    if (body.ids is None) == (body.up_to is None):
        raise Invalid("give either ids or upTo")
    chosen = (notifications.c.id.in_(body.ids) if body.ids is not None
              else notifications.c.id <= body.up_to)
    return len(conn.execute(_marking(tenant_id, user_id, chosen)).all())


def mark_marker_notifications(conn: Connection, q: NotificationStatements, tenant_id: str, user_id: str,
                              marker_ids: Sequence[str], seq: int) -> list[int]:
    """Mark read the user's notifications about these markers from writes up to `seq` (the markers
    were read that far); the ids of those that were unread."""
    params = {"b_tenant": tenant_id, "b_user": user_id, "b_markers": list(marker_ids), "b_seq": seq}
    return sorted(int(i) for i in conn.execute(q.mark_markers, params).scalars())


def _marking(tenant_id: Any, user_id: Any, chosen: Any) -> Any:
    """Marking read the user's unread notifications that `chosen` picks, answering their ids."""
    return (notifications.update().where(_mine(tenant_id, user_id), notifications.c.read.is_(False), chosen)
            .values(read=True).returning(notifications.c.id))


def read_frame(ids: list[int] | None, up_to: int | None) -> str:
    """The `notifications-read` frame for the user's other viewers."""
    return NotificationsRead(ids=ids, up_to=up_to).model_dump_json()


def forget_comments(conn: Connection, q: NotificationStatements, marker_id: str, comment_ids: Iterable[str]) -> None:
    """A deleted comment's notifications go with it: they hold its text."""
    conn.execute(q.forget_comments, {"b_marker": marker_id, "b_comments": sorted(comment_ids)})


def _notification(row: Row[Any]) -> Notification:
    return Notification(
        id=row.id, kind=row.kind, image=row.key, image_name=image_name(row.key, row.source),
        marker_id=row.marker_id, marker_number=row.marker_number, comment_id=row.comment_id,
        by=UserRef(id=row.by_id, name=row.by_name), excerpt=row.excerpt, created_at=row.created_at,
        read=bool(row.read),
    )

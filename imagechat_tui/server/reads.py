"""Unread markers (docs/protocol.md, "Unread markers"): each user's read position per marker, the one
rule that says what is unread, and moving positions forward (a `POST /images/{key}/read`, or a write
marking its marker read for the writer).

The rule, once, as SQL (`is_unread`): a marker is unread for a user when it has a comment, not
deleted, by someone else, whose seq is above the user's position on it (0 without one); that is,
when the newest such comment is. The endpoint, the inbox rows' `unread` and `filter=unread` all
build on it.

`filter=unread` walks the inbox index and asks of each image whether the caller has a marker unread
there. Asked marker by marker that costs what the image holds, which for a user who has read nearly
everything is every marker of the tenant before a page fills. `images_read` answers it in one lookup
for most images: a row says the user had read the whole image when its newest comment was
`last_comment_id`; while that is still the image's newest comment, nothing new by anyone is there
(a new comment becomes the newest), so the image is read. A row is written whenever the user's
positions on the image move and leave nothing unread, and is only ever a shortcut: when it no longer
matches, the rule is asked marker by marker, so a stale row is never wrong, only slower.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Integer, String, and_, bindparam, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite

from ..protocol.events import MarkersRead
from ..protocol.models import ReadPosition
from .notifications import NotificationStatements, mark_marker_notifications
from .schema import comments, images, images_read, markers, read_positions


def _others_newest(user_id: Any) -> Any:
    """The seq of the newest comment not deleted on the marker (of the enclosing query) by anyone but the user."""
    return (select(func.max(comments.c.seq))
            .where(comments.c.marker_id == markers.c.id, comments.c.deleted.is_(False), comments.c.user_id != user_id)
            .correlate_except(comments).scalar_subquery())


def _position(tenant_id: Any, user_id: Any) -> Any:
    """The user's read position on the marker (of the enclosing query), 0 without one: a lookup by
    primary key (a join here let PostgreSQL scan every position of the user per marker)."""
    found = (select(read_positions.c.seq)
             .where(read_positions.c.tenant_id == tenant_id, read_positions.c.user_id == user_id,
                    read_positions.c.marker_id == markers.c.id)
             .correlate_except(read_positions).scalar_subquery())
    return func.coalesce(found, 0)


def is_unread(tenant_id: Any, user_id: Any) -> ColumnElement[bool]:
    """The rule, for the marker of the enclosing query (NULL, so false, for a marker without a
    comment by someone else)."""
    return _others_newest(user_id) > _position(tenant_id, user_id)


def _has_unread_marker(tenant_id: Any, user_id: Any, image_id: Any) -> ColumnElement[bool]:
    """The rule for an image, marker by marker (`tenant_id`, `user_id` may be columns of the enclosing query)."""
    return exists(select(markers.c.id).where(markers.c.image_id == image_id, is_unread(tenant_id, user_id))
                  .correlate_except(markers))


def image_unread(tenant_id: Any, user_id: Any, image_id: Any) -> ColumnElement[bool]:
    """Whether the user has an unread marker on the image (`images` must be in the query): read
    whole as of its newest comment, else asked marker by marker."""
    read_whole = exists(select(images_read.c.image_id).where(
        images_read.c.tenant_id == tenant_id, images_read.c.user_id == user_id, images_read.c.image_id == image_id,
        images_read.c.last_comment_id == images.c.last_comment_id,
    ))
    return and_(~read_whole, _has_unread_marker(tenant_id, user_id, image_id))


def unread_by_image(conn: Connection, tenant_id: str, user_id: str, image_ids: Collection[int]) -> dict[int, list[str]]:
    """The user's unread markers of each image, in number order (the inbox rows' `unread`)."""
    if not image_ids:
        return {}
    query = (select(markers.c.image_id, markers.c.id)
             .where(markers.c.image_id.in_(sorted(image_ids)), is_unread(tenant_id, user_id))
             .order_by(markers.c.image_id, markers.c.number))
    found: dict[int, list[str]] = {image_id: [] for image_id in image_ids}
    for row in conn.execute(query):
        found[row.image_id].append(row.id)
    return found


def unread_markers(conn: Connection, tenant_id: str, user_id: str, image_id: int) -> list[ReadPosition]:
    """The user's unread markers of one image, each with the seq of its newest unread comment."""
    query = (select(markers.c.id, _others_newest(user_id).label("newest"))
             .where(markers.c.image_id == image_id, is_unread(tenant_id, user_id)).order_by(markers.c.number))
    return [ReadPosition(marker_id=row.id, seq=row.newest) for row in conn.execute(query)]


class ReadStatements:
    """The statements of the write path, built once (see store._Statements for why)."""

    def __init__(self, is_sqlite: bool) -> None:
        insert = sqlite.insert if is_sqlite else postgresql.insert
        tenant, user = bindparam("b_tenant", type_=String), bindparam("b_user", type_=String)
        image = bindparam("b_image", type_=Integer)
        upsert = insert(read_positions).values(
            tenant_id=tenant, user_id=user, marker_id=bindparam("b_marker"), image_id=image, seq=bindparam("b_seq"))
        # Never down: of two calls at once, the higher position stays.
        self.advance = upsert.on_conflict_do_update(
            index_elements=["tenant_id", "user_id", "marker_id"], set_={"seq": upsert.excluded.seq},
            where=read_positions.c.seq < upsert.excluded.seq,
        )
        self.positions = select(read_positions.c.marker_id, read_positions.c.seq).where(
            read_positions.c.tenant_id == tenant, read_positions.c.user_id == user,
            read_positions.c.image_id == image,
        )
        self.forget_whole = images_read.delete().where(
            images_read.c.tenant_id == tenant, images_read.c.user_id == user, images_read.c.image_id == image)
        read_now = select(tenant, user, images.c.id, images.c.last_comment_id).where(
            images.c.id == image, images.c.last_comment_id.is_not(None),
            ~_has_unread_marker(tenant, user, images.c.id),
        )
        self.note_whole = images_read.insert().from_select(
            ["tenant_id", "user_id", "image_id", "last_comment_id"], read_now)


@dataclass(frozen=True, slots=True)
class Moved:
    """What moving read positions did: the positions that moved, and the ids of the user's
    notifications it marked read."""

    positions: list[ReadPosition]
    notifications: list[int]


def behind(conn: Connection, r: ReadStatements, tenant_id: str, user_id: str, image_id: int,
           marker_ids: Sequence[str], seq: int) -> list[str]:
    """Of these markers of the image, those the user's position on is below `seq`."""
    if seq <= 0:
        return []
    old = {row.marker_id: row.seq for row in conn.execute(
        r.positions, {"b_tenant": tenant_id, "b_user": user_id, "b_image": image_id})}
    return [m for m in marker_ids if old.get(m, 0) < seq]


def advance(conn: Connection, r: ReadStatements, n: NotificationStatements, tenant_id: str, user_id: str,
            image_id: int, marker_ids: Sequence[str], seq: int) -> Moved:
    """Move the user's positions on these markers of the image, all `behind` it, up to `seq` (a
    position another call moved higher meanwhile stays); mark read their notifications of writes up
    to there; note whether the image is now read whole."""
    if not marker_ids:
        return Moved([], [])
    who = {"b_tenant": tenant_id, "b_user": user_id, "b_image": image_id}
    conn.execute(r.advance, [who | {"b_marker": marker_id, "b_seq": seq} for marker_id in marker_ids])
    marked = mark_marker_notifications(conn, n, tenant_id, user_id, marker_ids, seq)
    conn.execute(r.forget_whole, who)
    conn.execute(r.note_whole, who)
    return Moved([ReadPosition(marker_id=m, seq=seq) for m in marker_ids], marked)


def markers_read_frame(key: str, positions: list[ReadPosition]) -> str:
    return MarkersRead(image=key, markers=positions).model_dump_json()


def seed_read_positions(conn: Connection) -> None:
    """The migration to schema 6: each user's position on each marker they wrote on, at their newest
    comment there; and the images they have then read whole."""
    own = (select(images.c.tenant_id, comments.c.user_id, markers.c.id, markers.c.image_id, func.max(comments.c.seq))
           .select_from(comments).join(markers, markers.c.id == comments.c.marker_id)
           .join(images, images.c.id == markers.c.image_id)
           .group_by(images.c.tenant_id, comments.c.user_id, markers.c.id, markers.c.image_id))
    conn.execute(read_positions.insert().from_select(["tenant_id", "user_id", "marker_id", "image_id", "seq"], own))
    note_images_read_whole(conn)


def note_images_read_whole(conn: Connection) -> None:
    """For every user with read positions on an image, whether they have read it whole (`images_read`
    empty before): the migration's, and a benchmark's after loading positions in bulk."""
    pairs = select(read_positions.c.tenant_id, read_positions.c.user_id, read_positions.c.image_id).distinct() \
        .subquery("pairs")
    whole = (select(pairs.c.tenant_id, pairs.c.user_id, pairs.c.image_id, images.c.last_comment_id)
             .join(images, images.c.id == pairs.c.image_id)
             .where(images.c.last_comment_id.is_not(None),
                    ~_has_unread_marker(pairs.c.tenant_id, pairs.c.user_id, pairs.c.image_id)))
    conn.execute(images_read.insert().from_select(["tenant_id", "user_id", "image_id", "last_comment_id"], whole))

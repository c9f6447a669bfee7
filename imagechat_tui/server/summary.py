"""The inbox summary of each image (its open and resolved counts, last activity, newest comment)
and who took part in it, kept by every write in that write's own transaction.

The rules are here once, as SQL: a write that adds (a marker, a comment) or changes a status
applies its difference (`touch`); one that removes (a marker, a comment, the whole image) counts
the image again from its markers and comments (`recount`), which costs what the image holds. The
migration that adds the columns fills them with the same expressions for every image.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    ScalarSelect,
    and_,
    bindparam,
    func,
    select,
    union,
)
from sqlalchemy.dialects import postgresql, sqlite

from ..protocol.events import InboxRemoved, InboxRow
from ..protocol.imagekey import is_content_key, legacy_source
from ..protocol.limits import EXCERPT_LENGTH
from ..protocol.models import ImageSummary, LastComment, UserRef
from .schema import comments, image_files, images, markers, participants


def _count(status: str, image_id: Any) -> ScalarSelect[int]:
    return (select(func.count()).select_from(markers)
            .where(markers.c.image_id == image_id, markers.c.status == status).scalar_subquery())


def _newest_comment(image_id: Any) -> ScalarSelect[str]:
    """The newest comment not deleted: the image's seq orders its comments totally."""
    return (select(comments.c.id).join(markers, markers.c.id == comments.c.marker_id)
            .where(markers.c.image_id == image_id, comments.c.deleted.is_(False))
            .order_by(comments.c.seq.desc()).limit(1).scalar_subquery())


def _participations(image_filter: ColumnElement[bool] | None) -> Any:
    """(image_id, user_id) of everyone who created a marker or wrote a comment still there."""
    creators = select(markers.c.image_id, markers.c.created_by_id.label("user_id"))
    writers = (select(markers.c.image_id, comments.c.user_id)
               .join(comments, comments.c.marker_id == markers.c.id).where(comments.c.deleted.is_(False)))
    if image_filter is not None:
        creators, writers = creators.where(image_filter), writers.where(image_filter)
    return union(creators, writers).subquery("taking_part")


def _participants_insert(image_filter: ColumnElement[bool] | None) -> Any:
    taking_part = _participations(image_filter)
    rows = (select(taking_part.c.image_id, taking_part.c.user_id, images.c.tenant_id, images.c.last_activity_at)
            .join(images, images.c.id == taking_part.c.image_id)
            .where(images.c.last_activity_at.is_not(None)))
    return participants.insert().from_select(["image_id", "user_id", "tenant_id", "last_activity_at"], rows)


def fill_summaries(conn: Connection) -> None:
    """Give every image its summary and participants (the migration that adds them): the last
    activity is the newest time a marker or comment was written or edited."""
    newest = [
        select(func.max(markers.c.created_at)).where(markers.c.image_id == images.c.id).scalar_subquery(),
        select(func.max(func.coalesce(comments.c.edited_at, comments.c.created_at)))
        .join(markers, markers.c.id == comments.c.marker_id)
        .where(markers.c.image_id == images.c.id).scalar_subquery(),
    ]
    conn.execute(images.update().values(
        open_count=_count("open", images.c.id), resolved_count=_count("resolved", images.c.id),
        last_comment_id=_newest_comment(images.c.id),
        # Comments are never older than their marker: the marker's time when there is no comment.
        last_activity_at=func.coalesce(newest[1], newest[0]),
    ))
    conn.execute(_participants_insert(None))


class SummaryStatements:
    """The statements of the write path, built once (see store._Statements for why)."""

    def __init__(self, is_sqlite: bool) -> None:
        insert = sqlite.insert if is_sqlite else postgresql.insert
        image = bindparam("b_image")
        self.touch = images.update().where(images.c.id == image).values(
            last_activity_at=bindparam("b_at"),
            open_count=images.c.open_count + bindparam("b_open"),
            resolved_count=images.c.resolved_count + bindparam("b_resolved"),
            last_comment_id=func.coalesce(bindparam("b_comment", type_=comments.c.id.type), images.c.last_comment_id),
        )
        self.recount = images.update().where(images.c.id == image).values(
            last_activity_at=bindparam("b_at"), open_count=_count("open", image),
            resolved_count=_count("resolved", image), last_comment_id=_newest_comment(image),
        )
        self.touch_participants = (participants.update().where(participants.c.image_id == image)
                                   .values(last_activity_at=bindparam("b_at")))
        self.take_part = insert(participants).values(
            image_id=image, user_id=bindparam("b_user"), tenant_id=bindparam("b_tenant"),
            last_activity_at=bindparam("b_at"),
        ).on_conflict_do_nothing(index_elements=["image_id", "user_id"])
        self.forget_participants = participants.delete().where(participants.c.image_id == image)
        self.find_participants = _participants_insert(markers.c.image_id == image)
        self.row = summary_select(images).where(images.c.id == image)


SUMMARY_COLUMNS = (images.c.id, images.c.tenant_id, images.c.key, images.c.open_count, images.c.resolved_count,
                   images.c.last_activity_at, images.c.last_comment_id)
"""What `summary_select` reads of an image row."""


def summary_select(source: Any) -> Any:
    """Inbox rows as stored: the listing's and the feed's one query shape, over `images` or over
    a subquery of SUMMARY_COLUMNS (a page already chosen, so that `images` is not joined again)."""
    return (
        select(
            source.c.id, source.c.key, source.c.open_count, source.c.resolved_count, source.c.last_activity_at,
            # The inbox name of a stored image: where it came from, else the uploaded file's name.
            func.coalesce(image_files.c.source, image_files.c.name).label("source"),
            image_files.c.key.label("file_key"),
            comments.c.user_id.label("c_user_id"), comments.c.user_name.label("c_user_name"),
            func.substr(comments.c.text, 1, EXCERPT_LENGTH).label("c_excerpt"),
            comments.c.created_at.label("c_created_at"), markers.c.number.label("c_marker_number"),
            comments.c.marker_id.label("c_marker_id"),
        )
        .select_from(source)
        .outerjoin(image_files, and_(image_files.c.tenant_id == source.c.tenant_id, image_files.c.key == source.c.key))
        .outerjoin(comments, comments.c.id == source.c.last_comment_id)
        .outerjoin(markers, markers.c.id == comments.c.marker_id)
    )


def in_inbox(row: Row[Any]) -> bool:
    """Whether the image has a conversation: at least one marker."""
    return bool(row.open_count or row.resolved_count)


def summary_of(row: Row[Any], unread: list[str] | None = None) -> ImageSummary:
    """An inbox row; `unread`: the caller's unread markers (None in the feed, the same for everyone)."""
    last = None
    if row.c_user_id is not None:
        last = LastComment(user=UserRef(id=row.c_user_id, name=row.c_user_name), excerpt=row.c_excerpt,
                           created_at=row.c_created_at, marker_number=row.c_marker_number,
                           marker_id=row.c_marker_id)
    return ImageSummary(
        key=row.key, name=image_name(row.key, row.source), stored=row.file_key is not None,
        open_count=row.open_count, resolved_count=row.resolved_count, last_activity_at=row.last_activity_at,
        last_comment=last, unread=unread,
    )


def image_name(key: str, source: str | None) -> str | None:
    """What the inbox calls an image: where it came from or its file name, as uploaded; an image
    of the previous version, keyed by its URL, by that URL without credentials, query or fragment
    (never the key itself, which may hold them)."""
    return source if is_content_key(key) else legacy_source(key)


def feed_frame(row: Row[Any]) -> str:
    """The inbox feed's frame for an image after a write: its row, or its leaving the inbox."""
    if in_inbox(row):
        return InboxRow(row=summary_of(row)).model_dump_json()
    return InboxRemoved(key=row.key).model_dump_json()

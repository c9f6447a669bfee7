"""Storage of markers, comments, the event log and idempotency receipts.

Every write runs in one transaction that first raises the image's seq (`UPDATE … RETURNING`, which
holds the image row's lock on PostgreSQL and the database's write lock on SQLite), then validates
against what it now sees, writes, appends its event and its receipt. A write that fails validation
rolls back, so its seq is never used and nothing is published.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, bindparam, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from ..protocol.changes import edited, patch_change, patched, removed_by_delete, tombstone
from ..protocol.events import (
    AnyEvent,
    DeletedImage,
    DeletedImageChat,
    EventBase,
    ImageChatUpdated,
    InboxRemoved,
    NewImageChat,
    encode_event,
)
from ..protocol.imagekey import is_content_key, legacy_source
from ..protocol.imagekey import key_digest as key_hash  # the digest every key is indexed by
from ..protocol.limits import EXCERPT_LENGTH, KEPT_EVENTS
from ..protocol.mentions import excerpt, mentioned_ids
from ..protocol.models import (
    AddComment,
    AdoptResult,
    ChatsPage,
    Comment,
    CommentResult,
    CreateChat,
    EditComment,
    ImageInfo,
    ImagesPage,
    Marker,
    MarkerResult,
    MarkersReadResult,
    MarkMarkersRead,
    MarkRead,
    Model,
    NotificationsPage,
    PatchChat,
    ReadResult,
    Role,
    SeqResult,
    UnreadMarkers,
    UserRef,
    now_iso,
)
from ..protocol.permissions import may_change
from .database import Database
from .domain_errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from .imagefile import Decoded
from .inbox import InboxQuery, images_page
from .notification_pruning import PruneStatements, Retention
from .notifications import (
    About,
    ListQuery,
    NotificationStatements,
    check_mentions,
    forget_comments,
    mark_read,
    notifications_page,
    read_frame,
    store_notifications,
    unread_count,
)
from .notify_rules import Occasion, recipients
from .reads import Moved, ReadStatements, advance, behind, markers_read_frame, unread_markers
from .schema import (
    comments,
    events,
    image_files,
    images,
    images_read,
    markers,
    notifications,
    read_positions,
    receipts,
    tenants,
    tokens,
    usage,
)
from .search import search_for
from .summary import SummaryStatements, feed_frame, image_name, in_inbox

CONVERSATION_CREATE_COUNT = "conversationCreateCount"
RECEIPT_MATCHES_PER_STATEMENT = 100
TRIM_EVERY = 100
"""An image's old events are deleted on every 100th seq, so it keeps KEPT_EVENTS to KEPT_EVENTS + 99:
one DELETE per write was an eighth of a comment's transaction."""


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(6)}"


def token_hash(token: str) -> str:
    # Tokens are 256 random bits: a fast hash is enough, there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def topic_of(tenant_id: str, key: str) -> str:
    """The pub/sub topic of one image of one tenant."""
    return f"{tenant_id}/{key_hash(key)}"


INBOX_TOPIC = "inbox"


def inbox_topic(tenant_id: str) -> str:
    """The pub/sub topic of one tenant's inbox feed (an image's topic ends in 64 hex digits instead)."""
    return f"{tenant_id}/{INBOX_TOPIC}"


def is_inbox_topic(topic: str) -> bool:
    return topic.endswith("/" + INBOX_TOPIC)


USER_TOPIC = "user"


def user_topic(tenant_id: str, user_id: str) -> str:
    """The pub/sub topic of one user's notifications."""
    return f"{tenant_id}/{USER_TOPIC}/{key_hash(user_id)}"


def is_user_topic(topic: str) -> bool:
    return topic.split("/")[-2:-1] == [USER_TOPIC]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a valid token says the caller is."""

    token_id: str
    tenant_id: str
    tenant_name: str
    user_id: str
    user_name: str
    role: Role

    @property
    def user(self) -> UserRef:
        return UserRef(id=self.user_id, name=self.user_name)


@dataclass(frozen=True, slots=True)
class Committed:
    """A write's outcome: its REST answer and, unless it replays an earlier write, what to publish."""

    status: int
    body: str
    topic: str | None = None
    seq: int = 0
    event: str | None = None
    inbox_topic: str | None = None
    inbox: str | None = None
    """The image's inbox feed frame after the write (`inbox-row` or `inbox-removed`)."""
    notify: tuple[tuple[str, int, str], ...] = ()
    """(user topic, a number other than 0, frame) of each frame for a user's feed: the `notification`
    frames of the notifications the write made (numbered by their ids), and the writer's
    `markers-read` and `notifications-read` (numbered by the seq)."""


@dataclass(frozen=True, slots=True)
class Adoption:
    """An adoption's answer, and the events to publish (none if nothing was moved)."""

    result: AdoptResult
    published: list[Committed]


@dataclass(frozen=True, slots=True)
class StoredImage:
    """An image's bytes as served: its format and its content (or thumbnail)."""

    format: str
    data: bytes


@dataclass(frozen=True, slots=True)
class History:
    """What a subscriber needs to catch up: the events after `since`, or None if they are gone."""

    key: str
    seq: int
    events: list[str] | None


@dataclass(slots=True)
class _Change:
    image_id: int
    topic: str
    result: Model
    event: EventBase
    summary: _SummaryChange | None = None
    """How the write changes the image's inbox summary; None: only its last activity."""
    notice: _Notice | None = None
    """Whom the write may notify, and about what; None: no one."""
    read: str | None = None
    """The marker the write marks read for the writer (up to the write): one it placed or commented on."""


@dataclass(frozen=True, slots=True)
class _Notice:
    occasion: Occasion
    marker_id: str
    marker_number: int
    comment_id: str | None
    text: str


@dataclass(frozen=True, slots=True)
class _SummaryChange:
    opened: int = 0
    resolved: int = 0
    last_comment: str | None = None
    """The comment the write added: the image's newest."""
    took_part: bool = False
    """The writer created a marker or a comment."""
    recount: bool = False
    """The write removed something: count the image again (`summary.SummaryStatements.recount`)."""


_RECOUNT = _SummaryChange(recount=True)


_MarkerRow = Row[Any]
_Op = Callable[[Connection], _Change]


class _Statements:
    """Every statement of the hot paths, built once: a statement object made anew for each call
    costs SQLAlchemy about 75 µs to construct and key, four times its execution (measured here).
    Parameters are bound by name at execution; `b_` names keep clear of column names."""

    def __init__(self, is_sqlite: bool) -> None:
        insert = sqlite.insert if is_sqlite else postgresql.insert
        self.principal = (
            select(tokens, tenants.c.name.label("tenant_name"))
            .join(tenants, tenants.c.id == tokens.c.tenant_id)
            .where(tokens.c.token_hash == bindparam("b_hash"), tokens.c.revoked_at.is_(None))
        )
        self.people = (
            select(tokens.c.user_id, tokens.c.user_name)
            .where(tokens.c.tenant_id == bindparam("b_tenant"), tokens.c.revoked_at.is_(None))
            .order_by(tokens.c.created_at, tokens.c.id)
        )
        self.revoked = select(tokens.c.id, tokens.c.revision).where(tokens.c.revision > bindparam("b_revision"))
        self.image = select(images.c.id, images.c.seq).where(
            images.c.tenant_id == bindparam("b_tenant"), images.c.key_hash == bindparam("b_key_hash")
        )
        self.lock_image = (
            select(images.c.id, images.c.key, images.c.seq, images.c.last_number)
            .where(images.c.tenant_id == bindparam("b_tenant"), images.c.key_hash == bindparam("b_key_hash"))
            .with_for_update()
        )
        self.new_image_file = insert(image_files).on_conflict_do_nothing(index_elements=["tenant_id", "key"])
        self.new_image = insert(images).on_conflict_do_nothing(index_elements=["tenant_id", "key_hash"])
        self.bump = (
            images.update()
            .where(images.c.id == bindparam("b_image"))
            .values(seq=images.c.seq + 1)
            .returning(images.c.seq)
        )
        # A new marker's seq and number in one statement, under the image row's lock, so that
        # concurrent creates get distinct numbers.
        self.bump_numbered = (
            images.update()
            .where(images.c.id == bindparam("b_image"))
            .values(seq=images.c.seq + 1, last_number=images.c.last_number + 1)
            .returning(images.c.seq, images.c.last_number)
        )
        marker_image = select(markers.c.image_id).where(markers.c.id == bindparam("b_marker")).scalar_subquery()
        self.bump_marker_image = (
            images.update()
            .where(images.c.id == marker_image, images.c.tenant_id == bindparam("b_tenant"))
            .values(seq=images.c.seq + 1)
            .returning(images.c.seq)
        )
        self.markers_of_image = (
            select(markers).where(markers.c.image_id == bindparam("b_image")).order_by(markers.c.seq)
        )
        self.comments_of_image = (
            select(comments)
            .join(markers, markers.c.id == comments.c.marker_id)
            .where(markers.c.image_id == bindparam("b_image"))
            .order_by(comments.c.seq)
        )
        self.events_after = (
            select(events.c.seq, events.c.body)
            .where(events.c.image_id == bindparam("b_image"), events.c.seq > bindparam("b_since"))
            .order_by(events.c.seq)
        )
        self.marker_in_tenant = (
            select(markers.c.id, markers.c.image_id, markers.c.created_by_id, markers.c.number, images.c.key)
            .join(images, images.c.id == markers.c.image_id)
            .where(markers.c.id == bindparam("b_marker"), images.c.tenant_id == bindparam("b_tenant"))
        )
        self.marker = select(markers).where(markers.c.id == bindparam("b_marker"))
        self.place_marker = (
            markers.update()
            .where(markers.c.id == bindparam("b_marker"))
            .values(x=bindparam("b_x"), y=bindparam("b_y"), status=bindparam("b_status"))
        )
        self.comments_of_marker = (
            select(comments).where(comments.c.marker_id == bindparam("b_marker")).order_by(comments.c.seq)
        )
        self.comment = select(comments).where(comments.c.id == bindparam("b_comment"))
        self.comment_marker = select(comments.c.marker_id).where(comments.c.id == bindparam("b_comment"))
        self.parent = select(comments.c.marker_id, comments.c.user_id).where(comments.c.id == bindparam("b_comment"))
        self.commenters = select(comments.c.user_id).distinct().where(
            comments.c.marker_id == bindparam("b_marker"), comments.c.deleted.is_(False))
        self.thread_links = select(comments.c.id, comments.c.parent_id, comments.c.deleted).where(
            comments.c.marker_id == bindparam("b_marker")
        )
        self.insert_marker = markers.insert()
        self.insert_comment = comments.insert()
        self.edit_comment = (
            comments.update()
            .where(comments.c.id == bindparam("b_comment"))
            .values(text=bindparam("b_text"), edited_at=bindparam("b_edited_at"))
        )
        self.tombstone = comments.update().where(comments.c.id == bindparam("b_comment")).values(text="", deleted=True)
        self.delete_comments = comments.delete().where(comments.c.id.in_(bindparam("b_comments", expanding=True)))
        self.delete_thread = comments.delete().where(comments.c.marker_id == bindparam("b_marker"))
        self.delete_marker = markers.delete().where(markers.c.id == bindparam("b_marker"))
        self.insert_event = events.insert()
        self.trim_events = events.delete().where(
            events.c.image_id == bindparam("b_image"), events.c.seq <= bindparam("b_oldest")
        )
        self.receipt = select(receipts.c.fingerprint, receipts.c.status, receipts.c.body).where(
            receipts.c.tenant_id == bindparam("b_tenant"),
            receipts.c.user_id == bindparam("b_user"),
            receipts.c.broadcast_id == bindparam("b_broadcast"),
        )
        self.insert_receipt = receipts.insert()
        self.add_usage = (
            insert(usage)
            .values(tenant_id=bindparam("b_tenant"), name=bindparam("b_name"), value=bindparam("b_delta"))
            .on_conflict_do_update(
                index_elements=["tenant_id", "name"], set_={"value": usage.c.value + bindparam("b_delta")}
            )
        )


class Store:
    def __init__(self, db: Database, retention: Retention | None = None) -> None:
        self.db = db
        self.prune = PruneStatements(retention or Retention())
        self.q = _Statements(db.is_sqlite)
        self.s = SummaryStatements(db.is_sqlite)
        self.n = NotificationStatements(db.is_sqlite)
        self.r = ReadStatements(db.is_sqlite)
        self.search = search_for("sqlite" if db.is_sqlite else "postgresql")

    # Auth and tenants

    async def principal(self, token: str) -> Principal | None:
        params = {"b_hash": token_hash(token)}
        row = await self.db.lookup(lambda conn: conn.execute(self.q.principal, params).first())
        if row is None:
            return None
        return Principal(row.id, row.tenant_id, row.tenant_name, row.user_id, row.user_name, row.role)

    async def revocations_after(self, revision: int) -> tuple[int, list[str]]:
        """Token ids revoked after `revision`, and the newest revision seen."""
        params = {"b_revision": revision}
        rows = await self.db.run(lambda conn: conn.execute(self.q.revoked, params).all(), snapshot=True)
        return max((r.revision for r in rows), default=revision), [r.id for r in rows]

    async def people(self, tenant_id: str) -> list[UserRef]:
        """The tenant's users who hold a token that is not revoked, by name; a user's name is the
        one on their newest token."""
        params = {"b_tenant": tenant_id}
        rows = await self.db.run(lambda conn: conn.execute(self.q.people, params).all(), snapshot=True)
        names = {row.user_id: row.user_name for row in rows}  # oldest first: the newest name wins
        return sorted((UserRef(id=uid, name=name) for uid, name in names.items()),
                      key=lambda user: (user.name.casefold(), user.id))

    # Reads

    async def chats(self, p: Principal, key: str) -> ChatsPage:
        def work(conn: Connection) -> ChatsPage:
            image = self._image(conn, p.tenant_id, key)
            if image is None:
                return ChatsPage(image=key, seq=0, markers=[])
            return ChatsPage(image=key, seq=image.seq, markers=self._markers(conn, image.id, key))

        return await self.db.run(work, snapshot=True)

    async def history(self, p: Principal, key: str, since: int) -> History:
        """The events after `since`; `events` is None when they are no longer all kept."""
        return await self.image_history(p.tenant_id, key, since)

    async def image_history(self, tenant_id: str, key: str, since: int) -> History:
        """`history` of one tenant's image, for the server's own catch-up (no caller to check)."""

        def work(conn: Connection) -> History:
            image = self._image(conn, tenant_id, key)
            seq = image.seq if image is not None else 0
            if since > seq or since < 0:
                return History(key, seq, None)
            if since == seq:
                return History(key, seq, [])
            assert image is not None
            rows = conn.execute(self.q.events_after, {"b_image": image.id, "b_since": since}).all()
            if not rows or rows[0].seq != since + 1:
                return History(key, seq, None)
            return History(key, seq, [r.body for r in rows])

        return await self.db.run(work, snapshot=True)

    def _image(self, conn: Connection, tenant_id: str, key: str) -> Row[Any] | None:
        return conn.execute(self.q.image, {"b_tenant": tenant_id, "b_key_hash": key_hash(key)}).first()

    def _markers(self, conn: Connection, image_id: int, key: str) -> list[Marker]:
        params = {"b_image": image_id}
        by_marker: dict[str, list[Comment]] = {}
        for row in conn.execute(self.q.comments_of_image, params):
            by_marker.setdefault(row.marker_id, []).append(_comment(row))
        return [_marker(row, key, by_marker.get(row.id, [])) for row in conn.execute(self.q.markers_of_image, params)]

    # Writes

    async def create_marker(self, p: Principal, body: CreateChat, fingerprint: str) -> Committed:
        def op(conn: Connection) -> _Change:
            mentioned = mentioned_ids(body.text)
            check_mentions(conn, self.n, p.tenant_id, mentioned)
            image_id = self._ensure_image(conn, p.tenant_id, body.image)
            seq, number = conn.execute(self.q.bump_numbered, {"b_image": image_id}).one()
            now = now_iso()
            marker = Marker(id=new_id("m"), image=body.image, number=number, x=body.x, y=body.y, status="open",
                            created_at=now, created_by=p.user)
            comment = Comment(id=new_id("c"), marker_id=marker.id, user=p.user, text=body.text, created_at=now)
            marker.comments.append(comment)
            conn.execute(self.q.insert_marker, {
                "id": marker.id, "image_id": image_id, "x": marker.x, "y": marker.y, "status": marker.status,
                "created_at": now, "created_by_id": p.user_id, "created_by_name": p.user_name, "seq": seq,
                "number": number,
            })
            self._insert_comment(conn, comment, seq)
            self._add_usage(conn, p.tenant_id, {CONVERSATION_CREATE_COUNT: 1})
            event = NewImageChat(image=body.image, seq=seq, broadcast_id=body.broadcast_id, marker_id=marker.id,
                                 marker=marker)
            notice = _Notice(Occasion(p.user_id, "comment", p.user_id, mentioned=mentioned), marker.id, number,
                             comment.id, comment.text)
            return _Change(image_id, topic_of(p.tenant_id, body.image), MarkerResult(marker=marker, seq=seq), event,
                           _SummaryChange(opened=1, last_comment=comment.id, took_part=True), notice, marker.id)

        return await self._write(p, body.broadcast_id, fingerprint, 201, op)

    async def add_comment(self, p: Principal, marker_id: str, body: AddComment, fingerprint: str) -> Committed:
        def op(conn: Connection) -> _Change:
            row, seq = self._lock_marker(conn, p, marker_id)
            parent_author = None
            if body.parent_id is not None:
                parent = conn.execute(self.q.parent, {"b_comment": body.parent_id}).first()
                if parent is None or parent.marker_id != marker_id:
                    raise Invalid("parentId is not a comment of this marker")
                parent_author = parent.user_id
            mentioned = mentioned_ids(body.text)
            check_mentions(conn, self.n, p.tenant_id, mentioned)
            commenters = set(conn.execute(self.q.commenters, {"b_marker": marker_id}).scalars())
            comment = Comment(id=new_id("c"), marker_id=marker_id, parent_id=body.parent_id, user=p.user,
                              text=body.text, created_at=now_iso())
            self._insert_comment(conn, comment, seq)
            change = self._comment_change(p, row, seq, body.broadcast_id, "comment-added", comment,
                                          CommentResult(comment=comment, seq=seq))
            change.summary = _SummaryChange(last_comment=comment.id, took_part=True)
            occasion = Occasion(p.user_id, "comment", row.created_by_id, commenters, parent_author, mentioned)
            change.notice = _Notice(occasion, marker_id, row.number, comment.id, comment.text)
            change.read = marker_id
            return change

        return await self._write(p, body.broadcast_id, fingerprint, 201, op)

    async def patch_marker(self, p: Principal, marker_id: str, body: PatchChat, fingerprint: str) -> Committed:
        if body.status is None and body.x is None and body.y is None:
            raise Invalid("nothing to change: give status, x or y")

        def op(conn: Connection) -> _Change:
            row, seq = self._lock_marker(conn, p, marker_id)
            change = patch_change(body)
            if change == "moved" and not may_change(p.role, p.user_id, row.created_by_id):
                raise Forbidden("only the marker's creator or a moderator can move it")
            thread = [_comment(c) for c in conn.execute(self.q.comments_of_marker, {"b_marker": marker_id})]
            old = _marker(conn.execute(self.q.marker, {"b_marker": marker_id}).one(), row.key, thread)
            position = patched(old, body)
            conn.execute(self.q.place_marker, {
                "b_marker": marker_id, "b_x": position.x, "b_y": position.y, "b_status": position.status,
            })
            marker = old.model_copy(update=position.model_dump(exclude={"id"}))
            event = ImageChatUpdated(image=row.key, seq=seq, broadcast_id=body.broadcast_id, marker_id=marker_id,
                                     change=change, marker=position)
            reopened = int(position.status == "open") - int(old.status == "open")
            notice = None
            if reopened:
                occasion = Occasion(p.user_id, "reopened" if reopened > 0 else "resolved", row.created_by_id)
                notice = _Notice(occasion, marker_id, row.number, None, "")
            return _Change(row.image_id, topic_of(p.tenant_id, row.key), MarkerResult(marker=marker, seq=seq), event,
                           _SummaryChange(opened=reopened, resolved=-reopened), notice)

        return await self._write(p, body.broadcast_id, fingerprint, 200, op)

    async def delete_marker(self, p: Principal, marker_id: str, broadcast_id: str, fingerprint: str) -> Committed:
        def op(conn: Connection) -> _Change:
            row, seq = self._lock_marker(conn, p, marker_id)
            if not may_change(p.role, p.user_id, row.created_by_id):
                raise Forbidden("only the marker's creator or a moderator can delete it")
            conn.execute(self.q.delete_thread, {"b_marker": marker_id})
            conn.execute(self.q.delete_marker, {"b_marker": marker_id})
            conn.execute(self.n.forget_marker, {"b_marker": marker_id})
            event = DeletedImageChat(image=row.key, seq=seq, broadcast_id=broadcast_id, marker_id=marker_id)
            return _Change(row.image_id, topic_of(p.tenant_id, row.key), SeqResult(seq=seq), event, _RECOUNT)

        return await self._write(p, broadcast_id, fingerprint, 200, op)

    async def edit_comment(self, p: Principal, comment_id: str, body: EditComment, fingerprint: str) -> Committed:
        def op(conn: Connection) -> _Change:
            row, seq, old = self._lock_comment(conn, p, comment_id, "edit")
            before = set(mentioned_ids(old.text))
            mentioned = [user for user in mentioned_ids(body.text) if user not in before]
            check_mentions(conn, self.n, p.tenant_id, mentioned)
            edited_at = now_iso()
            conn.execute(self.q.edit_comment, {"b_comment": comment_id, "b_text": body.text, "b_edited_at": edited_at})
            conn.execute(self.n.reword, {"b_marker": row.id, "b_comment": comment_id,
                                         "b_excerpt": excerpt(body.text, EXCERPT_LENGTH)})
            comment = edited(_comment(old), body.text, edited_at)
            change = self._comment_change(p, row, seq, body.broadcast_id, "comment-edited", comment,
                                          CommentResult(comment=comment, seq=seq))
            occasion = Occasion(p.user_id, "edit", row.created_by_id, mentioned=mentioned)
            change.notice = _Notice(occasion, row.id, row.number, comment_id, body.text)
            return change

        return await self._write(p, body.broadcast_id, fingerprint, 200, op)

    async def delete_comment(self, p: Principal, comment_id: str, broadcast_id: str, fingerprint: str) -> Committed:
        def op(conn: Connection) -> _Change:
            row, seq, old = self._lock_comment(conn, p, comment_id, "delete")
            self._remove_comment(conn, row.id, comment_id)
            comment = tombstone(_comment(old))
            change = self._comment_change(p, row, seq, broadcast_id, "comment-deleted", comment, SeqResult(seq=seq))
            change.summary = _RECOUNT
            return change

        return await self._write(p, broadcast_id, fingerprint, 200, op)

    def _remove_comment(self, conn: Connection, marker_id: str, comment_id: str) -> None:
        """Delete a comment by the rule clients apply to their state too (`removed_by_delete`), and
        the notifications of every comment removed or emptied."""
        gone = removed_by_delete(conn.execute(self.q.thread_links, {"b_marker": marker_id}).all(), comment_id)
        if gone:
            conn.execute(self.q.delete_comments, {"b_comments": sorted(gone)})
        else:
            conn.execute(self.q.tombstone, {"b_comment": comment_id})
        forget_comments(conn, self.n, marker_id, gone or {comment_id})

    def _comment_change(self, p: Principal, row: _MarkerRow, seq: int, broadcast_id: str, change: str,
                        comment: Comment, result: Model) -> _Change:
        event = ImageChatUpdated(image=row.key, seq=seq, broadcast_id=broadcast_id, marker_id=row.id,
                                 change=change, comment=comment)  # type: ignore[arg-type]
        return _Change(row.image_id, topic_of(p.tenant_id, row.key), result, event)

    async def _write(self, p: Principal, broadcast_id: str, fingerprint: str, status: int, op: _Op) -> Committed:
        def work(conn: Connection) -> Committed:
            change = op(conn)
            body = change.result.model_dump_json()
            encoded = encode_event(change.event)
            seq = change.event.seq
            conn.execute(self.q.insert_event, {"image_id": change.image_id, "seq": seq, "body": encoded})
            if seq % TRIM_EVERY == 0:
                conn.execute(self.q.trim_events, {"b_image": change.image_id, "b_oldest": seq - KEPT_EVENTS})
            conn.execute(self.q.insert_receipt, {
                "tenant_id": p.tenant_id, "user_id": p.user_id, "broadcast_id": broadcast_id,
                "fingerprint": fingerprint, "status": status, "body": body, "created_at": now_iso(),
            })
            summary = self._summarise(conn, p, change.image_id, change.summary)
            notify = self._notify(conn, p, change, summary) if change.notice is not None else ()
            if change.read is not None:
                # The write's seq is the image's newest: the writer's position is behind it.
                moved = advance(conn, self.r, self.n, p.tenant_id, p.user_id, change.image_id, [change.read], seq)
                notify += _told_read(p, summary.key, moved)
            return Committed(status, body, change.topic, seq, encoded, inbox_topic(p.tenant_id),
                             feed_frame(summary), notify)

        # A retry is recognised by its receipt only when the write fails, which keeps a statement
        # off every first attempt: a retry either breaks the receipt's unique key (IntegrityError)
        # or, if what it changed has changed since, fails in `op` (a DomainError); either way nothing of
        # it is committed, and the first attempt's answer is given again.
        try:
            return await self.db.run(work)
        except (IntegrityError, DomainError):
            receipt = await self.db.run(lambda conn: self._receipt(conn, p, broadcast_id), snapshot=True)
            if receipt is None:
                raise
            return _replayed(receipt, fingerprint)

    def _notify(self, conn: Connection, p: Principal, change: _Change,
                summary: Row[Any]) -> tuple[tuple[str, int, str], ...]:
        """Store the notifications the rules give for the write; what to publish to whom."""
        notice = change.notice
        assert notice is not None
        told = recipients(notice.occasion)
        if not told:
            return ()
        about = About(change.image_id, summary.key, image_name(summary.key, summary.source), notice.marker_id,
                      notice.marker_number, notice.comment_id, p.user, notice.text, now_iso(), change.event.seq)
        stored = store_notifications(conn, self.n, p.tenant_id, about, told)
        self.prune.trim_due(conn, p.tenant_id, [(out.user_id, out.id) for out in stored])
        return tuple((user_topic(p.tenant_id, out.user_id), out.id, out.frame) for out in stored)

    def _summarise(self, conn: Connection, p: Principal, image_id: int, change: _SummaryChange | None) -> Row[Any]:
        """Bring the image's inbox summary up to date with the write; its summary row."""
        params: dict[str, Any] = {"b_image": image_id, "b_at": now_iso()}
        change = change or _SummaryChange()
        if change.recount:
            self._recount(conn, params)
        else:
            conn.execute(self.s.touch, params | {
                "b_open": change.opened, "b_resolved": change.resolved, "b_comment": change.last_comment,
            })
            conn.execute(self.s.touch_participants, params)
            if change.took_part:
                conn.execute(self.s.take_part, params | {"b_user": p.user_id, "b_tenant": p.tenant_id})
        return conn.execute(self.s.row, params).one()

    def _recount(self, conn: Connection, params: dict[str, Any]) -> None:
        conn.execute(self.s.recount, params)
        conn.execute(self.s.forget_participants, params)
        conn.execute(self.s.find_participants, params)

    def _receipt(self, conn: Connection, p: Principal, broadcast_id: str) -> Row[Any] | None:
        params = {"b_tenant": p.tenant_id, "b_user": p.user_id, "b_broadcast": broadcast_id}
        return conn.execute(self.q.receipt, params).first()

    def _ensure_image(self, conn: Connection, tenant_id: str, key: str) -> int:
        digest = key_hash(key)
        conn.execute(self.q.new_image, {"tenant_id": tenant_id, "key_hash": digest, "key": key, "seq": 0,
                                        "last_number": 0})
        return int(conn.execute(self.q.image, {"b_tenant": tenant_id, "b_key_hash": digest}).one().id)

    def _bump(self, conn: Connection, image_id: int) -> int:
        return int(conn.execute(self.q.bump, {"b_image": image_id}).scalar_one())

    def _find_marker(self, conn: Connection, p: Principal, marker_id: str) -> _MarkerRow | None:
        return conn.execute(self.q.marker_in_tenant, {"b_marker": marker_id, "b_tenant": p.tenant_id}).first()

    def _lock_marker(self, conn: Connection, p: Principal, marker_id: str) -> tuple[_MarkerRow, int]:
        """The marker (NotFound if absent or another tenant's) and the seq this write takes on its image."""
        seq = conn.execute(self.q.bump_marker_image, {"b_marker": marker_id, "b_tenant": p.tenant_id}).scalar()
        # Read after the bump, under the image's lock: a concurrent delete may have won.
        row = self._find_marker(conn, p, marker_id) if seq is not None else None
        if row is None:
            raise NotFound("marker")
        return row, int(seq)

    def _lock_comment(
        self, conn: Connection, p: Principal, comment_id: str, verb: str
    ) -> tuple[_MarkerRow, int, Row[Any]]:
        marker_id = conn.execute(self.q.comment_marker, {"b_comment": comment_id}).scalar()
        if marker_id is None:
            raise NotFound("comment")
        try:
            row, seq = self._lock_marker(conn, p, marker_id)
        except NotFound:
            raise NotFound("comment") from None
        old = conn.execute(self.q.comment, {"b_comment": comment_id}).first()
        if old is None or old.deleted:
            raise NotFound("comment")
        if not may_change(p.role, p.user_id, old.user_id):
            raise Forbidden(f"only the comment's author or a moderator can {verb} it")
        return row, seq, old

    def _insert_comment(self, conn: Connection, comment: Comment, seq: int) -> None:
        conn.execute(self.q.insert_comment, {
            "id": comment.id, "marker_id": comment.marker_id, "parent_id": comment.parent_id,
            "user_id": comment.user.id, "user_name": comment.user.name, "text": comment.text,
            "created_at": comment.created_at, "deleted": False, "seq": seq,
        })

    # The inbox

    async def images_page(self, q: InboxQuery) -> ImagesPage:
        return await self.db.run(lambda conn: images_page(conn, self.search, q), snapshot=True)

    # Notifications

    async def list_notifications(self, q: ListQuery) -> NotificationsPage:
        return await self.db.run(lambda conn: notifications_page(conn, q), snapshot=True)

    async def mark_read(self, p: Principal, body: MarkRead) -> ReadResult:
        def work(conn: Connection) -> ReadResult:
            marked = mark_read(conn, p.tenant_id, p.user_id, body)
            return ReadResult(read=marked, unread_count=unread_count(conn, p.tenant_id, p.user_id))

        return await self.db.run(work)

    # Unread markers

    async def unread(self, p: Principal, key: str) -> UnreadMarkers:
        def work(conn: Connection) -> UnreadMarkers:
            image = self._image(conn, p.tenant_id, key)
            if image is None:
                return UnreadMarkers(image=key, seq=0, markers=[])
            return UnreadMarkers(image=key, seq=image.seq,
                                 markers=unread_markers(conn, p.tenant_id, p.user_id, image.id))

        return await self.db.run(work, snapshot=True)

    async def read_markers(self, p: Principal, key: str, body: MarkMarkersRead) -> tuple[MarkersReadResult, Committed]:
        """Move the caller's read positions on the image (`body.markerId`, or every marker placed by
        `body.seq`) up to `body.seq`, at most the image's seq; the positions that moved, and the frames
        that tell the caller's viewers."""

        def work(conn: Connection) -> tuple[MarkersReadResult, Committed]:
            image = self._image(conn, p.tenant_id, key)
            if body.marker_id is not None:
                row = self._find_marker(conn, p, body.marker_id)
                if image is None or row is None or row.image_id != image.id:
                    raise NotFound("marker")
                chosen = [body.marker_id]
            elif image is None:
                return MarkersReadResult(image=key, markers=[]), Committed(200, "")
            else:
                placed = select(markers.c.id).where(markers.c.image_id == image.id, markers.c.seq <= body.seq)
                chosen = list(conn.execute(placed.order_by(markers.c.number)).scalars())
            seq = min(body.seq, image.seq)
            chosen = behind(conn, self.r, p.tenant_id, p.user_id, image.id, chosen, seq)
            moved = advance(conn, self.r, self.n, p.tenant_id, p.user_id, image.id, chosen, seq)
            return (MarkersReadResult(image=key, markers=moved.positions),
                    Committed(200, "", notify=_told_read(p, key, moved)))

        return await self.db.run(work)

    # Usage figures

    def _add_usage(self, conn: Connection, tenant_id: str, deltas: dict[str, int]) -> None:
        for name, delta in deltas.items():
            conn.execute(self.q.add_usage, {"b_tenant": tenant_id, "b_name": name, "b_delta": delta})

    async def add_usage(self, per_tenant: dict[str, dict[str, int]]) -> None:
        def work(conn: Connection) -> None:
            for tenant_id, deltas in per_tenant.items():
                self._add_usage(conn, tenant_id, deltas)

        if per_tenant:
            await self.db.run(work)

    async def usage(self, tenant_id: str | None = None) -> dict[str, dict[str, int]]:
        """The flushed figures per tenant: one tenant's, or (None) every tenant's."""
        query = select(usage.c.tenant_id, usage.c.name, usage.c.value)
        if tenant_id is not None:
            query = query.where(usage.c.tenant_id == tenant_id)
        rows = await self.db.run(lambda conn: conn.execute(query).all(), snapshot=True)
        figures: dict[str, dict[str, int]] = {}
        for r in rows:
            figures.setdefault(r.tenant_id, {})[r.name] = int(r.value)
        return figures

    # Image files

    async def image_info(self, tenant_id: str, key: str) -> ImageInfo | None:
        query = select(*_INFO_COLUMNS).where(image_files.c.tenant_id == tenant_id, image_files.c.key == key)
        row = await self.db.run(lambda conn: conn.execute(query).first(), snapshot=True)
        return None if row is None else _image_info(row)

    async def image_data(self, tenant_id: str, key: str, thumbnail: bool = False) -> StoredImage | None:
        column = image_files.c.thumbnail if thumbnail else image_files.c.content
        query = select(image_files.c.format, column.label("data")).where(
            image_files.c.tenant_id == tenant_id, image_files.c.key == key
        )
        row = await self.db.run(lambda conn: conn.execute(query).first(), snapshot=True)
        return None if row is None else StoredImage(row.format, bytes(row.data))

    async def put_image(self, p: Principal, key: str, data: bytes, decoded: Decoded,
                        source: str | None, name: str | None = None) -> tuple[bool, ImageInfo, Committed | None]:
        """Store the image unless the tenant has it already: (whether it was new, what is stored, the
        inbox feed's new row when the image has a conversation already: it now has a name and a
        thumbnail). The first upload's source and name stay: the same bytes again change nothing."""
        values = {
            "tenant_id": p.tenant_id, "key": key, "size": len(data), "width": decoded.width,
            "height": decoded.height, "format": decoded.format, "source": source, "name": name,
            "uploaded_by_id": p.user_id,
            "uploaded_by_name": p.user_name, "uploaded_at": now_iso(), "thumbnail": decoded.thumbnail,
            "content": data,
        }
        statement = self.q.new_image_file.values(values)
        query = select(*_INFO_COLUMNS).where(image_files.c.tenant_id == p.tenant_id, image_files.c.key == key)

        def work(conn: Connection) -> tuple[bool, ImageInfo, Committed | None]:
            if conn.execute(statement).rowcount:
                return True, _image_info(conn.execute(query).one()), self._uploaded_row(conn, p.tenant_id, key)
            existing = conn.execute(query).first()
            if existing is None:  # uploaded by another request, and deleted by an admin since
                raise Conflict("the image was deleted while this upload ran: send it again")
            return False, _image_info(existing), None

        return await self.db.run(work, bulky=True)

    def _uploaded_row(self, conn: Connection, tenant_id: str, key: str) -> Committed | None:
        """The inbox feed's frame for an image just uploaded, if it is in the inbox (the viewer
        uploads alongside the first marker, so the row was first sent without name or picture)."""
        image = self._image(conn, tenant_id, key)
        if image is None:
            return None
        row, committed = self._feed(conn, tenant_id, image.id, image.seq)
        return committed if in_inbox(row) else None

    def _feed(self, conn: Connection, tenant_id: str, image_id: int, seq: int) -> tuple[Row[Any], Committed]:
        """An image's inbox row as stored now, and what sends it on the inbox feed alone (no event)."""
        row = conn.execute(self.s.row, {"b_image": image_id}).one()
        return row, Committed(200, "", seq=seq, inbox_topic=inbox_topic(tenant_id), inbox=feed_frame(row))

    async def delete_image(self, tenant_id: str, key: str) -> Committed:
        """Delete an image's bytes and its whole conversation; its subscribers are sent `deleted-image`
        at the next seq (kept as the image's only event, so that a subscriber who missed it recovers it)."""

        def work(conn: Connection) -> Committed:
            files = conn.execute(
                image_files.delete().where(image_files.c.tenant_id == tenant_id, image_files.c.key == key)
            ).rowcount
            image = self._image(conn, tenant_id, key)
            if image is None and not files:
                raise NotFound("image")
            image_id = image.id if image is not None else self._ensure_image(conn, tenant_id, key)
            seq = self._bump(conn, image_id)  # holds the image's lock: no marker is added from here
            marker_ids = list(conn.execute(select(markers.c.id).where(markers.c.image_id == image_id)).scalars())
            if not files and not marker_ids:
                raise NotFound("image")  # the bump is rolled back with the rest
            self._forget_receipts(conn, tenant_id, marker_ids)
            conn.execute(notifications.delete().where(notifications.c.marker_id.in_(
                select(markers.c.id).where(markers.c.image_id == image_id))))
            conn.execute(images_read.delete().where(images_read.c.image_id == image_id))  # positions: with markers
            conn.execute(comments.delete().where(comments.c.marker_id.in_(
                select(markers.c.id).where(markers.c.image_id == image_id))))
            conn.execute(markers.delete().where(markers.c.image_id == image_id))
            conn.execute(events.delete().where(events.c.image_id == image_id))
            self._recount(conn, {"b_image": image_id, "b_at": now_iso()})
            encoded = encode_event(DeletedImage(image=key, seq=seq, broadcast_id=str(uuid.uuid4())))
            conn.execute(self.q.insert_event, {"image_id": image_id, "seq": seq, "body": encoded})
            return Committed(200, SeqResult(seq=seq).model_dump_json(), topic_of(tenant_id, key), seq, encoded,
                             inbox_topic(tenant_id), InboxRemoved(key=key).model_dump_json())

        return await self.db.run(work, bulky=True)

    async def adopt(self, p: Principal, key: str, legacy_hash: str) -> Adoption:
        """Move the previous version's conversation whose URL key hashes to `legacy_hash` under the
        content key `key`, unless `key` has markers already (docs/protocol-notes.md, "Adoption").
        The moved markers arrive on `key` as `new-image-chat` events right after its seq; their
        stored order is kept below it. The legacy key's subscribers are sent `deleted-image`."""

        def work(conn: Connection) -> Adoption:
            # Locked legacy first, then content: two adoptions never wait on each other in a cycle.
            legacy = self._lock_image(conn, p.tenant_id, legacy_hash)
            if legacy is None or is_content_key(legacy.key):
                return self._not_adopted(conn, p.tenant_id, key)
            moved = select(markers.c.id).where(markers.c.image_id == legacy.id)
            if conn.execute(moved).first() is None:
                return self._not_adopted(conn, p.tenant_id, key)
            self._ensure_image(conn, p.tenant_id, key)
            content = self._lock_image(conn, p.tenant_id, key_hash(key))
            assert content is not None
            if conn.execute(select(markers.c.id).where(markers.c.image_id == content.id)).first() is not None:
                return Adoption(AdoptResult(adopted=False, seq=content.seq), [])
            shift = content.seq - legacy.seq
            conn.execute(comments.update().where(comments.c.marker_id.in_(moved)).values(seq=comments.c.seq + shift))
            # Read positions and notifications are seqs of the image too: they move with the comments.
            conn.execute(read_positions.update().where(read_positions.c.marker_id.in_(moved))
                         .values(image_id=content.id, seq=read_positions.c.seq + shift))
            conn.execute(notifications.update().where(notifications.c.marker_id.in_(moved))
                         .values(seq=notifications.c.seq + shift))
            conn.execute(images_read.delete().where(images_read.c.image_id.in_((legacy.id, content.id))))
            conn.execute(markers.update().where(markers.c.image_id == legacy.id)
                         .values(image_id=content.id, seq=markers.c.seq + shift))
            topic, seq, published = topic_of(p.tenant_id, key), content.seq, []
            for marker in self._markers(conn, content.id, key):
                seq += 1
                published.append(self._log(conn, content.id, topic, NewImageChat(
                    image=key, seq=seq, broadcast_id=str(uuid.uuid4()), marker_id=marker.id, marker=marker)))
            conn.execute(images.update().where(images.c.id == content.id)
                         .values(seq=seq, last_number=max(content.last_number, legacy.last_number)))
            conn.execute(image_files.update().where(image_files.c.tenant_id == p.tenant_id, image_files.c.key == key)
                         .values(source=legacy_source(legacy.key)))
            conn.execute(images.update().where(images.c.id == legacy.id).values(seq=legacy.seq + 1))
            conn.execute(events.delete().where(events.c.image_id == legacy.id))
            gone = DeletedImage(image=legacy.key, seq=legacy.seq + 1, broadcast_id=str(uuid.uuid4()))
            published.append(self._log(conn, legacy.id, topic_of(p.tenant_id, legacy.key), gone))
            published += self._adopted_summaries(conn, p.tenant_id, content.id, seq, legacy.id, legacy.seq + 1)
            return Adoption(AdoptResult(adopted=True, seq=seq), published)

        return await self.db.run(work, bulky=True)

    def _adopted_summaries(self, conn: Connection, tenant_id: str, content_id: int, content_seq: int,
                           legacy_id: int, legacy_seq: int) -> list[Committed]:
        """Both images of an adoption counted again, and their inbox feed frames: the content key's
        row, the legacy key's removal."""
        now = now_iso()
        frames = []
        for image_id, seq in ((content_id, content_seq), (legacy_id, legacy_seq)):
            self._recount(conn, {"b_image": image_id, "b_at": now})
            frames.append(self._feed(conn, tenant_id, image_id, seq)[1])
        return frames

    def _lock_image(self, conn: Connection, tenant_id: str, digest: str) -> Row[Any] | None:
        return conn.execute(self.q.lock_image, {"b_tenant": tenant_id, "b_key_hash": digest}).first()

    def _not_adopted(self, conn: Connection, tenant_id: str, key: str) -> Adoption:
        image = self._image(conn, tenant_id, key)
        return Adoption(AdoptResult(adopted=False, seq=image.seq if image is not None else 0), [])

    def _log(self, conn: Connection, image_id: int, topic: str, event: AnyEvent) -> Committed:
        """Append an event the server writes of its own accord to the image's log."""
        encoded = encode_event(event)
        conn.execute(self.q.insert_event, {"image_id": image_id, "seq": event.seq, "body": encoded})
        return Committed(200, "", topic, event.seq, encoded)

    def _forget_receipts(self, conn: Connection, tenant_id: str, marker_ids: list[str]) -> None:
        """Receipts hold the answers of writes, comment text included: those naming a deleted
        marker go with it (a retry of such a write then acts anew)."""
        for start in range(0, len(marker_ids), RECEIPT_MATCHES_PER_STATEMENT):
            chunk = marker_ids[start:start + RECEIPT_MATCHES_PER_STATEMENT]
            conn.execute(receipts.delete().where(
                receipts.c.tenant_id == tenant_id,
                or_(*(receipts.c.body.contains(f'"{marker_id}"', autoescape=True) for marker_id in chunk)),
            ))

    async def prune_receipts(self, older_than: str) -> None:
        await self.db.run(lambda conn: conn.execute(receipts.delete().where(receipts.c.created_at < older_than)))


_INFO_COLUMNS = (
    image_files.c.key, image_files.c.size, image_files.c.width, image_files.c.height, image_files.c.format,
    image_files.c.source, image_files.c.name, image_files.c.uploaded_by_id, image_files.c.uploaded_by_name,
    image_files.c.uploaded_at,
)


def _image_info(row: Row[Any]) -> ImageInfo:
    return ImageInfo(
        key=row.key, size=row.size, width=row.width, height=row.height, format=row.format, source=row.source,
        name=row.name, uploaded_by=UserRef(id=row.uploaded_by_id, name=row.uploaded_by_name),
        uploaded_at=row.uploaded_at,
    )


def _told_read(p: Principal, key: str, moved: Moved) -> tuple[tuple[str, int, str], ...]:
    """The frames that tell the user's viewers what moving their read positions did."""
    if not moved.positions:
        return ()
    topic, seq = user_topic(p.tenant_id, p.user_id), moved.positions[0].seq
    told = ((topic, seq, markers_read_frame(key, moved.positions)),)
    if moved.notifications:
        told += ((topic, seq, read_frame(moved.notifications, None)),)
    return told


def _replayed(receipt: Row[Any], fingerprint: str) -> Committed:
    if receipt.fingerprint != fingerprint:
        raise Conflict("this broadcastId was already used for a different write")
    return Committed(receipt.status, receipt.body)


def _comment(row: Row[Any]) -> Comment:
    return Comment(
        id=row.id, marker_id=row.marker_id, parent_id=row.parent_id, user=UserRef(id=row.user_id, name=row.user_name),
        text=row.text, created_at=row.created_at, edited_at=row.edited_at, deleted=bool(row.deleted),
    )


def _marker(row: Row[Any], key: str, thread: Sequence[Comment]) -> Marker:
    return Marker(
        id=row.id, image=key, number=row.number, x=row.x, y=row.y, status=row.status, created_at=row.created_at,
        created_by=UserRef(id=row.created_by_id, name=row.created_by_name), comments=list(thread),
    )

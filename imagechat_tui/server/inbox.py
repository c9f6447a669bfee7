"""The inbox listing, `GET /api/v1/images`: one tenant's images with a conversation, most recent
activity first, a page at a time by keyset (a cursor naming the last row given, never an offset,
so a page costs the same however deep it is).

Every filter walks one index in order: `open`, `all` and `unread` the images' (tenant, last activity,
id), `mine` the participants' (tenant, user, last activity, image). `unread` asks each image the
unread rule (see reads.py, which makes that one lookup for an image the caller has read whole). A
search adds a condition, the set of images whose comments match (see search.py). Ties in last
activity are broken by the image's row id, which never changes: the cursor is (last activity, row
id), base64url-encoded JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from ..protocol.models import ImagesPage, InboxFilter
from .domain_errors import BadCursor
from .reads import image_unread, unread_by_image
from .schema import images, participants
from .search import Search
from .summary import SUMMARY_COLUMNS, summary_of, summary_select

MAX_CURSOR_LENGTH = 200


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ends: the last row's activity time and row id."""

    at: str
    image_id: int

    def encode(self) -> str:
        return base64.urlsafe_b64encode(json.dumps([self.at, self.image_id]).encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, raw: str) -> Cursor:
        """The cursor a page gave; BadCursor for anything this server could not have made."""
        try:
            if len(raw) > MAX_CURSOR_LENGTH:
                raise ValueError
            at, image_id = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            if not isinstance(at, str) or len(at) > 32 or type(image_id) is not int:
                raise ValueError
        except (ValueError, TypeError, binascii.Error):
            raise BadCursor("cursor: not one this server gave; start again without it") from None
        return cls(at, image_id)


@dataclass(frozen=True, slots=True)
class InboxQuery:
    tenant_id: str
    user_id: str
    filter: InboxFilter
    terms: list[str] | None
    """The search's words; None for no search (an empty list finds nothing)."""
    cursor: Cursor | None
    limit: int


def images_page(conn: Connection, search: Search, q: InboxQuery) -> ImagesPage:
    if q.terms is not None and not q.terms:
        return ImagesPage(images=[], next_cursor=None)
    # The page's rows are found first, walking one index alone, with the image columns its rows
    # need; only those rows are joined to their files and last comments (a planner given the
    # whole join at once may scan every image).
    if q.filter == "mine":
        at, image_id = participants.c.last_activity_at, participants.c.image_id
        keys = (select(*SUMMARY_COLUMNS, at.label("at")).join(participants, participants.c.image_id == images.c.id)
                .where(participants.c.tenant_id == q.tenant_id, participants.c.user_id == q.user_id,
                       images.c.tenant_id == q.tenant_id))
    else:
        at, image_id = images.c.last_activity_at, images.c.id
        keys = select(*SUMMARY_COLUMNS, at.label("at")).where(
            images.c.tenant_id == q.tenant_id, images.c.last_activity_at.is_not(None),
            images.c.open_count > 0 if q.filter == "open" else images.c.open_count + images.c.resolved_count > 0,
        )
    if q.terms is not None:
        # Under `unread`, `+ 0` keeps SQLite from starting at the search's images (then asking the
        # costly unread rule of every one of them before sorting): it walks the index, and looks
        # each image up in the search's set, made once (bench/inbox.py: 146 ms → see the README).
        keys = keys.where(search.matching(conn, q.terms, image_id + 0 if q.filter == "unread" else image_id))
    if q.filter == "unread":  # after the search: asked of the images it lets through only
        keys = keys.where(image_unread(q.tenant_id, q.user_id, images.c.id))
    if q.cursor is not None:
        # The first condition bounds the index range; the second drops the ties already given.
        keys = keys.where(at <= q.cursor.at, or_(at < q.cursor.at, and_(at == q.cursor.at,
                                                                       image_id < q.cursor.image_id)))
    page = keys.order_by(at.desc(), image_id.desc()).limit(q.limit + 1).subquery("page")
    query = summary_select(page).order_by(page.c.at.desc(), page.c.id.desc())
    rows: list[Any] = conn.execute(query).all()
    more = len(rows) > q.limit
    rows = rows[:q.limit]
    next_cursor = Cursor(rows[-1].last_activity_at, rows[-1].id).encode() if more else None
    unread = unread_by_image(conn, q.tenant_id, q.user_id, [row.id for row in rows])
    return ImagesPage(images=[summary_of(row, unread[row.id]) for row in rows], next_cursor=next_cursor)

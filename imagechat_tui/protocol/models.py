"""Objects and REST bodies of docs/protocol.md v1, as pydantic models with camelCase on the wire."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema
from pydantic.alias_generators import to_camel

from .imagekey import content_key, image_key, image_source
from .limits import MAX_TEXT_LENGTH

Role = Literal["member", "moderator", "admin"]
Status = Literal["open", "resolved"]
ROLES: tuple[Role, ...] = ("member", "moderator", "admin")


def iso(moment: datetime) -> str:
    """A UTC time as RFC 3339 with milliseconds, as every timestamp on the wire."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    return iso(datetime.now(UTC))


def canonical_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("must be a UUID") from None


def _no_nul(value: str) -> str:
    """Refused everywhere a client names or writes something: PostgreSQL text can't hold NUL, and
    SQLite would store what PostgreSQL refuses, so both databases answer it the same way."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _trimmed_text(value: str) -> str:
    text = value.strip()
    if not text:
        raise ValueError("must not be empty")
    if len(text) > MAX_TEXT_LENGTH:
        raise ValueError(f"must be at most {MAX_TEXT_LENGTH} characters after trimming")
    return text


BroadcastId = Annotated[str, AfterValidator(canonical_uuid)]
ImageKey = Annotated[str, StringConstraints(min_length=1, max_length=4096), AfterValidator(_no_nul),
                     AfterValidator(image_key)]
"""A key to read a conversation under: `sha256:<hex>`, or a URL key of the previous version."""
CommentText = Annotated[
    str,
    # Surrounding whitespace is trimmed before the 2000 are counted: the raw bound only stops
    # absurd inputs early, and the schema publishes the limit that counts.
    StringConstraints(max_length=MAX_TEXT_LENGTH * 4),
    AfterValidator(_no_nul),
    AfterValidator(_trimmed_text),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_TEXT_LENGTH,
                    "description": f"1 to {MAX_TEXT_LENGTH} characters once surrounding whitespace is trimmed"}),
]
Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
ContentKey = Annotated[str, StringConstraints(min_length=1, max_length=128), AfterValidator(content_key)]


def _new_marker_key(value: str) -> str:
    """Every new marker is on its image's content key, so that one screenshot (from a file, a link or
    a re-signed link) is one conversation, and no URL (credentials, signatures) is ever a key."""
    try:
        return content_key(value)
    except ValueError:
        raise ValueError("new markers are placed on sha256:<hex> keys (the SHA-256 of the image's bytes); "
                         "URL keys are the previous version's, read-only") from None


NewMarkerKey = Annotated[str, StringConstraints(min_length=1, max_length=4096), AfterValidator(_no_nul),
                         AfterValidator(_new_marker_key),
                         WithJsonSchema({"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"})]


def _file_name(value: str) -> str:
    if any(c in value for c in "/\\") or value in (".", ".."):
        raise ValueError("must be a file's base name, without path separators")
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ValueError("must not contain control characters")
    return value


ImageName = Annotated[str, StringConstraints(min_length=1, max_length=255), AfterValidator(_file_name)]
"""A file's base name, given at upload: shown in the inbox when the image has no source."""
LegacyKeyHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$"), AfterValidator(str.lower)]
ImageSource = Annotated[str, StringConstraints(min_length=1, max_length=4096), AfterValidator(_no_nul),
                        AfterValidator(image_source)]
ImageFormat = Literal["png", "jpeg", "gif", "webp", "bmp"]
ObjectId = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_no_nul)]


class Model(BaseModel):
    """camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)


class Request(Model):
    """A client's body: strict types (no "25" for 25), no unknown keys."""

    model_config = ConfigDict(strict=True, extra="forbid")


class UserRef(Model):
    id: str
    name: str


class Comment(Model):
    id: str
    marker_id: str
    parent_id: str | None = None
    user: UserRef
    text: str
    created_at: str
    edited_at: str | None = None
    deleted: bool = False


class Marker(Model):
    id: str
    image: str
    number: int | None = None
    """Given by the server at creation, per image, counting up from 1 and never reused; None only
    for a marker the client placed and the server has not acknowledged yet."""
    x: float
    y: float
    status: Status = "open"
    created_at: str
    created_by: UserRef
    comments: list[Comment] = Field(default_factory=list)


class MarkerPosition(Model):
    """The part of a marker that a status change or a move touches."""

    id: str
    x: float
    y: float
    status: Status


# REST request bodies


class CreateChat(Request):
    image: NewMarkerKey
    x: Percent
    y: Percent
    text: CommentText
    broadcast_id: BroadcastId


class AddComment(Request):
    text: CommentText
    parent_id: ObjectId | None = None
    broadcast_id: BroadcastId


class PatchChat(Request):
    status: Status | None = None
    x: Percent | None = None
    y: Percent | None = None
    broadcast_id: BroadcastId


class EditComment(Request):
    text: CommentText
    broadcast_id: BroadcastId


class AdoptImage(Request):
    """`POST /images/{key}/adopt`: the previous version's conversation to move under `key`, named by
    the SHA-256 (hex) of its URL key, never the URL itself (it may hold credentials)."""

    legacy_key_hash: LegacyKeyHash


# REST answers


class ChatsPage(Model):
    image: str
    seq: int
    markers: list[Marker]


class MarkerResult(Model):
    marker: Marker
    seq: int


class CommentResult(Model):
    comment: Comment
    seq: int


class SeqResult(Model):
    seq: int


class AdoptResult(Model):
    adopted: bool
    """Whether a conversation was moved (false: none under that hash, or the image has markers already)."""
    seq: int
    """The image's seq after the request."""


class ImageInfo(Model):
    """A stored image's metadata (`GET /images/{key}`, the answer to `PUT`)."""

    key: str
    size: int
    width: int
    height: int
    format: ImageFormat
    source: str | None
    name: str | None = None
    """The file's base name, if the uploader gave one."""
    uploaded_by: UserRef
    uploaded_at: str


InboxFilter = Literal["open", "all", "mine", "unread"]
"""`open`: images with an open marker; `all`: with any marker; `mine`: with a marker the caller
created or commented on; `unread`: with a marker unread by the caller."""


class LastComment(Model):
    """The newest comment on an image, for its inbox row."""

    user: UserRef
    excerpt: str
    """The comment's first characters (at most 120), as written: the viewer sanitises it."""
    created_at: str
    marker_number: int
    marker_id: str
    """The comment's marker: a viewer showing unread markers counts it unread if the author is not itself."""


class ImageSummary(Model):
    """A row of the inbox: `GET /api/v1/images` and the inbox feed's `inbox-row` frames."""

    key: str
    name: str | None
    """The source URL (without query or fragment) or the file name given at upload; None if unknown."""
    stored: bool
    """Whether the server holds the image's bytes (its content and thumbnail can be fetched)."""
    open_count: int
    resolved_count: int
    last_activity_at: str
    last_comment: LastComment | None = None
    unread: list[str] | None = None
    """The ids of the markers the caller has not read (docs/protocol.md, "Unread markers"), in
    `GET /images`; None in `inbox-row` frames, which are the same for the whole tenant."""


class ImagesPage(Model):
    images: list[ImageSummary]
    next_cursor: str | None
    """Pass as `cursor` for the next page (keyset, by last activity then key); None on the last page."""


class Usage(Model):
    tenant: str
    pub_sub_message_count: int
    pub_sub_bandwidth: int
    conversation_create_count: int
    connections: int


class MeUser(Model):
    id: str
    name: str
    role: Role


class TenantRef(Model):
    id: str
    name: str


class Me(Model):
    user: MeUser
    tenant: TenantRef


class ErrorBody(Model):
    code: str
    message: str


class ErrorResponse(Model):
    error: ErrorBody


class People(Model):
    """`GET /users`: the tenant's people, for everyone in it (no roles, no tokens)."""

    users: list[UserRef]


NotificationKind = Literal["reply", "comment", "mention", "resolved", "reopened"]
"""Why a user is told: a reply to their comment, a new comment on a marker they created or commented
on, a mention, their marker resolved or reopened (one notification per user per write, the first of
mention, reply, comment that applies)."""


NotificationId = Annotated[int, Field(ge=1, le=2**63 - 1)]
"""Ids are positive 64-bit integers, as the databases store them (a larger number is a 422, not a 500)."""


class Notification(Model):
    """One user's notice of someone else's write (`GET /notifications`, the `notification` frame)."""

    id: int
    """Increasing in creation order: the list's order and the handle to mark it read."""
    kind: NotificationKind
    image: str
    image_name: str | None
    """As in the inbox: the image's source or file name; None if unknown."""
    marker_id: str
    marker_number: int
    comment_id: str | None
    """The comment that caused it; None for a status change."""
    by: UserRef
    excerpt: str
    """The comment's first characters (at most 120; mention tokens kept), "" for a status change."""
    created_at: str
    read: bool = False


class NotificationsPage(Model):
    notifications: list[Notification]
    next_cursor: str | None
    """Pass as `cursor` for older ones (keyset by id); None on the last page."""
    unread_count: int
    """How many of the caller's notifications are unread, all pages together."""


class MarkRead(Request):
    """`POST /notifications/read`: the ids given, or every notification up to `upTo` (inclusive)."""

    ids: Annotated[list[NotificationId], Field(max_length=100)] | None = None
    up_to: NotificationId | None = None


class ReadResult(Model):
    read: int
    """How many notifications this call marked read (those read already are not counted)."""
    unread_count: int


# Unread markers (docs/protocol.md, "Unread markers").


class ReadPosition(Model):
    """A seq on one marker: in `GET /images/{key}/unread` the newest comment the caller has not read;
    in `POST /images/{key}/read` answers and `markers-read` frames, how far the caller has read."""

    marker_id: str
    seq: int


class UnreadMarkers(Model):
    """`GET /images/{key}/unread`: the caller's unread markers of the image, as of its seq `seq`."""

    image: str
    seq: int
    markers: list[ReadPosition]


class MarkMarkersRead(Request):
    """`POST /images/{key}/read`: the caller has read `markerId` (None: every marker of the image) up
    to the image's seq `seq` (what the client had applied when it showed the thread)."""

    marker_id: ObjectId | None = None
    seq: Annotated[int, Field(ge=0, le=2**63 - 1)]


class MarkersReadResult(Model):
    """The answer to `POST /images/{key}/read`: the read positions that moved (none if already read)."""

    image: str
    markers: list[ReadPosition]

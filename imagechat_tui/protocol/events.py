"""Live events and WebSocket frames: models, encoding and decoding (docs/protocol.md, "Live updates")."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError

from .models import (
    Comment,
    ImageKey,
    ImageSummary,
    Marker,
    MarkerPosition,
    Model,
    Notification,
    ObjectId,
    ReadPosition,
    Request,
)

Change = Literal["comment-added", "comment-edited", "comment-deleted", "status", "moved"]


class EventBase(Model):
    image: str
    seq: int
    broadcast_id: str


class ChatEvent(EventBase):
    """An event about one marker."""

    marker_id: str


class NewImageChat(ChatEvent):
    type: Literal["new-image-chat"] = "new-image-chat"
    marker: Marker


class ImageChatUpdated(ChatEvent):
    type: Literal["image-chat-updated"] = "image-chat-updated"
    change: Change
    comment: Comment | None = None
    marker: MarkerPosition | None = None


class DeletedImageChat(ChatEvent):
    type: Literal["deleted-image-chat"] = "deleted-image-chat"


class DeletedImage(EventBase):
    """An admin deleted the image with its whole conversation; its broadcastId is the server's own."""

    type: Literal["deleted-image"] = "deleted-image"


ChatChange = NewImageChat | ImageChatUpdated | DeletedImageChat
AnyEvent = ChatChange | DeletedImage
Event = Annotated[AnyEvent, Field(discriminator="type")]
_markers_adapter: TypeAdapter[list[Marker]] = TypeAdapter(list[Marker])


def encode_event(event: AnyEvent) -> str:
    """One event as the compact JSON text that is stored, replayed and broadcast."""
    exclude = None
    if isinstance(event, ImageChatUpdated):
        exclude = {"marker"} if event.comment is not None else {"comment"}
    return event.model_dump_json(exclude=exclude)



# Server-to-client frames are assembled from already-encoded events, so a replay or a batch
# never re-serialises what the event log and the fan-out already hold as text.


def batch_frame(encoded_events: Iterable[str]) -> str:
    return '{"type":"batch","events":[' + ",".join(encoded_events) + "]}"


def _compact(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _with_events(head: dict[str, Any], encoded_events: Iterable[str]) -> str:
    return _compact(head)[:-1] + ',"events":[' + ",".join(encoded_events) + "]}"


def replay_frame(image: str, seq: int, encoded_events: Iterable[str]) -> str:
    return _with_events({"type": "subscribed", "image": image, "seq": seq, "recovered": True}, encoded_events)


def events_page(image: str, seq: int, encoded_events: Iterable[str]) -> str:
    """The body of `GET /events`."""
    return _with_events({"image": image, "seq": seq}, encoded_events)


def snapshot_frame(image: str, seq: int, markers: list[Marker]) -> str:
    head = _compact({"type": "subscribed", "image": image, "seq": seq, "recovered": False})
    return head[:-1] + ',"markers":' + _markers_adapter.dump_json(markers, by_alias=True).decode() + "}"


def error_frame(code: str, message: str) -> str:
    return _compact({"type": "error", "code": code, "message": message})


# Client-side decoding of server frames.


class Subscribed(Model):
    type: Literal["subscribed"] = "subscribed"
    image: str
    seq: int
    recovered: bool
    events: list[Event] = Field(default_factory=list)
    markers: list[Marker] = Field(default_factory=list)


class Batch(Model):
    type: Literal["batch"] = "batch"
    events: list[Event]


class ErrorFrame(Model):
    type: Literal["error"] = "error"
    code: str
    message: str


# The inbox feed: a tenant-wide stream of inbox rows, for viewers showing the inbox. It is not
# sequenced: a viewer that (re)subscribes reloads the first page of `GET /images`.


class InboxSubscribed(Model):
    type: Literal["inbox-subscribed"] = "inbox-subscribed"


class InboxRow(Model):
    """An image's inbox row changed (a marker or comment anywhere in the tenant), or appeared."""

    type: Literal["inbox-row"] = "inbox-row"
    row: ImageSummary


class InboxRemoved(Model):
    """An image left the inbox: deleted by an admin, or its last marker deleted."""

    type: Literal["inbox-removed"] = "inbox-removed"
    key: str


# Presence (docs/protocol.md, "Presence"): who is viewing an image now, and who is writing on which
# marker. Ephemeral: never stored, never sequenced (no seq, no broadcastId).


class Writing(Model):
    """Where a viewer is writing: in the thread of `markerId`, or (None) a new marker's first comment."""

    marker_id: str | None = None


class PresentUser(Model):
    """One person viewing the image, however many terminals they have on it."""

    id: str
    name: str
    writing: Writing | None = None


class Presence(Model):
    """Everyone viewing the image now (the whole set): sent right after each `subscribed`."""

    type: Literal["presence"] = "presence"
    image: str
    users: list[PresentUser]


class PresenceChanged(Model):
    """Since the last presence frame: people who came or whose writing changed (`users`, whole),
    and the ids of those who left."""

    type: Literal["presence-changed"] = "presence-changed"
    image: str
    users: list[PresentUser] = Field(default_factory=list)
    left: list[str] = Field(default_factory=list)


# The notifications feed: each user's own notifications, on a per-user topic. Not sequenced: a viewer
# that (re)subscribes reloads the first page of `GET /notifications`.


class NotificationsSubscribed(Model):
    type: Literal["notifications-subscribed"] = "notifications-subscribed"


class NotificationFrame(Model):
    type: Literal["notification"] = "notification"
    notification: Notification


class NotificationsRead(Model):
    """Some of the user's notifications were marked read (by any of their viewers): the ids, or all up to `upTo`."""

    type: Literal["notifications-read"] = "notifications-read"
    ids: list[int] | None = None
    up_to: int | None = None


class MarkersRead(Model):
    """The user (any of their viewers, or a comment they wrote) read these markers up to these seqs:
    on the user's notifications feed, so that every terminal of theirs drops its unread marks."""

    type: Literal["markers-read"] = "markers-read"
    image: str
    markers: list[ReadPosition]


ServerFrame = (Subscribed | Batch | ErrorFrame | NewImageChat | ImageChatUpdated | DeletedImageChat | DeletedImage
               | InboxSubscribed | InboxRow | InboxRemoved
               | Presence | PresenceChanged | NotificationsSubscribed | NotificationFrame | NotificationsRead
               | MarkersRead)
_server_frame_adapter: TypeAdapter[ServerFrame] = TypeAdapter(
    Annotated[ServerFrame, Field(discriminator="type")]
)


class FrameError(ValueError):
    """A frame that is not valid JSON or not a known message."""


def decode_server_frame(text: str | bytes) -> ServerFrame:
    try:
        return _server_frame_adapter.validate_json(text)
    except ValidationError as exc:
        raise FrameError(str(exc)) from None


# Server-side decoding of client frames: one strict union, so that every frame that is not exactly
# one of these is refused with an error code, whatever is wrong with it (pydantic's JSON parser
# also bounds nesting, where `json.loads` would raise RecursionError).


class AuthFrame(Request):
    type: Literal["auth"] = "auth"
    token: str


class ImageFrame(Request):
    """A frame about one image, whose key is normalised as the REST API does."""

    image: ImageKey


class SubscribeFrame(ImageFrame):
    type: Literal["subscribe"] = "subscribe"
    since: Annotated[int, Field(ge=0)] | None = None


class UnsubscribeFrame(ImageFrame):
    type: Literal["unsubscribe"] = "unsubscribe"


class SubscribeInboxFrame(Request):
    type: Literal["subscribe-inbox"] = "subscribe-inbox"


class UnsubscribeInboxFrame(Request):
    type: Literal["unsubscribe-inbox"] = "unsubscribe-inbox"


class UsePresenceFrame(Request):
    """Take up presence, before subscribing: the images subscribed from now on come with their
    `presence` lists, and if `visible` this connection is on them (else it only sees them)."""

    type: Literal["use-presence"] = "use-presence"
    visible: bool = True


class HeartbeatFrame(Request):
    """Sent every PRESENCE_HEARTBEAT seconds by a visible connection: one not heard from for
    PRESENCE_TTL is taken for gone (killed, network lost) and leaves everyone's list."""

    type: Literal["heartbeat"] = "heartbeat"


class WritingFrame(ImageFrame):
    """This connection's user is writing on `markerId` (None: a new marker) of a subscribed image;
    sent again while typing, it lapses WRITING_TTL seconds after the last one."""

    type: Literal["writing"] = "writing"
    marker_id: ObjectId | None = None


class StoppedWritingFrame(ImageFrame):
    type: Literal["stopped-writing"] = "stopped-writing"


class SubscribeNotificationsFrame(Request):
    """The caller's own notifications, live; there is no one else's to ask for."""

    type: Literal["subscribe-notifications"] = "subscribe-notifications"


ClientFrame = (AuthFrame | SubscribeFrame | UnsubscribeFrame | SubscribeInboxFrame | UnsubscribeInboxFrame
               | UsePresenceFrame | HeartbeatFrame | WritingFrame | StoppedWritingFrame | SubscribeNotificationsFrame)
_client_frame_adapter: TypeAdapter[ClientFrame] = TypeAdapter(
    Annotated[ClientFrame, Field(discriminator="type")]
)
_NOT_A_KNOWN_FRAME = {"dict_type", "union_tag_invalid", "union_tag_not_found"}


class BadFrame(FrameError):
    """A client frame refused, with the code of the error frame that answers it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def decode_client_frame(text: str) -> ClientFrame:
    """The frame a client sent; BadFrame (`bad_json`, `unknown_type` or `invalid`) if it is not one."""
    try:
        return _client_frame_adapter.validate_json(text)
    except ValidationError as exc:
        raise _refusal(exc) from None


def _refusal(exc: ValidationError) -> BadFrame:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    if first["type"] == "json_invalid":
        return BadFrame("bad_json", "the frame is not valid JSON")
    if first["type"] == "union_tag_invalid":
        return BadFrame("unknown_type", f"unknown frame type {str(first['ctx']['tag'])[:64]!r}")
    if first["type"] in _NOT_A_KNOWN_FRAME:
        return BadFrame("unknown_type", "frames are JSON objects with a type")
    # The first element of `loc` is the frame type: the field comes after it.
    parts = [f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in errors[:5]]
    return BadFrame("invalid", "; ".join(parts))

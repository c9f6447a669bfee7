"""The sync engine: one live connection, per-image state kept gap-free by seq, optimistic writes.

The state of an image is two layers. Under it, `ImageState`: exactly the server's state at some
seq, changed only by events applied in seq order (the stream's, or a write's own answer when it is
next in line). Over it, the pending writes of this client, each as the event it expects to cause;
`markers()` shows both. When a write's own event is applied, or the server refuses the write, its
overlay goes: an own change is never shown twice, and a refused one rolls back by itself.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from ..protocol.changes import apply_event, edited, patch_change, patched, tombstone
from ..protocol.events import (
    AnyEvent,
    Batch,
    Change,
    ChatChange,
    DeletedImage,
    DeletedImageChat,
    ErrorFrame,
    FrameError,
    HeartbeatFrame,
    ImageChatUpdated,
    InboxRemoved,
    InboxRow,
    InboxSubscribed,
    MarkersRead,
    NewImageChat,
    NotificationFrame,
    NotificationsRead,
    NotificationsSubscribed,
    Presence,
    PresenceChanged,
    PresentUser,
    StoppedWritingFrame,
    Subscribed,
    SubscribeFrame,
    SubscribeInboxFrame,
    SubscribeNotificationsFrame,
    UnsubscribeFrame,
    UnsubscribeInboxFrame,
    UsePresenceFrame,
    WritingFrame,
    decode_server_frame,
)
from ..protocol.imagekey import image_key, is_content_key
from ..protocol.limits import (
    CLOSE_SERVICE_RESTART,
    CLOSE_UNAUTHENTICATED,
    GAP_WAIT,
    PRESENCE_HEARTBEAT,
    WRITING_REFRESH,
)
from ..protocol.models import (
    AddComment,
    Comment,
    CreateChat,
    EditComment,
    ImageSummary,
    Marker,
    MarkerPosition,
    MarkMarkersRead,
    MarkRead,
    Me,
    Notification,
    PatchChat,
    ReadPosition,
    Status,
    UserRef,
    now_iso,
)
from .errors import ClientError, OfflineError, RequestError
from .notifications import NotificationBook
from .rest import RestClient
from .sequencer import Sequencer
from .servers import Backoff, Ended, Servers
from .state import ImageState
from .unread import UnreadBook

log = logging.getLogger("imagechat.client")
R = TypeVar("R")


class LinkState(enum.StrEnum):
    CONNECTING = "connecting"
    ONLINE = "online"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"
    REFUSED = "refused"
    """The server refused the token: no reconnect can help, so none is tried."""


@dataclass(frozen=True, slots=True)
class Link:
    """The live connection as the UI shows it."""

    state: LinkState
    next_attempt: float | None = None
    """While reconnecting: when the next attempt starts (time.time())."""
    reason: str = ""


# What the engine tells its listeners.


@dataclass(frozen=True, slots=True)
class LinkChanged:
    link: Link


@dataclass(frozen=True, slots=True)
class ImageChanged:
    image: str
    events: tuple[AnyEvent, ...] = ()
    """Others' changes just applied (empty for a change of this client's own)."""


@dataclass(frozen=True, slots=True)
class Resynced:
    image: str
    recovered: bool
    changes: int
    """Events replayed, or markers that differ after a snapshot."""


@dataclass(frozen=True, slots=True)
class WriteFailed:
    image: str
    error: ClientError


@dataclass(frozen=True, slots=True)
class ImageDeleted:
    """An admin deleted the image with its whole conversation: it can't be written on again here."""

    image: str


@dataclass(frozen=True, slots=True)
class InboxFollowed:
    """The inbox feed is (re)subscribed: reload the first page, as changes meanwhile were not sent."""


@dataclass(frozen=True, slots=True)
class InboxRowChanged:
    """An image's inbox row changed anywhere in the tenant, or appeared."""

    row: ImageSummary


@dataclass(frozen=True, slots=True)
class InboxRowRemoved:
    """An image left the inbox (deleted, or its last marker deleted)."""

    key: str


@dataclass(frozen=True, slots=True)
class PeopleChanged:
    """Who is viewing the image, or writing on it, changed (see `SyncEngine.people`)."""

    image: str


@dataclass(frozen=True, slots=True)
class NotificationsChanged:
    """The user's notifications or their unread count changed (see `SyncEngine.notifications`)."""

    arrived: Notification | None = None
    """A new one that just came live, for the viewer to announce."""


@dataclass(frozen=True, slots=True)
class DirectoryChanged:
    """The tenant's people were loaded (see `SyncEngine.directory`): mentions show their names."""


@dataclass(frozen=True, slots=True)
class UnreadChanged:
    """The user's unread markers of an image changed (see `SyncEngine.unread` for a followed one), or
    the user read some of its markers (`read`: from any of their viewers, this one's at once), which
    the inbox drops from its rows whether or not the image is followed."""

    image: str
    read: tuple[ReadPosition, ...] = ()


Notice = (LinkChanged | ImageChanged | Resynced | WriteFailed | ImageDeleted | InboxFollowed | InboxRowChanged
          | InboxRowRemoved | PeopleChanged | NotificationsChanged | DirectoryChanged | UnreadChanged)
Listener = Callable[[Notice], None]


@dataclass(slots=True)
class _Pending:
    overlay: ChatChange
    seq: int | None = None
    """The seq the server gave the write, once known."""


@dataclass(slots=True)
class _Image:
    state: ImageState
    order: Sequencer = field(default_factory=Sequencer)
    pending: dict[str, _Pending] = field(default_factory=dict)
    gap_timer: asyncio.TimerHandle | None = None
    synced: asyncio.Event = field(default_factory=asyncio.Event)
    remote_applied: int = 0
    deleted: bool = False
    people: dict[str, PresentUser] = field(default_factory=dict)
    """Who views the image now, by user id (this user too), as the server last said; empty offline."""
    unread: UnreadBook = field(default_factory=UnreadBook)


class SyncEngine:
    def __init__(self, server_urls: str | Sequence[str], token: str, *, cafile: str | None = None,
                 backoff: Backoff = Backoff(), presence: bool = True) -> None:
        """`server_urls`: one server (or load balancer), or several processes of one cluster to
        fail over between. `presence` False: this viewer is in no one's list of viewers or writers."""
        urls = [server_urls] if isinstance(server_urls, str) else list(server_urls)
        self._servers = Servers([url.rstrip("/") for url in urls], backoff)
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=cafile) if cafile else True
        self._rests = [RestClient(url, token, verify=verify) for url in self._servers.urls]
        self._token = token
        self._ssl = verify if isinstance(verify, ssl.SSLContext) else None
        self._images: dict[str, _Image] = {}
        self._listeners: list[Listener] = []
        self._inbox = False
        """Whether the inbox feed is followed: subscribed again on every connection."""
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self.presence = presence
        self._writing: dict[str, tuple[str | None, float]] = {}
        """image -> (the marker written on, None for a new one; when last announced)."""
        self.link = Link(LinkState.CONNECTING)
        self.me: Me | None = None
        self.notifications = NotificationBook()
        """The user's own notifications, newest first: reloaded on every connection, kept live."""
        self.directory: dict[str, str] = {}
        """The tenant's people, id -> current name, loaded on every connection (for mentions)."""
        self._tasks: set[asyncio.Task[None]] = set()
        self.before_connect: Callable[[], Awaitable[None]] | None = None
        """Awaited before every connection attempt (the viewer makes sure its local server runs);
        a ClientError from it fails the attempt, with its message as the reason shown."""

    @property
    def server_url(self) -> str:
        """The server the live connection is on, or tries next."""
        return self._servers.url

    @property
    def rest(self) -> RestClient:
        """REST calls go to the server of the live connection."""
        return self._rests[self._servers.current]

    # Lifecycle

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="imagechat-live")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for task in tuple(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for image in self._images.values():
            if image.gap_timer is not None:
                image.gap_timer.cancel()
        for rest in self._rests:
            await rest.aclose()
        self._set_link(Link(LinkState.OFFLINE, reason="closed"))

    # Images

    def subscribe(self, image: str, cached: tuple[int, list[Marker]] | None = None) -> str:
        """Follow an image (its normalised key is returned); `cached` is a state seen earlier, shown
        until the server's arrives and used to resync from its seq."""
        key = image_key(image)
        if key not in self._images:
            entry = self._images[key] = _Image(ImageState(key))
            if cached is not None:
                entry.state.load(*cached)
                entry.order.reset(cached[0], 0.0)
            self._request_subscribe(entry)
        return key

    def resync(self, image: str) -> None:
        """Fetch the image's whole state again: its conversation changed outside its event stream
        (an adoption moved markers under it)."""
        self._request_subscribe(self._images[image], full=True)

    def unsubscribe(self, image: str) -> None:
        """Stop following an image (the viewer moved to another one); its pending writes still finish."""
        entry = self._images.pop(image, None)
        if entry is None:
            return
        if entry.gap_timer is not None:
            entry.gap_timer.cancel()
        self._send(UnsubscribeFrame(image=image).model_dump_json())

    def subscribe_inbox(self) -> None:
        """Follow the tenant's inbox feed; every (re)subscription is followed by an InboxFollowed notice."""
        if not self._inbox:
            self._inbox = True
            self._send(SubscribeInboxFrame().model_dump_json())

    def unsubscribe_inbox(self) -> None:
        if self._inbox:
            self._inbox = False
            self._send(UnsubscribeInboxFrame().model_dump_json())

    def markers(self, image: str) -> list[Marker]:
        """The image's markers as the user should see them: confirmed state plus pending writes."""
        entry = self._images[image]
        if not entry.pending:
            return list(entry.state.markers.values())
        view = dict(entry.state.markers)
        for pending in entry.pending.values():
            marker = view.get(pending.overlay.marker_id)
            if marker is not None:
                view[marker.id] = marker.model_copy(deep=True)
            apply_event(view, pending.overlay)
        return list(view.values())

    def state(self, image: str) -> ImageState:
        return self._images[image].state

    def remote_applied(self, image: str) -> int:
        """How many of others' events this engine has applied to the image."""
        return self._images[image].remote_applied

    def is_deleted(self, image: str) -> bool:
        return self._images[image].deleted

    async def wait_synced(self, image: str) -> None:
        await self._images[image].synced.wait()

    # Unread markers

    def unread(self, image: str) -> frozenset[str]:
        """The ids of the image's markers the user has not read (none known yet: empty)."""
        entry = self._images.get(image)
        return entry.unread.ids if entry is not None else frozenset()

    def unread_known(self, image: str) -> bool:
        """Whether the server said which of the image's markers are unread (since it was followed)."""
        entry = self._images.get(image)
        return entry is not None and entry.unread.seq is not None

    async def mark_marker_read(self, image: str, marker_id: str) -> None:
        """The user has read the marker's thread as shown (the image as applied here): it stops being
        unread at once, and the server is told, which tells the user's other viewers. Not queued: a
        mark that fails (offline) is forgotten, and the marker is unread again after the next load."""
        entry = self._images.get(image)
        seq = entry.state.seq if entry is not None else 0
        if entry is None or not entry.unread.mark(marker_id, seq):
            return
        self._notify(UnreadChanged(image, (ReadPosition(marker_id=marker_id, seq=seq),)))
        try:
            result = await self.rest.mark_markers_read(image, MarkMarkersRead(marker_id=marker_id, seq=seq))
        except ClientError as exc:
            entry.unread.marked(marker_id, seq, saved=False)
            log.info("could not mark marker %s read: %s", marker_id, exc)
            return
        entry.unread.marked(marker_id, seq, saved=True)
        if entry.unread.read(result.markers):
            self._notify(UnreadChanged(image))

    def _load_unread(self, image: str) -> None:
        if is_content_key(image):  # a previous version's URL key has no path of its own
            self._in_background(self._fetch_unread(image), "load the unread markers")

    async def _fetch_unread(self, image: str) -> None:
        answer = await self.rest.unread(image)
        entry = self._images.get(image)
        if entry is not None and entry.unread.load(answer):
            self._notify(UnreadChanged(image))

    def _on_markers_read(self, frame: MarkersRead) -> None:
        entry = self._images.get(frame.image)
        if entry is not None:
            entry.unread.read(frame.markers)
        self._notify(UnreadChanged(frame.image, tuple(frame.markers)))

    # Presence

    def people(self, image: str) -> list[PresentUser]:
        """Who views the image now, this user included, as the server last said (none while offline)."""
        return list(self._images[image].people.values())

    def writing(self, image: str, marker_id: str | None) -> None:
        """The user is writing on `marker_id` of the image (None: a new marker). Call it when the
        compose box opens and as they type: it is sent at most every WRITING_REFRESH seconds, and
        again after a reconnect."""
        if not self.presence:
            return
        now = time.monotonic()
        last = self._writing.get(image)
        if last is not None and last[0] == marker_id and now - last[1] < WRITING_REFRESH:
            return
        self._writing[image] = (marker_id, now)
        self._send(WritingFrame(image=image, marker_id=marker_id).model_dump_json())

    def stopped_writing(self, image: str) -> None:
        """The compose box closed."""
        if self._writing.pop(image, None) is not None:
            self._send(StoppedWritingFrame(image=image).model_dump_json())

    def _on_presence(self, frame: Presence | PresenceChanged) -> None:
        entry = self._images.get(frame.image)
        if entry is None:
            return
        if isinstance(frame, Presence):
            entry.people = {}
        for uid in frame.left if isinstance(frame, PresenceChanged) else ():
            entry.people.pop(uid, None)
        entry.people.update((user.id, user) for user in frame.users)
        self._notify(PeopleChanged(frame.image))

    def _forget_people(self) -> None:
        """Offline: who is there is unknown until the server says again."""
        for key, entry in self._images.items():
            if entry.people:
                entry.people = {}
                self._notify(PeopleChanged(key))

    async def _heartbeat(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(PRESENCE_HEARTBEAT)
            await _send_quietly(ws, _HEARTBEAT)

    # Notifications and the tenant's people

    async def load_more_notifications(self) -> None:
        """The next older page, if there is one."""
        cursor = self.notifications.next_cursor
        if cursor is not None:
            self.notifications.extend(await self.rest.notifications(cursor))
            self._notify(NotificationsChanged())

    async def mark_read(self, ids: Sequence[int]) -> None:
        await self._mark_read(MarkRead(ids=list(ids)))

    async def mark_all_read(self) -> None:
        """Every notification up to the newest loaded."""
        if self.notifications.items:
            await self._mark_read(MarkRead(up_to=self.notifications.items[0].id))

    async def _mark_read(self, body: MarkRead) -> None:
        result = await self.rest.mark_read(body)
        self.notifications.read(NotificationsRead(ids=body.ids, up_to=body.up_to))
        self.notifications.unread = result.unread_count
        self._notify(NotificationsChanged())

    async def _reload_notifications(self) -> None:
        self.notifications.load(await self.rest.notifications())
        self._notify(NotificationsChanged())

    async def _load_directory(self) -> None:
        people = await self.rest.users()
        self.directory = {user.id: user.name for user in people.users}
        self._notify(DirectoryChanged())

    def _on_notifications(self, frame: NotificationsSubscribed | NotificationFrame | NotificationsRead) -> None:
        if isinstance(frame, NotificationsSubscribed):  # (re)subscribed: what came meanwhile is in the list
            self._in_background(self._reload_notifications(), "reload notifications")
            for key in self._images:  # and markers read meanwhile on the user's other viewers
                self._load_unread(key)
        elif isinstance(frame, NotificationFrame):
            if self.notifications.arrived(frame.notification):
                self._notify(NotificationsChanged(frame.notification))
        else:
            self.notifications.read(frame)
            self._notify(NotificationsChanged())
            self._in_background(self._reload_notifications(), "reload the unread count")

    def _in_background(self, work: Coroutine[Any, Any, None], what: str) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._finished(done, what))

    def _finished(self, task: asyncio.Task[None], what: str) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.info("could not %s: %s", what, task.exception())  # the next connection tries again

    # Writes: optimistic, refused at once while offline, never queued.

    async def create_marker(self, image: str, x: float, y: float, text: str) -> Marker:
        me = self._user()
        bid = _broadcast_id()
        now = now_iso()
        temp_id = f"pending-{bid[:8]}"
        temp = Marker(id=temp_id, image=image, x=x, y=y, created_at=now, created_by=me,
                      comments=[Comment(id=f"{temp_id}-c", marker_id=temp_id, user=me, text=text.strip(),
                                        created_at=now)])
        result = await self._write(
            image, NewImageChat(image=image, seq=0, broadcast_id=bid, marker_id=temp_id, marker=temp),
            lambda: self.rest.create_chat(CreateChat(image=image, x=x, y=y, text=text, broadcast_id=bid)),
            lambda r: NewImageChat(image=image, seq=r.seq, broadcast_id=bid, marker_id=r.marker.id, marker=r.marker),
        )
        return result.marker

    async def add_comment(self, image: str, marker_id: str, text: str, parent_id: str | None = None) -> Comment:
        me = self._user()
        bid = _broadcast_id()
        temp = Comment(id=f"pending-{bid[:8]}", marker_id=marker_id, parent_id=parent_id, user=me,
                       text=text.strip(), created_at=now_iso())
        result = await self._write(
            image, self._comment_event(image, bid, "comment-added", temp),
            lambda: self.rest.add_comment(marker_id, AddComment(text=text, parent_id=parent_id, broadcast_id=bid)),
            lambda r: self._comment_event(image, bid, "comment-added", r.comment, r.seq),
        )
        return result.comment

    async def edit_comment(self, image: str, comment_id: str, text: str) -> Comment:
        bid = _broadcast_id()
        old = self._comment(image, comment_id)
        temp = edited(old, text.strip(), now_iso())
        result = await self._write(
            image, self._comment_event(image, bid, "comment-edited", temp),
            lambda: self.rest.edit_comment(comment_id, EditComment(text=text, broadcast_id=bid)),
            lambda r: self._comment_event(image, bid, "comment-edited", r.comment, r.seq),
        )
        return result.comment

    async def delete_comment(self, image: str, comment_id: str) -> None:
        bid = _broadcast_id()
        gone = tombstone(self._comment(image, comment_id))
        await self._write(
            image, self._comment_event(image, bid, "comment-deleted", gone),
            lambda: self.rest.delete_comment(comment_id, bid),
            lambda r: self._comment_event(image, bid, "comment-deleted", gone, r.seq),
        )

    async def set_status(self, image: str, marker_id: str, status: Status) -> Marker:
        return await self._patch(image, marker_id, PatchChat(status=status, broadcast_id=_broadcast_id()))

    async def move_marker(self, image: str, marker_id: str, x: float, y: float) -> Marker:
        return await self._patch(image, marker_id, PatchChat(x=x, y=y, broadcast_id=_broadcast_id()))

    async def delete_marker(self, image: str, marker_id: str) -> None:
        bid = _broadcast_id()
        await self._write(
            image, DeletedImageChat(image=image, seq=0, broadcast_id=bid, marker_id=marker_id),
            lambda: self.rest.delete_chat(marker_id, bid),
            lambda r: DeletedImageChat(image=image, seq=r.seq, broadcast_id=bid, marker_id=marker_id),
        )

    async def _patch(self, image: str, marker_id: str, patch: PatchChat) -> Marker:
        marker = self._marker(image, marker_id)

        def event(seq: int, pos: MarkerPosition) -> ImageChatUpdated:
            return ImageChatUpdated(image=image, seq=seq, broadcast_id=patch.broadcast_id, marker_id=marker_id,
                                    change=patch_change(patch), marker=pos)

        result = await self._write(
            image, event(0, patched(marker, patch)),
            lambda: self.rest.patch_chat(marker_id, patch),
            lambda r: event(r.seq, MarkerPosition(id=marker_id, x=r.marker.x, y=r.marker.y, status=r.marker.status)),
        )
        return result.marker

    async def _write(self, image: str, overlay: ChatChange, request: Callable[[], Awaitable[R]],
                     confirm: Callable[[R], ChatChange]) -> R:
        entry = self._images[image]
        if self.link.state is not LinkState.ONLINE:
            raise OfflineError("offline: the live connection is down, so nothing was saved; try again once it is back")
        if entry.deleted:
            raise ClientError("an admin deleted this image with its conversation: nothing was saved")
        bid = overlay.broadcast_id
        entry.pending[bid] = _Pending(overlay)
        self._notify(ImageChanged(image))
        try:
            result = await request()
        except ClientError as exc:
            entry.pending.pop(bid, None)
            self._notify(WriteFailed(image, exc))
            self._notify(ImageChanged(image))
            raise
        event = confirm(result)
        if bid in entry.pending:
            entry.pending[bid].seq = event.seq
        self._offer(entry, [event])
        return result

    def _comment_event(self, image: str, bid: str, change: Change, comment: Comment, seq: int = 0) -> ImageChatUpdated:
        return ImageChatUpdated(image=image, seq=seq, broadcast_id=bid, marker_id=comment.marker_id, change=change,
                                comment=comment)

    def _marker(self, image: str, marker_id: str) -> Marker:
        for marker in self.markers(image):
            if marker.id == marker_id:
                return marker
        raise ClientError("that marker is gone")

    def _comment(self, image: str, comment_id: str) -> Comment:
        for marker in self.markers(image):
            for comment in marker.comments:
                if comment.id == comment_id:
                    return comment
        raise ClientError("that comment is gone")

    def _user(self) -> UserRef:
        if self.me is None or self.link.state is not LinkState.ONLINE:
            raise OfflineError("offline: the live connection is down, so nothing was saved; try again once it is back")
        return UserRef(id=self.me.user.id, name=self.me.user.name)

    # Applying events

    def _offer(self, entry: _Image, events: list[AnyEvent]) -> None:
        now = asyncio.get_running_loop().time()
        ready = [e for event in events for e in entry.order.offer(event, now)]
        self._apply(entry, ready)
        self._watch_gap(entry)

    def _apply(self, entry: _Image, events: list[AnyEvent]) -> int:
        """Apply in-order events; returns how many were others'. Own events settle their overlay."""
        remote = []
        me = self.me.user.id if self.me is not None else None
        unread_changed = False
        for event in events:
            entry.state.apply(event)
            unread_changed |= entry.unread.applied(event, me)
            if isinstance(event, DeletedImage):
                self._deleted(entry)
            pending = entry.pending.get(event.broadcast_id)
            if pending is not None:
                pending.seq = event.seq
            else:
                remote.append(event)
        settled = [bid for bid, p in entry.pending.items() if p.seq is not None and p.seq <= entry.state.seq]
        for bid in settled:
            del entry.pending[bid]
        entry.remote_applied += len(remote)
        if remote or settled:
            self._notify(ImageChanged(entry.state.key, tuple(remote)))
        if unread_changed:
            self._notify(UnreadChanged(entry.state.key))
        return len(remote)

    def _deleted(self, entry: _Image) -> None:
        """The image is gone with its conversation: pending writes with it, and the viewer is told."""
        entry.deleted = True
        entry.pending.clear()
        self._notify(ImageDeleted(entry.state.key))

    def _watch_gap(self, entry: _Image) -> None:
        if entry.order.gap_since is None or entry.gap_timer is not None:
            return
        loop = asyncio.get_running_loop()
        wait = max(0.0, entry.order.gap_since + GAP_WAIT - loop.time())
        entry.gap_timer = loop.call_later(wait, self._gap_timeout, entry)

    def _gap_timeout(self, entry: _Image) -> None:
        entry.gap_timer = None
        if entry.order.gap_expired(asyncio.get_running_loop().time()):
            log.info("gap after seq %d on %s: resubscribing", entry.order.last, entry.state.key)
            entry.order.gap_since = None
            self._request_subscribe(entry)
        else:
            self._watch_gap(entry)

    def _on_subscribed(self, frame: Subscribed) -> None:
        entry = self._images.get(frame.image)
        if entry is None:
            return
        now = asyncio.get_running_loop().time()
        if frame.recovered:
            changes = self._apply(entry, [e for event in frame.events for e in entry.order.offer(event, now)])
        else:
            changes = entry.state.load(frame.seq, frame.markers)
            self._apply(entry, entry.order.reset(frame.seq, now))
        self._watch_gap(entry)
        entry.synced.set()
        self._notify(Resynced(frame.image, frame.recovered, changes))
        self._load_unread(frame.image)

    def _on_frame(self, text: str | bytes) -> None:
        try:
            frame = decode_server_frame(text)
        except FrameError as exc:
            log.warning("ignored a frame the client does not understand: %s", exc)
            return
        if isinstance(frame, Presence | PresenceChanged):
            self._on_presence(frame)
            return
        if isinstance(frame, NotificationsSubscribed | NotificationFrame | NotificationsRead):
            self._on_notifications(frame)
            return
        if isinstance(frame, MarkersRead):
            self._on_markers_read(frame)
            return
        if isinstance(frame, Subscribed):
            self._on_subscribed(frame)
        elif isinstance(frame, InboxSubscribed):
            if self._inbox:
                self._notify(InboxFollowed())
        elif isinstance(frame, InboxRow):
            if self._inbox:
                self._notify(InboxRowChanged(frame.row))
        elif isinstance(frame, InboxRemoved):
            if self._inbox:
                self._notify(InboxRowRemoved(frame.key))
        elif isinstance(frame, ErrorFrame):
            log.warning("server error frame: %s: %s", frame.code, frame.message)
        else:
            for event in frame.events if isinstance(frame, Batch) else [frame]:
                entry = self._images.get(event.image)
                if entry is not None:
                    self._offer(entry, [event])

    # The live connection

    def _request_subscribe(self, entry: _Image, full: bool = False) -> None:
        since = entry.order.last if entry.state.loaded and not full else None
        self._send(_subscribe_frame(entry.state.key, since))  # offline: the next connection subscribes

    def _send(self, text: str) -> None:
        """Send a frame if online (in call order); else nothing: what is still wanted is sent again
        on the next connection."""
        ws = self._ws
        if ws is not None and self.link.state is LinkState.ONLINE:
            asyncio.get_running_loop().create_task(_send_quietly(ws, text))

    async def _run(self) -> None:
        while True:
            ended = await self._connect_and_serve()
            if self.link.state in (LinkState.OFFLINE, LinkState.REFUSED):
                return
            delay = self._servers.after(ended)
            self._set_link(Link(LinkState.RECONNECTING, next_attempt=time.time() + delay, reason=ended.reason))
            await asyncio.sleep(delay)

    async def _connect_and_serve(self) -> Ended:
        """One connection's life, and how it ended."""
        if self.before_connect is not None:
            try:
                await self.before_connect()
            except ClientError as exc:
                return Ended(str(exc))
        try:
            ws = await connect(
                _live_url(self.server_url), additional_headers={"Authorization": f"Bearer {self._token}"},
                ssl=self._ssl, compression=None, max_size=None, open_timeout=5, ping_interval=20, ping_timeout=20,
            )
        except InvalidStatus as exc:
            if exc.response.status_code == 401:
                self._refused()
            return Ended(f"can't connect (HTTP {exc.response.status_code})")
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            return Ended(f"can't connect ({type(exc).__name__})")
        loop = asyncio.get_running_loop()
        online_since: float | None = None
        heartbeat: asyncio.Task[None] | None = None
        try:
            if self.me is None:
                self.me = await self.rest.me()
            await ws.send(UsePresenceFrame(visible=self.presence).model_dump_json())  # before any subscribe
            await ws.send(_SUBSCRIBE_NOTIFICATIONS)
            self._in_background(self._load_directory(), "load the tenant's people")
            self._ws = ws
            self._set_link(Link(LinkState.ONLINE))
            online_since = loop.time()
            for entry in self._images.values():
                self._request_subscribe(entry)
            if self._inbox:
                self._send(SubscribeInboxFrame().model_dump_json())
            for image, (marker_id, _) in self._writing.items():
                self._send(WritingFrame(image=image, marker_id=marker_id).model_dump_json())
            if self.presence:
                heartbeat = loop.create_task(self._heartbeat(ws))
            while True:  # recv, not `async for`: every close raises, with the code the server sent
                self._on_frame(await ws.recv())
        except RequestError as exc:
            if exc.status == 401:
                self._refused()
            return Ended(str(exc))
        except ClientError as exc:
            return Ended(str(exc))
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            if code == CLOSE_UNAUTHENTICATED:
                self._refused()
            online_for = None if online_since is None else loop.time() - online_since
            if code == CLOSE_SERVICE_RESTART:
                return Ended("the server is restarting", online_for, restart=True)
            return Ended("connection lost", online_for)
        finally:
            self._ws = None
            if heartbeat is not None:
                heartbeat.cancel()
            self._forget_people()
            await ws.close()

    def _refused(self) -> None:
        self._set_link(Link(LinkState.REFUSED, reason=f"the server at {self.server_url} refused the token"))

    def _set_link(self, link: Link) -> None:
        if link != self.link:
            self.link = link
            self._notify(LinkChanged(link))

    def _notify(self, notice: Notice) -> None:
        for listener in self._listeners:
            try:
                listener(notice)
            except Exception:
                log.exception("listener failed on %r", notice)


def _live_url(server_url: str) -> str:
    return ("wss" + server_url[5:] if server_url.startswith("https") else "ws" + server_url[4:]) + "/api/v1/live"


def _broadcast_id() -> str:
    return str(uuid.uuid4())


_HEARTBEAT = HeartbeatFrame().model_dump_json()
_SUBSCRIBE_NOTIFICATIONS = SubscribeNotificationsFrame().model_dump_json()


def _subscribe_frame(image: str, since: int | None) -> str:
    return SubscribeFrame(image=image, since=since).model_dump_json()


async def _send_quietly(ws: ClientConnection, text: str) -> None:
    try:
        await ws.send(text)
    except ConnectionClosed:
        pass  # the reconnect loop resubscribes

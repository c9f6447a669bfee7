"""The live WebSocket endpoint `/api/v1/live`: authentication, subscriptions, replay and fan-out.

Each event is encoded once; fanning it out is one synchronous pass over the image's subscribers
(see `eager`). What each connection sends, queues, batches, holds and closes is decided by its
`live_core.LiveCore`, which does no I/O; `LiveConnection` is the I/O around it: it writes frames
straight to uvicorn's transport when it can (`DirectWriter`), else through the ASGI `send`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from typing import Any

from websockets.protocol import State as WsState

from ..protocol.events import (
    AuthFrame,
    BadFrame,
    ClientFrame,
    InboxSubscribed,
    NotificationsSubscribed,
    StoppedWritingFrame,
    SubscribeFrame,
    SubscribeInboxFrame,
    SubscribeNotificationsFrame,
    UnsubscribeFrame,
    UnsubscribeInboxFrame,
    UsePresenceFrame,
    WritingFrame,
    decode_client_frame,
    error_frame,
    replay_frame,
    snapshot_frame,
)
from ..protocol.limits import (
    AUTH_FRAME_TIMEOUT,
    CLOSE_TRY_AGAIN,
    CLOSE_UNAUTHENTICATED,
    MAX_SUBSCRIPTIONS,
)
from .eager import start_eagerly
from .intake import bearer_token
from .live_core import CLOSE_GRACE, Close, Frame, LiveCore, Subscription
from .presence_core import Out, PresenceBoard, Tell
from .pubsub import PubSub
from .store import History, Principal, Store, inbox_topic, is_inbox_topic, is_user_topic, topic_of, user_topic
from .usage import TenantUsage, UsageMeter
from .ws_protocol import LiveWebSocketProtocol

log = logging.getLogger("imagechat.live")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

INBOX_SUBSCRIBED = InboxSubscribed().model_dump_json()
NOTIFICATIONS_SUBSCRIBED = NotificationsSubscribed().model_dump_json()

HistoryReader = Callable[[str, str, int], Awaitable[History]]
"""An image's events after a seq: (tenant id, image key, since) -> History."""


class DirectWriter:
    """Writes frames straight to the transport of uvicorn's websockets-sansio protocol object, as
    websockets' own broadcast() writes through its connections, but with the frame serialised once
    per event rather than once per recipient: measured here, the ASGI send path (a coroutine, a
    dict, an encode and a serialisation per recipient) cost twice the CPU per delivery.

    Used only while the connection is open, has no extension that would rewrite frames, takes data
    at once, and has nothing queued ahead; anything else, and every other ASGI server, goes
    through the ASGI `send`.

    Under our own protocol class (`ws_protocol`, as the server runs) on asyncio's selector event
    loop on POSIX, over plain TCP, it also keeps the core's `line`: the socket's file descriptor
    while a frame may be written to it straight away, which the hub's fan-out does with one
    `os.write` per subscriber, as picows does. That transport closes the socket only after telling
    the protocol (tests/test_live.py checks), so `line` is -1 before the number can be reused. Other
    transports (TLS, uvloop's, whose close order is not established here, Windows') get no line:
    their frames go through the transport."""

    __slots__ = ("proto", "transport", "core", "fd")

    def __init__(self, proto: Any, core: LiveCore) -> None:
        self.proto = proto
        self.transport = transport = proto.transport
        self.core = core
        self.fd = -1
        if (isinstance(proto, LiveWebSocketProtocol) and os.name == "posix"
                and type(transport).__module__ == "asyncio.selector_events"):
            self.fd = transport.get_extra_info("socket").fileno()
            proto.watcher = self
            self.refresh()

    @classmethod
    def of(cls, send: Send, core: LiveCore) -> DirectWriter | None:
        proto = getattr(send, "__self__", None)
        needed = ("writable", "conn", "transport", "close_sent", "disconnected", "request", "response")
        if proto is None or not all(hasattr(proto, a) for a in needed):
            return None
        return cls(proto, core) if not getattr(proto.conn, "extensions", True) else None

    def release_handshake(self) -> None:
        """Drop the handshake's request and response (and their headers), which uvicorn keeps for
        the connection's whole life but never reads after the accept: ~3 KB per idle connection.
        websockets' parser keeps the request as well (a local of its generator, which goes on to
        parse frames), so its headers are emptied in place: ~2 KB more."""
        if self.proto.request is not None:
            self.proto.request.headers.clear()
        self.proto.request = None
        self.proto.response = None

    def refresh(self) -> None:
        """Read the connection's state again (after anything that may have changed it): whether
        a frame may be written to its socket straight away."""
        proto, transport = self.proto, self.transport
        writable = not (proto.close_sent or proto.disconnected or transport.is_closing()
                        or transport.get_write_buffer_size()) \
            and proto.conn.state is WsState.OPEN and proto.writable.is_set()
        self.core.set_line(self.fd if writable else -1)

    def release(self) -> None:
        """The endpoint is done with the connection: no more straight writes, and no cycle left."""
        if self.proto.watcher is self:
            self.proto.watcher = None
        self.core.set_line(-1)

    def write(self, frame: Frame) -> bool:
        """Write one text frame now; False (and nothing written) if it can't be done at once."""
        proto = self.proto
        if (proto.close_sent or proto.disconnected or not proto.writable.is_set()
                or proto.conn.state is not WsState.OPEN):
            return False
        self.write_rest(frame.wire)
        return True

    def write_rest(self, data: bytes) -> None:
        """Hand `data` to the transport, which sends it when it can, ahead of anything later."""
        self.transport.write(data)
        if self.fd >= 0:
            self.refresh()


class LiveConnection:
    """One authenticated WebSocket: the I/O around its `LiveCore`. It writes what the core hands
    out (straight to the transport when it can, else through the ASGI `send`), tells the core
    when a write has to wait and when it is done, and carries out the core's closes."""

    __slots__ = ("core", "subs", "send", "direct", "principal", "usage", "hub", "sender", "closer")

    def __init__(self, send: Send, principal: Principal, usage: TenantUsage, hub: Hub) -> None:
        self.core = LiveCore(time.monotonic())
        self.subs = self.core.subs  # the hub reads and edits a connection's subscriptions
        self.send = send
        self.direct = DirectWriter.of(send, self.core)
        self.principal = principal
        self.usage = usage
        self.hub = hub
        self.sender: asyncio.Task[None] | None = None
        self.closer: asyncio.Task[None] | None = None

    # Outgoing

    def deliver(self, topic: str, seq: int, frame: Frame) -> None:
        # The hot path: once per subscriber per event.
        out = self.core.event(topic, seq, frame)
        if out is frame:
            self._write(frame, True)
        elif isinstance(out, Close):
            self.start_closing(out)

    def push_event(self, frame: Frame) -> None:
        self._carry_out(self.core.push(True, frame), True)

    def push_control(self, text: str) -> None:
        self.push_frame(Frame(text))

    def push_frame(self, frame: Frame) -> None:
        """A control frame, shared by several connections (presence)."""
        self._carry_out(self.core.push(False, frame), False)

    def _carry_out(self, out: Frame | Close | None, is_event: bool) -> None:
        if isinstance(out, Close):
            self.start_closing(out)
        elif out is not None:
            self._write(out, is_event)

    def _write(self, frame: Frame, is_event: bool) -> None:
        if is_event:  # the usage figures count pub/sub deliveries, not answers to the client's frames
            self.usage.messages += 1
            self.usage.bandwidth += len(frame.payload)
        if self.direct is not None and self.direct.write(frame):
            return
        try:
            sender = start_eagerly(self.send(frame.message))
        except Exception:  # the peer is gone; the receive loop is told and cleans up
            self.core.lost()
            return
        if sender is not None:
            self.sender = sender
            self.core.wait()
            sender.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self.sender = None
        if task.cancelled():  # by whoever closes or ends the connection
            return
        if task.exception() is not None:
            self.core.lost()
            return
        self.core.sent()
        # Drain until empty or a write has to wait again (then this runs once more when it is done).
        while (item := self.core.next_frame()) is not None:
            self._write(*item)

    def close(self, code: int, reason: str = "") -> None:
        """Stop delivering and close with `code`; reset the connection if its socket stays full."""
        close = self.core.close(code, reason)
        if close is not None:
            self.start_closing(close)

    def start_closing(self, close: Close) -> None:
        self.hub.detach(self)
        if self.sender is not None:
            self.sender.cancel()
        self.closer = asyncio.get_running_loop().create_task(self._close(close))

    async def _close(self, close: Close) -> None:
        core = self.core
        deadline = core.sending_close(time.monotonic())
        try:
            async with asyncio.timeout(deadline - time.monotonic()):
                await self.send({"type": "websocket.close", "code": close.code, "reason": close.reason})
        except TimeoutError:
            if core.reset_due(time.monotonic()):
                _abort(self.send)
        except Exception:  # already gone
            core.lost()
        else:
            core.close_sent()


def _served_by(send: Send) -> str:
    """Who an ASGI `send` belongs to, for the log: its object's class, or the function itself."""
    owner = getattr(send, "__self__", None)
    named = type(owner) if owner is not None else send
    return f"{named.__module__}.{named.__qualname__}"


def _abort(send: Send) -> None:
    """Reset a connection whose socket buffer is full, so no close frame can reach the peer.

    ASGI has no such call; uvicorn's `send` is a method of its protocol object, which owns the
    transport. Elsewhere the connection ends when the server's keepalive gives up on it."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is not None:
        transport.abort()


class Hub:
    """Who is subscribed to what in this process, fed by the pub/sub layer.

    Pub/sub is kept subscribed to exactly the topics that have local subscribers. Every change to
    a topic's pub/sub subscription goes through `_sync`, one call at a time per topic, each acting
    on the subscribers as they are at its turn: so an unsubscribe started when the last subscriber
    left can never land after a later subscribe and silence a topic that has subscribers again.

    For each topic it also keeps the last seq its subscribers were sent (`followed`). Clients find
    a lost event themselves only when a later one arrives; so when pub/sub reports its lost link
    back, the hub sends each topic's events after that seq from the store, in order (clients drop
    what they had), or, if they are no longer kept, closes its subscribers to resync."""

    def __init__(self, pubsub: PubSub, meter: UsageMeter, history: HistoryReader) -> None:
        self.pubsub = pubsub
        self.meter = meter
        self.history = history
        self.topics: dict[str, dict[LiveConnection, None]] = {}
        self.connections: dict[LiveConnection, None] = {}
        self.linked: dict[str, bool] = {}
        """Topics pub/sub may be subscribed to: True once its subscribe returned, False while
        (or after) one was attempted without an answer."""
        self.followed: dict[str, _Followed] = {}
        self._turns: dict[str, _Turns] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._due: set[str] = set()  # topics to bring up to date from the store
        self._unfollowed: set[str] = set()  # due while no subscriber had read its first seq yet
        self._catching_up = False
        self.presence = PresenceBoard(uuid.uuid4().hex)

    def on_message(self, topic: str, seq: int, event: str) -> None:
        if not seq:  # presence, which takes no seq (events start at 1)
            self.presence.remote(topic, event, time.monotonic())
            return
        subscribers = self.topics.get(topic)
        if subscribers:
            followed = self.followed.get(topic)
            if followed is not None and seq > followed.seq:
                followed.seq = seq
            fan_out(tuple(subscribers), topic, seq,
                    Frame(event, batchable=not (is_inbox_topic(topic) or is_user_topic(topic))))

    def on_relinked(self) -> None:
        """Pub/sub's link is back: whatever was published while it was down never arrived. An
        image's subscribers are sent what they missed; an inbox's, not sequenced, are told
        `inbox-subscribed` again, on which a viewer reloads its first page; a user's notification
        feed's, `notifications-subscribed`, on which it reloads its list."""
        for topic, subscribers in tuple(self.topics.items()):
            if is_inbox_topic(topic) or is_user_topic(topic):
                control = INBOX_SUBSCRIBED if is_inbox_topic(topic) else NOTIFICATIONS_SUBSCRIBED
                for conn in tuple(subscribers):
                    conn.push_control(control)
            else:
                self._due.add(topic)
        self._catch_up_soon()

    def follow(self, topic: str, tenant_id: str, key: str, seq: int) -> None:
        """A subscriber of `topic` was sent the image as of `seq`; the first one sets where the
        topic's catch-up starts."""
        if topic in self.topics and topic not in self.followed:
            self.followed[topic] = _Followed(tenant_id, key, seq)
        if topic in self._unfollowed:
            self._unfollowed.discard(topic)
            self._due.add(topic)
            self._catch_up_soon()

    def attach(self, conn: LiveConnection) -> None:
        self.connections[conn] = None
        conn.usage.connections += 1

    def detach(self, conn: LiveConnection) -> None:
        """Forget a connection at once (it gets nothing more); the topics it leaves are unlinked later."""
        if self.connections.pop(conn, 0) is None:
            conn.usage.connections -= 1
        self.presence.disconnect(conn)
        for topic in conn.subs:
            self._drop(conn, topic)

    # Presence: the rules are `presence_core`'s; here they are carried out.

    def presence_tick(self) -> None:
        self._carry_out(self.presence.tick(time.monotonic()))

    def _carry_out(self, outs: list[Out]) -> None:
        for out in outs:
            if isinstance(out, Tell):
                frame = Frame(out.text)
                for conn in out.to:
                    if isinstance(conn, LiveConnection):
                        conn.push_frame(frame)
            else:  # seq 0: not an event; a lost one is made good by the next, within PUBLISH_EVERY
                self._in_background(self.pubsub.publish(out.topic, 0, out.text), "publishing presence")

    def _drop(self, conn: LiveConnection, topic: str) -> None:
        subscribers = self.topics.get(topic)
        if subscribers is not None:
            subscribers.pop(conn, None)
            if not subscribers:
                del self.topics[topic]
                self.followed.pop(topic, None)
                self._unfollowed.discard(topic)
                # Callers are synchronous (a connection closing); the task is kept, and its turn
                # comes in order with any subscribe to the same topic.
                self._in_background(self._sync(topic), "pub/sub unsubscribe")

    def _in_background(self, work: Coroutine[Any, Any, None], what: str) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(lambda done: self._finished(done, what))

    def _finished(self, task: asyncio.Task[None], what: str) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("%s failed: %r", what, task.exception())

    async def _sync(self, topic: str) -> None:
        """Subscribe pub/sub to `topic` if it has local subscribers now, else unsubscribe it."""
        turns = self._turns.get(topic)
        if turns is None:
            turns = self._turns[topic] = _Turns()
        turns.waiting += 1
        try:
            async with turns.lock:
                if self.topics.get(topic):
                    if not self.linked.get(topic):
                        self.linked[topic] = False
                        await self.pubsub.subscribe(topic)
                        self.linked[topic] = True
                elif self.linked.pop(topic, None) is not None:
                    await self.pubsub.unsubscribe(topic)
        finally:
            turns.waiting -= 1
            if not turns.waiting:
                del self._turns[topic]

    def _catch_up_soon(self) -> None:
        if not self._catching_up:
            self._catching_up = True
            self._in_background(self._catch_up(), "catching up after pub/sub came back")

    async def _catch_up(self) -> None:
        """Bring the due topics' subscribers up to date, one topic after another."""
        try:
            while self._due:
                topic = self._due.pop()
                followed = self.followed.get(topic)
                if followed is not None:
                    await self._catch_up_topic(topic, followed)
                elif topic in self.topics:  # its subscribers are reading their first state: after them
                    self._unfollowed.add(topic)
        finally:
            self._catching_up = False

    async def _catch_up_topic(self, topic: str, followed: _Followed) -> None:
        since = followed.seq
        try:
            history = await self.history(followed.tenant_id, followed.key, since)
        except Exception as exc:
            log.warning("could not read what pub/sub lost on %s (%r): its subscribers resync", topic, exc)
            history = History(followed.key, since, None)
        if self.followed.get(topic) is not followed:  # everyone left meanwhile
            return
        if history.events is None:  # no longer kept: only a resync by seq helps
            subscribers = tuple(self.topics.get(topic, ()))
            self.pubsub.counts.resyncs += len(subscribers)
            for conn in subscribers:
                conn.close(CLOSE_TRY_AGAIN, "live updates were lost: resubscribe with since")
            return
        # Kept events are consecutive: the first is since + 1.
        for seq, event in enumerate(history.events, since + 1):
            self.on_message(topic, seq, event)
        self.pubsub.counts.repaired += len(history.events)

    async def settle(self) -> None:
        """Wait for the unsubscribes and catch-ups under way (a test hook, and shutdown)."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def join(self, conn: LiveConnection, topic: str) -> None:
        """Add a subscriber; returns once pub/sub delivers the topic here, or raises (and the
        subscriber is not added) if pub/sub can't be reached."""
        self.topics.setdefault(topic, {})[conn] = None
        try:
            await self._sync(topic)
        except BaseException:
            self._drop(conn, topic)
            raise

    def leave(self, conn: LiveConnection, topic: str) -> None:
        if conn.core.unsubscribe(topic):
            self.presence.leave(conn, topic)
            self._drop(conn, topic)

    def close_where(self, predicate: Callable[[LiveConnection], bool], code: int, reason: str) -> None:
        for conn in tuple(self.connections):
            if predicate(conn):
                conn.close(code, reason)

    async def close_all(self, code: int, reason: str) -> None:
        """Close every connection with `code` and wait (briefly) until the close frames are out."""
        conns = tuple(self.connections)
        for conn in conns:
            conn.close(code, reason)
        closers = [conn.closer for conn in conns if conn.closer is not None]
        if closers:
            await asyncio.wait(closers, timeout=CLOSE_GRACE + 1)


def fan_out(subscribers: tuple[LiveConnection, ...], topic: str, seq: int, frame: Frame) -> None:
    """Deliver one event to a topic's subscribers: the hot path, once per subscriber per event.

    A connection whose core has a `straight` line gets the frame with one `os.write` to its socket,
    counted once per event (a topic's subscribers are all of its tenant: one usage record); every
    other case (a full socket, a peer gone, frames queued, a subscribe reading its first state,
    closing, TLS, uvloop, an ASGI server without DirectWriter) takes `LiveConnection.deliver`,
    which decides and counts on its own. A write cut short leaves its rest to the transport."""
    wire = frame.wire
    size = len(wire)
    write = os.write
    straight = 0
    for conn in subscribers:
        fd = conn.core.straight
        if fd >= 0:
            try:
                written = write(fd, wire)
            except OSError:  # full, or the peer is gone: the transport's write finds out which
                written = 0
            if written:
                if written < size:
                    direct = conn.direct
                    assert direct is not None  # a line is set by one
                    direct.write_rest(wire[written:])
                straight += 1
                continue
        conn.deliver(topic, seq, frame)
    if straight:
        usage = subscribers[0].usage
        usage.messages += straight
        usage.bandwidth += straight * len(frame.payload)


class _Followed:
    """The image behind a topic, and the last seq all its subscribers were sent."""

    __slots__ = ("tenant_id", "key", "seq")

    def __init__(self, tenant_id: str, key: str, seq: int) -> None:
        self.tenant_id = tenant_id
        self.key = key
        self.seq = seq


class _Turns:
    """One topic's queue for `Hub._sync`, and how many calls are in it (it is dropped at zero)."""

    __slots__ = ("lock", "waiting")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.waiting = 0


class LiveEndpoint:
    """The ASGI app of `/api/v1/live`, mounted outside FastAPI's middleware to keep each idle
    connection small."""

    def __init__(self, store: Store, hub: Hub) -> None:
        self.store = store
        self.hub = hub
        self.writes_through_asgi = False  # said once in the log: a connection had no DirectWriter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # One coroutine frame for the connection's whole life (no helper frame under the loop):
        # idle connections are many, and each frame held is memory.
        if (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        principal = await self._authenticate(scope, receive)
        if principal is None:
            await send({"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED, "reason": "authentication failed"})
            return
        scope["headers"] = []  # read; nothing needs them again, and idle connections are many
        conn = LiveConnection(send, principal, self.hub.meter.tenant(principal.tenant_id), self.hub)
        if conn.direct is not None:
            conn.direct.release_handshake()
        elif not self.writes_through_asgi:
            self.writes_through_asgi = True
            log.warning("live frames go through the ASGI send, at about twice the CPU per delivery: the "
                        "WebSocket is served by %s, not by the uvicorn websockets-sansio protocol (without "
                        "extensions) that DirectWriter writes through", _served_by(send))
        self.hub.attach(conn)
        try:
            while await self._receive(conn, await receive()):
                pass
        finally:
            self.hub.detach(conn)
            if conn.direct is not None:
                conn.direct.release()
            if conn.sender is not None:
                conn.sender.cancel()

    async def _authenticate(self, scope: Scope, receive: Receive) -> Principal | None:
        if any(name == b"authorization" for name, _ in scope.get("headers", ())):
            token = bearer_token(scope)
            return await self.store.principal(token) if token is not None else None
        try:
            async with asyncio.timeout(AUTH_FRAME_TIMEOUT):
                message = await receive()
        except TimeoutError:
            return None
        try:
            frame = decode_client_frame(message.get("text") or "")
        except BadFrame:
            return None
        return await self.store.principal(frame.token) if isinstance(frame, AuthFrame) else None

    async def _receive(self, conn: LiveConnection, message: MutableMapping[str, Any]) -> bool:
        """Act on one incoming message; False once the client is gone. A helper, so that no
        message or frame stays referenced from the connection's frame while it waits for the next
        (about 750 bytes per idle connection)."""
        if message["type"] == "websocket.disconnect":
            return False
        self.hub.presence.heard(conn, time.monotonic())
        frame = _parse_frame(conn, message)
        if frame is not None:
            await self._handle(conn, frame)
        return True

    async def _handle(self, conn: LiveConnection, frame: ClientFrame) -> None:
        if isinstance(frame, SubscribeFrame):
            await self._subscribe(conn, frame)
        elif isinstance(frame, SubscribeInboxFrame):
            await self._subscribe_feed(conn, inbox_topic(conn.principal.tenant_id), INBOX_SUBSCRIBED)
        elif isinstance(frame, UnsubscribeInboxFrame):
            self.hub.leave(conn, inbox_topic(conn.principal.tenant_id))
        elif isinstance(frame, AuthFrame):
            conn.push_control(error_frame("bad_frame", "already authenticated"))
        elif isinstance(frame, UnsubscribeFrame):
            self.hub.leave(conn, topic_of(conn.principal.tenant_id, frame.image))
        elif isinstance(frame, SubscribeNotificationsFrame):
            # only the caller's own: the topic is the principal's
            await self._subscribe_feed(conn, user_topic(conn.principal.tenant_id, conn.principal.user_id),
                                       NOTIFICATIONS_SUBSCRIBED)
        else:
            self._presence(conn, frame)

    def _presence(self, conn: LiveConnection, frame: ClientFrame) -> None:
        board, now = self.hub.presence, time.monotonic()
        if isinstance(frame, UsePresenceFrame):
            p = conn.principal
            board.use(conn, p.user_id, p.user_name, frame.visible, now)
        elif isinstance(frame, WritingFrame | StoppedWritingFrame):
            topic = topic_of(conn.principal.tenant_id, frame.image)
            if topic not in conn.subs:
                conn.push_control(error_frame("not_subscribed", "subscribe to the image before writing on it"))
            elif isinstance(frame, WritingFrame):
                board.writing(conn, topic, frame.marker_id, now)
            else:
                board.stopped_writing(conn, topic)
        # a heartbeat only says the connection is alive, which `_receive` noted already

    async def _join(self, conn: LiveConnection, topic: str) -> Subscription | None:
        """Start a subscribe to `topic` (its events held until `subscribed`); None, after telling
        the client, if it can't be."""
        new = topic not in conn.subs
        sub = conn.core.subscribe(topic)
        if sub is None:
            limit = f"at most {MAX_SUBSCRIPTIONS} subscriptions (images and the inbox)"
            conn.push_control(error_frame("too_many_subscriptions", limit))
            return None
        if new:
            try:
                await self.hub.join(conn, topic)
            except Exception as exc:  # pub/sub is down: the client reconnects later and resyncs
                log.warning("pub/sub subscribe failed: %r", exc)
                conn.core.unsubscribe(topic)
                conn.close(CLOSE_TRY_AGAIN, "live updates are unavailable for a moment: reconnect")
                return None
        return sub

    async def _subscribe_feed(self, conn: LiveConnection, topic: str, acknowledgement: str) -> None:
        """A feed that is not sequenced (the tenant's inbox, the caller's own notifications): the
        acknowledgement, then every frame published after it (those that came while pub/sub was
        being joined go right after it; the reload the acknowledgement starts in the viewer may hold
        them already: a row or notification is idempotent)."""
        sub = await self._join(conn, topic)
        if sub is None:
            return
        held = conn.core.subscribed(topic, sub, -1)
        if held is None:  # unsubscribed meanwhile
            return
        conn.push_control(acknowledgement)
        for frame in held:
            conn.push_event(frame)

    async def _subscribe(self, conn: LiveConnection, frame: SubscribeFrame) -> None:
        key, since = frame.image, frame.since
        topic = topic_of(conn.principal.tenant_id, key)
        sub = await self._join(conn, topic)
        if sub is None:
            return
        history = await self.store.history(conn.principal, key, since) if since is not None else None
        if history is not None and history.events is not None:
            seq, head = history.seq, replay_frame(key, history.seq, history.events)
        else:
            page = await self.store.chats(conn.principal, key)
            seq, head = page.seq, snapshot_frame(key, page.seq, page.markers)
        newer = conn.core.subscribed(topic, sub, seq)
        if newer is None:  # unsubscribed meanwhile
            return
        conn.push_control(head)
        self.hub.follow(topic, conn.principal.tenant_id, key, seq)
        for event in newer:
            conn.push_event(event)
        whole = self.hub.presence.view(conn, topic, key, time.monotonic())
        if whole is not None:
            conn.push_control(whole.text)



def _parse_frame(conn: LiveConnection, message: MutableMapping[str, Any]) -> ClientFrame | None:
    """The incoming frame, or None after answering (or closing) for a bad one."""
    if conn.core.closing:
        return None
    flood = conn.core.received(time.monotonic())
    if flood is not None:
        conn.start_closing(flood)
        return None
    text = message.get("text")
    if text is None:
        conn.push_control(error_frame("bad_frame", "frames must be JSON text"))
        return None
    try:
        return decode_client_frame(text)
    except BadFrame as bad:
        conn.push_control(error_frame(bad.code, bad.message))
        return None

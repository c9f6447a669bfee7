"""The rules of one live connection, without I/O (sans-I/O, as the `websockets` library's
`protocol.py` is apart from its asyncio layer).

Inputs are method calls: an event arrived, a frame is to be sent, the frame just handed out could
not be written at once (`wait`) or its write finished (`sent`) or failed (`lost`), a frame came in
at time T, closing was asked for. Outputs are what those calls return: a `Frame` to write now, or
a `Close` to carry out. The I/O layer (`live.LiveConnection`) writes, and reports back.

The rules: a connection's frames go out in the order they were pushed. While a write waits for a
full socket, what comes next is queued; when it is done, a control frame goes out alone and
consecutive events go out as one `batch` frame of at most BATCH_MAX_EVENTS (an image's events only:
a `batch` holds those, so an inbox feed frame, made `batchable=False`, always goes out alone). Past MAX_BACKLOG
queued frames the connection is closed with 1013 (the client resyncs with `since`); a close frame
that is not out within CLOSE_GRACE gets the connection reset. A client sending frames faster than
FRAME_RATE, beyond a burst of FRAME_BURST, is closed with 1008. Events that arrive while a
subscribe's first state (replay or snapshot) is read are held, and those newer than it are sent
right after it.
"""

from __future__ import annotations

from websockets.frames import Frame as WsFrame
from websockets.frames import Opcode

from ..protocol.events import batch_frame
from ..protocol.limits import BATCH_MAX_EVENTS, CLOSE_POLICY, CLOSE_TRY_AGAIN, MAX_SUBSCRIPTIONS

MAX_BACKLOG = 1000
"""Frames queued for one connection whose socket is full before it is dropped."""
FRAME_RATE, FRAME_BURST = 20.0, 100.0
"""Incoming frames a client may send per second, and in a burst, before it counts as a flood."""
CLOSE_GRACE = 1.0
"""How long a close frame may wait behind a full socket before the connection is reset."""


class Frame:
    """One outgoing text frame, made once per event and shared by all its deliveries: the ASGI
    message, the UTF-8 payload that the usage figures count, and (made on first use) the frame as
    it goes on the wire, which is the same for every client: servers don't mask, and compression
    is off."""

    __slots__ = ("message", "payload", "batchable", "_wire")

    def __init__(self, text: str, batchable: bool = True) -> None:
        self.message = {"type": "websocket.send", "text": text}
        self.payload = text.encode()
        self.batchable = batchable
        self._wire: bytes | None = None

    @property
    def wire(self) -> bytes:
        if self._wire is None:
            self._wire = WsFrame(Opcode.TEXT, self.payload).serialize(mask=False)
        return self._wire


class Close:
    """Closing asked for: send a close frame with `code` and `reason`, and nothing after it."""

    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason


class Subscription:
    """One subscribed topic: the events held while its first state is read (else None), and how
    many reads (a subscribe, and resubscribes before it is answered) are under way."""

    __slots__ = ("pending", "reads")

    def __init__(self) -> None:
        self.pending: list[tuple[int, Frame]] | None = None
        self.reads = 0


class LiveCore:
    """One connection's subscriptions, its ordered and bounded outgoing queue, its closing and its
    incoming-frame budget."""

    __slots__ = ("subs", "outbox", "ready", "holding", "line", "straight", "waiting", "closing", "close_deadline",
                 "close_out", "tokens", "refilled")

    def __init__(self, now: float) -> None:
        self.subs: dict[str, Subscription] = {}
        self.outbox: list[tuple[bool, Frame]] = []  # (is an event, the frame), while waiting
        self.ready = True  # neither waiting nor closing: a frame goes out at once
        self.holding = 0  # subscriptions whose events are held while their first state is read
        self.line = -1
        """Set by the I/O layer: the socket's file descriptor while a frame may be written to it
        straight away (open, nothing queued in front), else -1."""
        self.straight = -1
        """`line` while ready and holding nothing, else -1: any subscribed topic's event may then
        be written to it as it is, without asking `event` (the hub's fan-out reads this alone)."""
        self.waiting = False  # the last frame handed out is still being written
        self.closing = False  # nothing more goes out but, perhaps, a close frame
        self.close_deadline: float | None = None  # when an unsent close frame gets the connection reset
        self.close_out = False  # the close frame was written, or the peer is gone: no reset needed
        self.tokens = FRAME_BURST
        self.refilled = now

    # Subscriptions

    def subscribe(self, topic: str) -> Subscription | None:
        """A subscribe to `topic` starts reading its first state: its events are held until
        `subscribed`. None (and nothing changed) if it is new and would pass MAX_SUBSCRIPTIONS."""
        sub = self.subs.get(topic)
        if sub is None:
            if len(self.subs) >= MAX_SUBSCRIPTIONS:
                return None
            sub = self.subs[topic] = Subscription()
        if sub.pending is None:
            sub.pending = []
            self._hold(1)
        sub.reads += 1
        return sub

    def subscribed(self, topic: str, sub: Subscription, seq: int) -> list[Frame] | None:
        """A read of `sub`'s first state, as of `seq`, is done: the held events newer than it, to
        send right after it. Events stay held until the last read under way is answered (a
        later snapshot must not arrive after events newer than it). None if `topic` was
        unsubscribed meanwhile: send nothing."""
        if self.subs.get(topic) is not sub or sub.pending is None:
            return None
        newer = [frame for event_seq, frame in sub.pending if event_seq > seq]
        sub.reads -= 1
        if not sub.reads:
            sub.pending = None
            self._hold(-1)
        return newer

    def unsubscribe(self, topic: str) -> bool:
        """Forget `topic`; False if it was not subscribed."""
        sub = self.subs.pop(topic, None)
        if sub is None:
            return False
        if sub.pending is not None:
            self._hold(-1)
        return True

    def set_line(self, line: int) -> None:
        self.line = line
        self._update()

    def _hold(self, change: int) -> None:
        self.holding += change
        self._update()

    def _set_ready(self, ready: bool) -> None:
        self.ready = ready
        self._update()

    def _update(self) -> None:
        self.straight = self.line if self.ready and not self.holding else -1

    # Outgoing

    def event(self, topic: str, seq: int, frame: Frame) -> Frame | Close | None:
        """An event published on `topic` arrived: `frame` itself if it is to be written now, a
        Close if the backlog overflowed, else None (held, queued, or not subscribed)."""
        sub = self.subs.get(topic)
        if sub is None:
            return None
        if sub.pending is not None:
            sub.pending.append((seq, frame))
            return None
        return frame if self.ready else self.push(True, frame)

    def push(self, is_event: bool, frame: Frame) -> Frame | Close | None:
        """A frame to send: itself if it is to be written now, a Close if the backlog overflowed,
        else None (queued behind a waiting write, or closing)."""
        if self.ready:
            return frame
        if self.closing:
            return None
        self.outbox.append((is_event, frame))
        if len(self.outbox) > MAX_BACKLOG:
            return self.close(CLOSE_TRY_AGAIN, "too far behind: resubscribe with since")
        return None

    def wait(self) -> None:
        """The frame last handed out could not be written at once: queue what comes until `sent`."""
        self.waiting = True
        self._set_ready(False)

    def sent(self) -> None:
        """The waiting write is done: take the queue with `next_frame`."""
        self.waiting = False
        self._set_ready(not self.closing)

    def lost(self) -> None:
        """A write failed: the peer is gone, and nothing more goes out."""
        self.closing = self.close_out = True
        self._set_ready(False)
        self.outbox.clear()

    def next_frame(self) -> tuple[Frame, bool] | None:
        """The head of the queue, to write now, and whether it holds events: a control frame
        alone, or up to BATCH_MAX_EVENTS consecutive events as one batch. None while a write is
        waiting, when nothing is queued, and once closing."""
        outbox = self.outbox
        if self.waiting or not outbox or self.closing:
            return None
        is_event, frame = outbox[0]
        count = 1
        batching = is_event and frame.batchable
        while batching and count < len(outbox) and count < BATCH_MAX_EVENTS and outbox[count][0] \
                and outbox[count][1].batchable:
            count += 1
        batch = outbox[:count]
        del outbox[:count]
        if count == 1:
            return frame, is_event
        return Frame(batch_frame(queued.message["text"] for _, queued in batch)), True

    # Closing

    def close(self, code: int, reason: str = "") -> Close | None:
        """Stop sending and close with `code`: the Close to carry out, or None if already closing."""
        if self.closing:
            return None
        self.closing = True
        self._set_ready(False)
        self.outbox.clear()
        return Close(code, reason)

    def sending_close(self, now: float) -> float:
        """The close frame is being written from `now`: the time by which it must be out."""
        self.close_deadline = now + CLOSE_GRACE
        return self.close_deadline

    def close_sent(self) -> None:
        self.close_out = True

    def reset_due(self, now: float) -> bool:
        """Whether the connection is to be reset at `now`: its close frame is still not out
        CLOSE_GRACE after it was begun."""
        return not self.close_out and self.close_deadline is not None and now >= self.close_deadline

    # Incoming

    def received(self, now: float) -> Close | None:
        """A frame came in at `now`: a Close (1008) if the client is flooding, else None."""
        self.tokens = min(FRAME_BURST, self.tokens + (now - self.refilled) * FRAME_RATE)
        self.refilled = now
        self.tokens -= 1
        return self.close(CLOSE_POLICY, "too many frames") if self.tokens < 0 else None

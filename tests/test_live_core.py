"""The live connection's rules without sockets: queueing, batching, the backlog bound, closing,
the incoming-frame budget and the subscribe buffering of `LiveCore`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from imagechat_tui.protocol.limits import BATCH_MAX_EVENTS, MAX_SUBSCRIPTIONS
from imagechat_tui.server import live_core
from imagechat_tui.server.live_core import (
    CLOSE_GRACE,
    FRAME_BURST,
    FRAME_RATE,
    MAX_BACKLOG,
    Close,
    Frame,
    LiveCore,
)

TOPIC = "t:acme:img"
LINE = 7  # a file descriptor, as the I/O layer would set


def event(seq: int) -> Frame:
    return Frame(json.dumps({"type": "x", "seq": seq}))


def control(n: int) -> Frame:
    return Frame(json.dumps({"type": "subscribed", "n": n}))


def live_core_on(topic: str = TOPIC) -> LiveCore:
    core = LiveCore(0.0)
    sub = core.subscribe(topic)
    assert sub is not None and core.subscribed(topic, sub, 0) == []
    return core


def texts(item: tuple[Frame, bool] | None) -> list[dict]:
    assert item is not None
    frame = json.loads(item[0].message["text"])
    return frame["events"] if frame["type"] == "batch" else [frame]


# Queueing and batching


def test_a_frame_goes_out_at_once_while_nothing_waits() -> None:
    core = live_core_on()
    first = event(1)
    assert core.event(TOPIC, 1, first) is first
    assert core.push(False, second := control(1)) is second
    assert core.next_frame() is None


def test_what_comes_while_a_write_waits_is_queued_then_batched_up_to_the_limit() -> None:
    core = live_core_on()
    core.event(TOPIC, 1, event(1))
    core.wait()
    for seq in range(2, 2 + BATCH_MAX_EVENTS + 3):
        assert core.event(TOPIC, seq, event(seq)) is None
    assert core.next_frame() is None  # still waiting
    core.sent()
    assert [e["seq"] for e in texts(core.next_frame())] == list(range(2, 2 + BATCH_MAX_EVENTS))
    assert [e["seq"] for e in texts(core.next_frame())] == [66, 67, 68]
    assert core.next_frame() is None


def test_a_control_frame_goes_alone_and_splits_the_batches_around_it() -> None:
    core = live_core_on()
    core.push(False, control(0))
    core.wait()
    core.event(TOPIC, 1, one := event(1))
    core.push(False, answer := control(1))
    for seq in (2, 3):
        core.event(TOPIC, seq, event(seq))
    core.sent()
    assert core.next_frame() == (one, True)  # a lone event is sent as itself, not as a batch of one
    assert core.next_frame() == (answer, False)
    assert [e["seq"] for e in texts(core.next_frame())] == [2, 3]


def test_a_write_that_waits_again_stops_the_drain_until_it_is_sent() -> None:
    core = live_core_on()
    core.push(False, control(0))
    core.wait()
    core.push(False, first := control(1))
    core.push(False, second := control(2))
    core.sent()
    assert core.next_frame() == (first, False)
    core.wait()
    assert core.next_frame() is None
    core.sent()
    assert core.next_frame() == (second, False)


# The backlog bound and closing


def test_past_the_backlog_the_connection_closes_with_1013_once() -> None:
    core = live_core_on()
    core.event(TOPIC, 1, event(1))
    core.wait()
    for seq in range(2, MAX_BACKLOG + 2):
        assert core.event(TOPIC, seq, event(seq)) is None
    close = core.event(TOPIC, MAX_BACKLOG + 2, event(MAX_BACKLOG + 2))
    assert isinstance(close, Close) and (close.code, close.reason) == (1013, "too far behind: resubscribe with since")
    assert len(core.outbox) == 0 and core.closing
    assert core.event(TOPIC, MAX_BACKLOG + 3, event(MAX_BACKLOG + 3)) is None
    core.sent()
    assert core.next_frame() is None  # nothing more goes out after closing


def test_close_is_carried_out_once_and_nothing_follows_it() -> None:
    core = live_core_on()
    close = core.close(1001, "server shutting down")
    assert isinstance(close, Close) and close.code == 1001
    assert core.close(4401, "token revoked") is None
    assert core.push(False, control(1)) is None and core.event(TOPIC, 1, event(1)) is None


def test_a_close_frame_not_out_within_the_grace_gets_the_connection_reset() -> None:
    core = live_core_on()
    core.close(1013)
    deadline = core.sending_close(10.0)
    assert deadline == 10.0 + CLOSE_GRACE
    assert not core.reset_due(10.0 + CLOSE_GRACE / 2)
    assert core.reset_due(deadline)


def test_a_close_frame_that_got_out_or_a_peer_that_is_gone_needs_no_reset() -> None:
    for finish in (LiveCore.close_sent, LiveCore.lost):
        core = live_core_on()
        core.close(1013)
        core.sending_close(10.0)
        finish(core)
        assert not core.reset_due(10.0 + 2 * CLOSE_GRACE)


def test_a_failed_write_stops_everything_and_no_close_follows() -> None:
    core = live_core_on()
    core.event(TOPIC, 1, event(1))
    core.wait()
    core.event(TOPIC, 2, event(2))
    core.lost()
    assert core.next_frame() is None and core.event(TOPIC, 3, event(3)) is None
    assert core.close(1013) is None


# Incoming frames


def test_a_burst_is_allowed_and_a_flood_closes_with_1008() -> None:
    core = LiveCore(0.0)
    assert all(core.received(0.0) is None for _ in range(int(FRAME_BURST)))
    close = core.received(0.0)
    assert isinstance(close, Close) and close.code == 1008
    assert core.closing


def test_the_frame_budget_refills_at_the_frame_rate() -> None:
    core = LiveCore(0.0)
    for _ in range(int(FRAME_BURST)):
        core.received(0.0)
    now = 0.0
    for n in range(1, 201):  # just under FRAME_RATE per second goes on for ever
        now = n * 1.001 / FRAME_RATE
        assert core.received(now) is None
    assert core.received(now) is not None  # with no burst left on top of it


# Subscriptions


def test_events_during_the_first_read_are_held_and_the_newer_ones_follow_it() -> None:
    core = LiveCore(0.0)
    sub = core.subscribe(TOPIC)
    assert sub is not None
    frames = {seq: event(seq) for seq in range(1, 6)}
    for seq in (3, 4, 5):  # 3 is in the snapshot read as of seq 3; 4 and 5 are not
        assert core.event(TOPIC, seq, frames[seq]) is None
    assert core.subscribed(TOPIC, sub, 3) == [frames[4], frames[5]]
    assert core.event(TOPIC, 6, six := event(6)) is six  # live from now on


def test_a_topic_unsubscribed_during_its_read_sends_nothing() -> None:
    core = LiveCore(0.0)
    sub = core.subscribe(TOPIC)
    assert sub is not None
    core.event(TOPIC, 1, event(1))
    assert core.unsubscribe(TOPIC) and not core.unsubscribe(TOPIC)
    assert core.subscribed(TOPIC, sub, 0) is None
    again = core.subscribe(TOPIC)
    assert again is not sub and again is not None
    assert core.subscribed(TOPIC, sub, 0) is None  # the old read's answer is not the new one's


def test_a_resubscribe_during_a_read_holds_events_until_both_are_answered() -> None:
    core = LiveCore(0.0)
    first = core.subscribe(TOPIC)
    second = core.subscribe(TOPIC)
    assert first is second is not None
    frames = {seq: event(seq) for seq in range(1, 5)}
    for seq in (1, 2):
        core.event(TOPIC, seq, frames[seq])
    assert core.subscribed(TOPIC, first, 0) == [frames[1], frames[2]]
    core.event(TOPIC, 3, frames[3])
    core.event(TOPIC, 4, frames[4])
    assert core.subscribed(TOPIC, second, 3) == [frames[4]]  # nothing newer went out before this snapshot
    assert core.event(TOPIC, 5, five := event(5)) is five


def test_subscriptions_are_limited_but_a_resubscribe_is_not_a_new_one() -> None:
    core = LiveCore(0.0)
    for n in range(MAX_SUBSCRIPTIONS):
        assert core.subscribe(f"t:{n}") is not None
    assert core.subscribe("t:one-more") is None and "t:one-more" not in core.subs
    assert core.subscribe("t:0") is not None


def test_events_of_topics_not_subscribed_are_ignored() -> None:
    core = live_core_on()
    assert core.event("t:acme:other", 1, event(1)) is None


def test_the_line_is_straight_only_while_an_event_would_go_out_at_once_as_it_is() -> None:
    core = LiveCore(0.0)
    assert core.straight == -1  # no line until the I/O layer sets one
    core.set_line(LINE)
    assert core.straight == LINE
    sub = core.subscribe(TOPIC)
    assert core.straight == -1  # events are held during the first read
    core.subscribe("t:acme:other")
    core.unsubscribe("t:acme:other")  # one subscription still holds
    assert core.straight == -1
    assert core.subscribed(TOPIC, sub, 0) == []
    assert core.straight == LINE
    core.wait()
    assert core.straight == -1
    core.sent()
    assert core.straight == LINE
    core.set_line(-1)  # the socket is closing, full, or has data queued in the transport
    assert core.straight == -1 and core.event(TOPIC, 1, event(1)) is not None  # `deliver` decides
    core.set_line(LINE)
    core.close(1000)
    assert core.straight == -1
    core.sent()  # a write that finishes while closing does not make it straight again
    assert core.straight == -1


# Any sequence of events and write completions


@dataclass
class Wire:
    """What a socket received from a core driven as `LiveConnection` drives it."""

    core: LiveCore
    full: bool = False  # writes wait until the socket drains
    frames: list[tuple[Frame, bool]] = field(default_factory=list)
    close: Close | None = None

    def carry_out(self, out: Frame | Close | None, is_event: bool) -> None:
        if isinstance(out, Close):
            assert self.close is None
            self.close = out
        elif out is not None:
            self.write(out, is_event)

    def write(self, frame: Frame, is_event: bool) -> None:
        self.frames.append((frame, is_event))
        if self.full:
            self.core.wait()

    def drain(self) -> None:
        self.full = False
        if self.core.waiting:
            self.core.sent()
        while (item := self.core.next_frame()) is not None:
            self.write(*item)

    def delivered(self) -> list[tuple[str, int]]:
        """Each frame received as (kind, n), batches opened; checks that a batch holds only events."""
        out = []
        for frame, is_event in self.frames:
            body = json.loads(frame.message["text"])
            if body["type"] == "batch":
                assert is_event and 1 < len(body["events"]) <= live_core.BATCH_MAX_EVENTS
                out += [("event", e["seq"]) for e in body["events"]]
            else:
                out.append(("event", body["seq"]) if is_event else ("control", body["n"]))
        return out


STEPS = st.lists(st.one_of(
    st.tuples(st.just("events"), st.integers(1, 40)),
    st.tuples(st.just("control"), st.just(1)),
    st.tuples(st.just("fill"), st.just(0)),
    st.tuples(st.just("drain"), st.just(0)),
), max_size=60)


def run_steps(steps: list[tuple[str, int]]) -> None:
    core = live_core_on()
    core.set_line(LINE)
    wire = Wire(core)
    pushed: list[tuple[str, int]] = []
    seq = controls = 0
    for step, count in steps:
        for _ in range(count):
            if step == "events":
                seq += 1
                pushed.append(("event", seq))
                frame, straight = event(seq), core.straight
                out = core.event(TOPIC, seq, frame)
                assert (straight == LINE) == (out is frame)  # the hub's shortcut decides as `event` would
                wire.carry_out(out, True)
            elif step == "control":
                controls += 1
                pushed.append(("control", controls))
                wire.carry_out(core.push(False, control(controls)), False)
            assert len(core.outbox) <= live_core.MAX_BACKLOG
        if step == "fill":
            wire.full = True
        elif step == "drain":
            wire.drain()
    wire.drain()
    delivered = wire.delivered()
    if wire.close is None:
        assert delivered == pushed  # all, once each, in order
        assert not core.outbox
    else:
        assert wire.close.code == 1013
        assert delivered == pushed[:len(delivered)]  # in order, none twice, none skipped


@settings(max_examples=300, deadline=None)
@given(steps=STEPS)
def test_any_sequence_keeps_order_and_the_bound_and_delivers_once_or_closes_with_1013(steps) -> None:
    with patch.object(live_core, "MAX_BACKLOG", 30), patch.object(live_core, "BATCH_MAX_EVENTS", 4):
        run_steps(steps)


@settings(max_examples=30, deadline=None)
@given(steps=STEPS)
def test_the_same_with_the_real_bounds(steps) -> None:
    run_steps([(step, count * 30 if step == "events" else count) for step, count in steps])

"""The client's sync core against real histories: a random series of writes goes through the
server's store (SQLite), and its events are delivered to a `Sequencer` and an `ImageState` shuffled,
repeated and partly lost. Whatever the delivery, the state ends exactly as a fresh snapshot, and
each event in order leaves it as the server's snapshot at that seq (so the server's and the
client's application of the shared rules in `protocol.changes` agree at every step)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from imagechat_tui.client.sequencer import Sequencer
from imagechat_tui.client.state import ImageState
from imagechat_tui.protocol.events import AnyEvent, Event
from imagechat_tui.protocol.models import AddComment, CreateChat, EditComment, Marker, PatchChat
from imagechat_tui.server import admin
from imagechat_tui.server.database import Database
from imagechat_tui.server.schema import prepare
from imagechat_tui.server.store import Committed, Principal, Store

from .conftest import bid, key_of

Op = Literal["create", "reply", "comment", "edit", "delete-comment", "status", "move", "delete-marker"]
# Weighted towards replies and deletions, which reach the tombstone rule's every branch
# (a tombstone, and a tombstone removed with its last reply).
OPS: list[Op] = ["create", "reply", "reply", "reply", "comment", "edit", "delete-comment", "delete-comment",
                 "delete-comment", "status", "move", "delete-marker"]
writes = st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 99), st.integers(0, 99)), min_size=1, max_size=24)
BOUNDED = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_event = TypeAdapter[AnyEvent](Event)


@dataclass
class History:
    events: list[AnyEvent]
    snapshots: dict[int, list[Marker]]
    """The image's markers as `GET /chats` gives them after each seq (and at 0)."""

    @property
    def seq(self) -> int:
        return max(self.snapshots)


@pytest.fixture
async def moderator(sqlite_database: str) -> AsyncIterator[tuple[Store, Principal]]:
    db = Database(sqlite_database)
    await db.run(prepare)
    await admin.create_tenant(db, "acme")
    _, token = await admin.create_token(db, "acme", "u_mo", "Mo", "moderator")
    store = Store(db)
    p = await store.principal(token)
    assert p is not None
    yield store, p
    await db.dispose()


async def record(store: Store, p: Principal, ops: list[tuple[Op, int, int]]) -> History:
    """Run `ops` on a new image (indices pick among what exists then) and keep every event and snapshot."""
    key = key_of(uuid.uuid4().bytes)
    history = History([], {0: []})
    markers: list[Marker] = []
    for op, a, b in ops:
        committed = await write(store, p, key, markers, op, a, b)
        assert committed.event is not None
        history.events.append(_event.validate_json(committed.event))
        page = await store.chats(p, key)
        assert page.seq == committed.seq
        history.snapshots[page.seq] = markers = page.markers
    return history


async def write(store: Store, p: Principal, key: str, markers: list[Marker], op: Op, a: int, b: int) -> Committed:
    if op == "create" or not markers:
        return await store.create_marker(p, CreateChat(image=key, x=a, y=b, text=f"new {a}", broadcast_id=bid()), bid())
    marker = markers[a % len(markers)]
    live = [c for c in marker.comments if not c.deleted]
    if op == "reply" or (op in ("edit", "delete-comment") and not live):
        parent = marker.comments[b % len(marker.comments)].id if marker.comments else None
        body = AddComment(text=f"reply {b}", parent_id=parent, broadcast_id=bid())
        return await store.add_comment(p, marker.id, body, bid())
    if op == "comment":
        return await store.add_comment(p, marker.id, AddComment(text=f"c {b}", broadcast_id=bid()), bid())
    if op == "edit":
        body = EditComment(text=f"edited {a}", broadcast_id=bid())
        return await store.edit_comment(p, live[b % len(live)].id, body, bid())
    if op == "delete-comment":
        return await store.delete_comment(p, live[b % len(live)].id, bid(), bid())
    if op == "status":
        status = "resolved" if marker.status == "open" else "open"
        return await store.patch_marker(p, marker.id, PatchChat(status=status, broadcast_id=bid()), bid())
    if op == "move":
        return await store.patch_marker(p, marker.id, PatchChat(x=b, y=a, broadcast_id=bid()), bid())
    return await store.delete_marker(p, marker.id, bid(), bid())


class Follower:
    """One image as the sync engine follows it (`SyncEngine._offer` and `_on_subscribed`), checking
    each event it applies against the server's snapshot at that seq."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.state = ImageState("image")
        self.order = Sequencer()

    def deliver(self, events: list[AnyEvent]) -> None:
        for event in events:
            self._apply(self.order.offer(event, 0.0))

    def replay(self) -> None:
        """The answer to `subscribe` with `since=last`: every event after it."""
        self.deliver([e for e in self.history.events if e.seq > self.order.last])

    def snapshot(self, seq: int) -> None:
        self.state.load(seq, [m.model_copy(deep=True) for m in self.history.snapshots[seq]])
        self._apply(self.order.reset(seq, 0.0))

    def _apply(self, events: list[AnyEvent]) -> None:
        for event in events:
            self.state.apply(event)
            assert self.state.markers == by_id(self.history.snapshots[event.seq]), f"after seq {event.seq}"

    def assert_converged(self) -> None:
        assert self.state.seq == self.order.last == self.history.seq
        assert self.order.held == {} and self.order.gap_since is None
        assert self.state.markers == by_id(self.history.snapshots[self.history.seq])


def by_id(markers: list[Marker]) -> dict[str, Marker]:
    return {m.id: m for m in markers}


def scrambled(data: st.DataObject, events: list[AnyEvent]) -> list[AnyEvent]:
    """`events` in any order, some of them more than once."""
    again = data.draw(st.lists(st.sampled_from(events), max_size=len(events))) if events else []
    return data.draw(st.permutations(events + again))


def shuffled_and_repeated(follower: Follower, data: st.DataObject) -> None:
    follower.deliver(scrambled(data, follower.history.events))


def lost_then_replayed(follower: Follower, data: st.DataObject) -> None:
    follower.deliver(scrambled(data, some_of(data, follower.history.events)))
    follower.replay()


def lost_then_snapshot(follower: Follower, data: st.DataObject) -> None:
    kept = some_of(data, follower.history.events)
    follower.deliver(scrambled(data, kept))
    at = data.draw(st.integers(0, follower.history.seq))
    follower.snapshot(at)
    # After the snapshot: every later event, with stale and repeated ones among them.
    follower.deliver(scrambled(data, [e for e in follower.history.events if e.seq > at] + kept))


def some_of(data: st.DataObject, events: list[AnyEvent]) -> list[AnyEvent]:
    return data.draw(st.lists(st.sampled_from(events), unique_by=lambda e: e.seq))


@pytest.mark.parametrize("delivery", [shuffled_and_repeated, lost_then_replayed, lost_then_snapshot])
@BOUNDED
@given(ops=writes, data=st.data())
async def test_any_delivery_ends_in_the_state_of_a_fresh_snapshot(
        moderator: tuple[Store, Principal], delivery: Callable[[Follower, st.DataObject], None],
        ops: list[tuple[Op, int, int]], data: st.DataObject) -> None:
    follower = Follower(await record(*moderator, ops))
    delivery(follower, data)
    follower.assert_converged()

"""The rules of presence, without I/O (like `live_core`): who is viewing each image and who is
writing on which marker, across the processes of a cluster.

Inputs are method calls with the time: a connection took up presence (`use-presence`, shown or
hidden), was heard from, viewed an
image (its `subscribed` went out), left it, announced or stopped writing, went away; another
process's account of an image came over pub/sub; the clock ticked. Outputs: `view` returns the
whole list for the connection that viewed; `tick` returns the rest, `Tell` (a frame to some local
connections) and `Publish` (this process's account of an image, for the others). `live.Hub`
carries them out, and ticks every TICK seconds.

The rules:
- only connections that sent `use-presence` take part: they get the lists of the images they
  view, and, unless hidden, are on them (a v1 client neither gets nor keeps up presence);
- a viewer is a connection that viewed the image, is not hidden, and was heard from within
  PRESENCE_TTL; a user is listed once, however many connections (here or in other processes)
  they have: writing if any of them is (the latest announcement wins);
- writing lapses WRITING_TTL after its last announcement, and ends with `stopped-writing`, leaving
  the image, or the connection;
- each process publishes its own viewers of an image (deduplicated) whenever they change (at the
  next tick) and every PUBLISH_EVERY while it has any; another process's account is dropped
  REMOTE_TTL after its last message (that process died or lost its link);
- a process that hears from another one new to an image (it just began viewing it, or came back)
  repeats its own account at the next tick, rather than up to PUBLISH_EVERY later: a viewer on a
  process new to the image sees the others within three ticks;
- local connections get the whole list after subscribing (`presence`) and then what changed
  (`presence-changed`), at the next tick: a burst of comings and goings (a thousand viewers
  reconnecting after a restart) makes one frame per viewer and tick, not one per change. The whole
  list is the one the members were last told, and the newcomer itself: what changed since reaches
  it at the next tick with the others'. So a join costs one copy of a list kept as text (listing
  everyone anew for each of a thousand joiners made the joins quadratic: bench/presence.py).
"""

from __future__ import annotations

import functools
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import NamedTuple

from pydantic import ValidationError

from ..protocol.events import Presence, PresenceChanged, PresentUser, Writing
from ..protocol.limits import PRESENCE_TTL, WRITING_TTL
from ..protocol.models import Model

TICK = 0.5
"""How often the hub calls `tick`: expiries and publishing happen then."""
PUBLISH_EVERY = 3.0
"""A process repeats its account of an image this often while it has viewers there."""
REMOTE_TTL = 8.0
"""Another process's account of an image is dropped this long after its last message."""
NEW_MARKER = ""
"""`Person.writing` for a new marker's first comment (marker ids are never empty)."""

Key = Hashable
"""A local connection, as the I/O layer names it."""


class Person(NamedTuple):
    """One user as listed: `writing` is a marker id, NEW_MARKER, or None (not writing)."""

    id: str
    name: str
    writing: str | None = None

    def wire(self) -> PresentUser:
        writing = None if self.writing is None else Writing(marker_id=self.writing or None)
        return PresentUser(id=self.id, name=self.name, writing=writing)

    @classmethod
    def of(cls, user: PresentUser) -> Person:
        writing = None if user.writing is None else (user.writing.marker_id or NEW_MARKER)
        return cls(user.id, user.name, writing)


class ProcessPresence(Model):
    """A process's account of one image's viewers, as published between processes."""

    process: str
    users: list[PresentUser]


@dataclass(frozen=True, slots=True)
class Tell:
    to: tuple[Key, ...]
    text: str


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    text: str


Out = Tell | Publish


@dataclass(slots=True)
class _Conn:
    user_id: str
    name: str
    heard: float
    hidden: bool = False
    writing: dict[str, tuple[str, float]] = field(default_factory=dict)
    """topic -> (marker id or NEW_MARKER, when announced)."""
    topics: set[str] = field(default_factory=set)
    """Topics it views (it was sent their `presence`)."""


@dataclass(slots=True)
class _Topic:
    image: str
    members: dict[Key, None] = field(default_factory=dict)
    """Local connections that were sent the list, hidden ones included."""
    remote: dict[str, tuple[tuple[Person, ...], float]] = field(default_factory=dict)
    """process id -> (its viewers, when its account expires)."""
    shown: dict[str, Person] = field(default_factory=dict)
    """The list as the members were last told."""
    listed: str | None = None
    """`shown` as the JSON of a frame's users, made when first needed after it changed."""
    published: tuple[Person, ...] | None = None
    """This process's account as last published; None until the first (even empty: the other
    processes then repeat theirs at once, see `remote`)."""
    published_at: float = float("-inf")

    def listing(self) -> str:
        if self.listed is None:
            self.listed = ",".join(_fragment(p) for p in self.shown.values())
        return self.listed


class PresenceBoard:
    """Presence in one server process: its connections' and, per image, the other processes'."""

    def __init__(self, process: str) -> None:
        self.process = process
        self.conns: dict[Key, _Conn] = {}
        self.topics: dict[str, _Topic] = {}
        self.malformed = 0

    # Connections: only those that took up presence are known here (idle connections are many).

    def use(self, key: Key, user_id: str, name: str, visible: bool, now: float) -> None:
        """The connection takes up presence for the images it views from now on: listed on them
        if `visible`, else only told."""
        conn = self.conns.get(key)
        if conn is None:
            conn = self.conns[key] = _Conn(user_id, name, now)
        conn.hidden = not visible
        if conn.hidden:
            conn.writing.clear()

    def heard(self, key: Key, now: float) -> None:
        """Anything came from the connection: it is alive (and back, if it was taken for gone)."""
        conn = self.conns.get(key)
        if conn is not None:
            conn.heard = now

    def disconnect(self, key: Key) -> None:
        conn = self.conns.pop(key, None)
        if conn is not None:
            for topic in conn.topics:
                self.topics[topic].members.pop(key, None)

    # Images

    def view(self, key: Key, topic: str, image: str, now: float) -> Tell | None:
        """The connection was sent the image's state (`subscribed`): the whole list for it, as
        the members were last told and with itself (unless hidden); what changed since comes at
        the next tick."""
        conn = self.conns.get(key)
        if conn is None:
            return None
        state = self.topics.get(topic)
        if state is None:
            state = self.topics[topic] = _Topic(image)
        conn.topics.add(topic)
        state.members[key] = None
        listed = state.listing()
        if not conn.hidden and conn.user_id not in state.shown:
            me = _fragment(Person(conn.user_id, conn.name))
            listed = f"{listed},{me}" if listed else me
        return Tell((key,), _with_users(Presence(image=image, users=[]), listed))

    def leave(self, key: Key, topic: str) -> None:
        conn = self.conns.get(key)
        if conn is not None and topic in conn.topics:
            conn.topics.discard(topic)
            conn.writing.pop(topic, None)
            self.topics[topic].members.pop(key, None)

    def writing(self, key: Key, topic: str, marker_id: str | None, now: float) -> None:
        conn = self.conns.get(key)
        if conn is not None and not conn.hidden and topic in conn.topics:
            conn.writing[topic] = (marker_id or NEW_MARKER, now)

    def stopped_writing(self, key: Key, topic: str) -> None:
        conn = self.conns.get(key)
        if conn is not None:
            conn.writing.pop(topic, None)

    def remote(self, topic: str, text: str, now: float) -> None:
        """Another process's account of the image came (our own comes back too: ignored)."""
        state = self.topics.get(topic)
        if state is None:
            return
        try:
            account = ProcessPresence.model_validate_json(text)
        except ValidationError:
            self.malformed += 1
            return
        if account.process == self.process:
            return
        if account.process not in state.remote:
            # A process new to the image (or back): it missed our account, which is repeated at
            # the next tick instead of up to PUBLISH_EVERY later.
            state.published_at = float("-inf")
        # kept even if empty, until it expires: the process is known to view the image
        state.remote[account.process] = (tuple(Person.of(u) for u in account.users), now + REMOTE_TTL)

    # Time

    def tick(self, now: float) -> list[Out]:
        """Expire what is due, tell each image's members what changed, and publish this process's
        accounts that changed or are due again; images nobody here views any more are forgotten."""
        out: list[Out] = []
        for topic, state in list(self.topics.items()):
            state.remote = {p: account for p, account in state.remote.items() if account[1] > now}
            own = self._local(topic, now)
            out += self._changes(state, self._merged(own, state))
            if own != state.published or (own and now - state.published_at >= PUBLISH_EVERY):
                state.published, state.published_at = own, now
                account = ProcessPresence(process=self.process, users=[])
                out.append(Publish(topic, _with_users(account, ",".join(map(_fragment, own)))))
            if not state.members and not state.published:
                del self.topics[topic]
        return out

    # The lists

    def people(self, topic: str, now: float) -> dict[str, Person]:
        """Everyone viewing the image, by user id."""
        return self._merged(self._local(topic, now), self.topics[topic])

    def _merged(self, own: tuple[Person, ...], state: _Topic) -> dict[str, Person]:
        """This process's viewers and the other processes', once each: writing wins."""
        everyone = {p.id: p for p in own}
        for process in sorted(state.remote):
            for person in state.remote[process][0]:
                if person.id not in everyone or (everyone[person.id].writing is None and person.writing is not None):
                    everyone[person.id] = person
        return everyone

    def _local(self, topic: str, now: float) -> tuple[Person, ...]:
        """This process's viewers of the image, one per user, by id: writing if any of their
        connections writes (the latest announcement)."""
        state = self.topics[topic]
        latest: dict[str, tuple[float, Person]] = {}
        for key in state.members:
            conn = self.conns[key]
            if conn.hidden or now - conn.heard > PRESENCE_TTL:
                continue
            writing = conn.writing.get(topic)
            if writing is not None and now - writing[1] > WRITING_TTL:
                writing = None
            since = writing[1] if writing is not None else float("-inf")
            seen = latest.get(conn.user_id)
            if seen is None or since > seen[0]:
                latest[conn.user_id] = (since, Person(conn.user_id, conn.name, writing[0] if writing else None))
        return tuple(person for _, (_, person) in sorted(latest.items()))

    def _changes(self, state: _Topic, people: dict[str, Person]) -> list[Out]:
        """What changed in the image's list since its members were last told, for them."""
        came = [p for uid, p in people.items() if state.shown.get(uid) != p]
        left = [uid for uid in state.shown if uid not in people]
        if not (came or left):
            return []
        state.shown, state.listed = people, None
        if not state.members:
            return []
        frame = PresenceChanged(image=state.image, users=[], left=left)
        return [Tell(tuple(state.members), _with_users(frame, ",".join(map(_fragment, came))))]


@functools.lru_cache(maxsize=1 << 16)
def _fragment(person: Person) -> str:
    """A person's JSON in a frame's `users`, made once (a model per person and frame was most
    of a tick's work with a thousand viewers)."""
    return person.wire().model_dump_json(exclude_none=True)


def _with_users(frame: Model, users: str) -> str:
    """`frame` (made with no users) as JSON, with `users` (fragments joined by commas) put in."""
    empty = frame.model_dump_json(exclude_none=True)
    head, found, tail = empty.partition('"users":[]')
    assert found, "the frame has a users list"
    return f'{head}"users":[{users}]{tail}'

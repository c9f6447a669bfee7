"""The rules of presence, without I/O (like `live_core`): who is viewing each image and who is
writing on which marker, across the processes of a cluster.

Inputs are method calls with the time: a connection came, was heard from, took up presence
(`use-presence`, shown or hidden), viewed an
image (its `subscribed` went out), left it, announced or stopped writing, went away; another
process's account of an image came over pub/sub; the clock ticked. Outputs are what the calls
return: `Tell` (a frame to some local connections) and `Publish` (this process's account of an
image, for the others). `live.Hub` carries them out.

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
- local connections get the whole list after subscribing (`presence`) and then only what changed
  (`presence-changed`), as soon as it changes here or at the tick that notices it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
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
    enabled: bool = False
    """It sent `use-presence`."""
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
    published: tuple[Person, ...] = ()
    published_at: float = float("-inf")


class PresenceBoard:
    """Presence in one server process: its connections' and, per image, the other processes'."""

    def __init__(self, process: str) -> None:
        self.process = process
        self.conns: dict[Key, _Conn] = {}
        self.topics: dict[str, _Topic] = {}
        self.malformed = 0

    # Connections

    def connect(self, key: Key, user_id: str, name: str, now: float) -> None:
        self.conns[key] = _Conn(user_id, name, now)

    def heard(self, key: Key, now: float) -> list[Out]:
        """Anything came from the connection: it is alive. A connection taken for gone is back."""
        conn = self.conns.get(key)
        if conn is None:
            return []
        was_stale = now - conn.heard > PRESENCE_TTL
        conn.heard = now
        return self._changed(conn.topics, now) if was_stale and not conn.hidden else []

    def use(self, key: Key, visible: bool, now: float) -> list[Out]:
        """The connection takes up presence for the images it views from now on: listed on them
        if `visible`, else only told."""
        conn = self.conns.get(key)
        if conn is None:
            return []
        conn.enabled, conn.hidden = True, not visible
        if conn.hidden:
            conn.writing.clear()
        return self._changed(conn.topics, now)

    def disconnect(self, key: Key, now: float) -> list[Out]:
        conn = self.conns.pop(key, None)
        if conn is None:
            return []
        for topic in conn.topics:
            self.topics[topic].members.pop(key, None)
        return self._changed(conn.topics, now)

    # Images

    def view(self, key: Key, topic: str, image: str, now: float) -> list[Out]:
        """The connection was sent the image's state (`subscribed`): it gets the whole list, and
        the others what changed."""
        conn = self.conns.get(key)
        if conn is None or not conn.enabled:
            return []
        state = self.topics.get(topic)
        if state is None:
            state = self.topics[topic] = _Topic(image)
        conn.topics.add(topic)
        state.members[key] = None
        out = self._changed([topic], now, skip=key)
        frame = Presence(image=state.image, users=[p.wire() for p in state.shown.values()])
        out.append(Tell((key,), frame.model_dump_json(exclude_none=True)))
        return out

    def leave(self, key: Key, topic: str, now: float) -> list[Out]:
        conn = self.conns.get(key)
        state = self.topics.get(topic)
        if conn is None or state is None or topic not in conn.topics:
            return []
        conn.topics.discard(topic)
        conn.writing.pop(topic, None)
        state.members.pop(key, None)
        return self._changed([topic], now)

    def writing(self, key: Key, topic: str, marker_id: str | None, now: float) -> list[Out]:
        conn = self.conns.get(key)
        if conn is None or conn.hidden or topic not in conn.topics:
            return []
        before = conn.writing.get(topic)
        conn.writing[topic] = (marker_id or NEW_MARKER, now)
        return self._changed([topic], now) if before is None or before[0] != (marker_id or NEW_MARKER) else []

    def stopped_writing(self, key: Key, topic: str, now: float) -> list[Out]:
        conn = self.conns.get(key)
        if conn is None or conn.writing.pop(topic, None) is None:
            return []
        return self._changed([topic], now)

    def remote(self, topic: str, text: str, now: float) -> list[Out]:
        """Another process's account of the image came (our own comes back too: ignored)."""
        state = self.topics.get(topic)
        if state is None:
            return []
        try:
            account = ProcessPresence.model_validate_json(text)
        except ValidationError:
            self.malformed += 1
            return []
        if account.process == self.process:
            return []
        if account.users:
            state.remote[account.process] = (tuple(Person.of(u) for u in account.users), now + REMOTE_TTL)
        elif state.remote.pop(account.process, None) is None:
            return []
        return self._changed([topic], now)

    # Time

    def tick(self, now: float) -> list[Out]:
        """Expire what is due, tell the members, and publish this process's accounts that changed
        or are due again; topics nobody here views any more are forgotten."""
        out: list[Out] = []
        for topic, state in list(self.topics.items()):
            state.remote = {p: account for p, account in state.remote.items() if account[1] > now}
            out += self._changed([topic], now)
            own = self._local(topic, now)
            if own != state.published or (own and now - state.published_at >= PUBLISH_EVERY):
                state.published, state.published_at = own, now
                account = ProcessPresence(process=self.process, users=[p.wire() for p in own])
                out.append(Publish(topic, account.model_dump_json(exclude_none=True)))
            if not state.members and not state.published:
                del self.topics[topic]
        return out

    # The lists

    def people(self, topic: str, now: float) -> dict[str, Person]:
        """Everyone viewing the image, by user id."""
        state = self.topics[topic]
        everyone = {p.id: p for p in self._local(topic, now)}
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

    def _changed(self, topics: Iterable[str], now: float, skip: Key | None = None) -> list[Out]:
        """Tell each topic's members (but `skip`) what changed in its list since they were last told."""
        out: list[Out] = []
        for topic in topics:
            state = self.topics.get(topic)
            if state is None:
                continue
            people = self.people(topic, now)
            came = [p for uid, p in people.items() if state.shown.get(uid) != p]
            left = [uid for uid in state.shown if uid not in people]
            state.shown = people
            to = tuple(key for key in state.members if key != skip)
            if (came or left) and to:
                frame = PresenceChanged(image=state.image, users=[p.wire() for p in came], left=left)
                out.append(Tell(to, frame.model_dump_json(exclude_none=True)))
        return out

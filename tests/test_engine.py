"""The client sync engine against a real server: live sync of every change, own-change handling,
recovery, gap repair, offline refusal and rollback."""

from __future__ import annotations

import asyncio
import time

import pytest

from imagechat_tui.client.engine import (
    Backoff,
    ImageChanged,
    LinkChanged,
    LinkState,
    Resynced,
    SyncEngine,
    WriteFailed,
)
from imagechat_tui.client.errors import OfflineError, RequestError
from imagechat_tui.protocol.limits import CLOSE_SERVICE_RESTART
from imagechat_tui.server.pubsub import LocalPubSub

from .conftest import IMAGE, Harness, stop_server, wait_for
from .redis_server import free_port


def snapshot(engine: SyncEngine) -> list[dict]:
    return [m.model_dump() for m in engine.markers(IMAGE)]


async def online_pair(server: Harness, engines, second_user: str = "u_bob") -> tuple[SyncEngine, SyncEngine]:
    a = await engines(server.url, await server.token("u_ana", "Ana"))
    b = await engines(server.url, await server.token(second_user, "Bob" if second_user == "u_bob" else "Ana"))
    for engine in (a, b):
        engine.subscribe(IMAGE)
        await asyncio.wait_for(engine.wait_synced(IMAGE), 5)
        await wait_for(lambda e=engine: e.link.state is LinkState.ONLINE, what="online")
    return a, b


def find(engine: SyncEngine, marker_id: str):
    return next((m for m in engine.markers(IMAGE) if m.id == marker_id), None)


async def test_every_change_reaches_the_other_engine_within_a_second(server: Harness, engines) -> None:
    a, b = await online_pair(server, engines)

    marker = await a.create_marker(IMAGE, 25, 40.5, "Button cut off here")
    await wait_for(lambda: find(b, marker.id) is not None, 1.0, "the new marker at b")

    comment = await b.add_comment(IMAGE, marker.id, "Which button?")
    await wait_for(lambda: len(find(a, marker.id).comments) == 2, 1.0, "the comment at a")

    reply = await a.add_comment(IMAGE, marker.id, "The blue one", parent_id=comment.id)
    await wait_for(lambda: any(c.parent_id == comment.id for c in find(b, marker.id).comments), 1.0, "the reply")

    await a.edit_comment(IMAGE, reply.id, "The big blue one")
    await wait_for(lambda: any(c.text == "The big blue one" for c in find(b, marker.id).comments), 1.0, "the edit")

    await b.set_status(IMAGE, marker.id, "resolved")
    await wait_for(lambda: find(a, marker.id).status == "resolved", 1.0, "resolved")

    await a.move_marker(IMAGE, marker.id, 60, 70.25)
    await wait_for(lambda: (find(b, marker.id).x, find(b, marker.id).y) == (60, 70.25), 1.0, "the move")

    await a.delete_comment(IMAGE, reply.id)
    await wait_for(lambda: all(c.id != reply.id for c in find(b, marker.id).comments), 1.0, "the comment delete")

    await a.delete_marker(IMAGE, marker.id)
    await wait_for(lambda: find(b, marker.id) is None, 1.0, "the marker delete")

    assert snapshot(a) == snapshot(b) == []
    assert a.state(IMAGE).seq == b.state(IMAGE).seq == 8


async def test_own_changes_are_not_applied_twice_but_a_second_terminal_applies_them(
    server: Harness, engines
) -> None:
    token = await server.token("u_ana", "Ana")
    a = await engines(server.url, token)
    a2 = await engines(server.url, token)  # the same user in another terminal
    seen: dict[str, list] = {"a": [], "a2": []}
    a.add_listener(lambda n: isinstance(n, ImageChanged) and seen["a"].extend(n.events))
    a2.add_listener(lambda n: isinstance(n, ImageChanged) and seen["a2"].extend(n.events))
    for engine in (a, a2):
        engine.subscribe(IMAGE)
        await wait_for(lambda e=engine: e.link.state is LinkState.ONLINE and e.state(IMAGE).loaded)

    marker = await a.create_marker(IMAGE, 10, 10, "mine")
    comment = await a.add_comment(IMAGE, marker.id, "also mine")
    await a.edit_comment(IMAGE, comment.id, "edited")
    await a.set_status(IMAGE, marker.id, "resolved")
    await a.move_marker(IMAGE, marker.id, 1, 2)
    await a.delete_comment(IMAGE, comment.id)
    await a.delete_marker(IMAGE, marker.id)
    await wait_for(lambda: a2.state(IMAGE).seq == 7, 1.0, "the second terminal to apply all 7")
    await wait_for(lambda: a.state(IMAGE).seq == 7, 1.0, "the creator to count all 7")

    assert a.remote_applied(IMAGE) == 0 and seen["a"] == []
    assert a2.remote_applied(IMAGE) == 7
    assert [e.seq for e in seen["a2"]] == [1, 2, 3, 4, 5, 6, 7]


async def test_a_write_shows_at_once_and_a_refused_one_rolls_back(server: Harness, engines) -> None:
    a, b = await online_pair(server, engines)
    marker = await a.create_marker(IMAGE, 50, 50, "Ana's marker")
    await wait_for(lambda: find(b, marker.id) is not None)
    failures = []
    b.add_listener(lambda n: isinstance(n, WriteFailed) and failures.append(n))

    views = []
    b.add_listener(lambda n: isinstance(n, ImageChanged) and views.append(find(b, marker.id)))
    with pytest.raises(RequestError) as refused:
        await b.move_marker(IMAGE, marker.id, 1, 1)  # only the creator or a moderator may move it
    assert refused.value.status == 403
    assert views[0].x == 1  # shown optimistically first
    assert (find(b, marker.id).x, find(b, marker.id).y) == (50, 50)  # then rolled back
    assert failures and "creator" in str(failures[0].error)


async def test_a_write_while_offline_fails_at_once_and_is_not_queued(make_server, sqlite_database, engines) -> None:
    server = await make_server(sqlite_database)
    token = await server.token()
    a = await engines(server.url, token, Backoff(5.0, 5.0))
    a.subscribe(IMAGE)
    await wait_for(lambda: a.link.state is LinkState.ONLINE and a.state(IMAGE).loaded)
    await a.create_marker(IMAGE, 1, 1, "before")
    await stop_server(make_server, server)
    await wait_for(lambda: a.link.state is LinkState.RECONNECTING, what="the engine to notice")
    assert a.link.next_attempt is not None

    with pytest.raises(OfflineError, match="connection is down"):
        await a.create_marker(IMAGE, 2, 2, "while offline")
    assert [m.comments[0].text for m in a.markers(IMAGE)] == ["before"]  # still browsable, nothing queued

    restarted = await make_server(sqlite_database)
    b = await engines(restarted.url, token)
    b.subscribe(IMAGE)
    await wait_for(lambda: b.state(IMAGE).loaded)
    assert [m.comments[0].text for m in b.markers(IMAGE)] == ["before"]


async def test_reconnect_recovers_exactly_the_missed_events(server: Harness, engines) -> None:
    writer = await engines(server.url, await server.token("u_ana", "Ana"))
    reader = await engines(server.url, await server.token("u_bob", "Bob"), Backoff(1.5, 1.5))
    resyncs: list[Resynced] = []
    reader.add_listener(lambda n: isinstance(n, Resynced) and resyncs.append(n))
    for engine in (writer, reader):
        engine.subscribe(IMAGE)
        await wait_for(lambda e=engine: e.link.state is LinkState.ONLINE and e.state(IMAGE).loaded)
    marker = await writer.create_marker(IMAGE, 5, 5, "first")
    await wait_for(lambda: reader.state(IMAGE).seq == 1)

    server.app.hub.close_where(lambda c: c.principal.user_id == "u_bob", 1013, "test drops the reader")
    await wait_for(lambda: reader.link.state is LinkState.RECONNECTING, what="the reader to drop")
    for i in range(5):
        await writer.add_comment(IMAGE, marker.id, f"missed {i}")
    await wait_for(lambda: len(resyncs) == 2, 5.0, "the reader's resync")

    assert resyncs[-1].recovered is True and resyncs[-1].changes == 5
    assert reader.state(IMAGE).seq == 6
    assert snapshot(reader) == snapshot(writer)


class DroppingPubSub(LocalPubSub):
    """Loses the messages whose seq is listed, as a real broker may."""

    def __init__(self, drop: set[int]) -> None:
        super().__init__()
        self.drop = drop

    async def publish(self, topic: str, seq: int, event: str) -> None:
        if seq not in self.drop:
            await super().publish(topic, seq, event)


async def test_a_dropped_event_is_detected_and_repaired(make_server, sqlite_database, engines) -> None:
    server = await make_server(sqlite_database, DroppingPubSub({3}))
    a, b = await online_pair(server, engines)
    resyncs: list[Resynced] = []
    b.add_listener(lambda n: isinstance(n, Resynced) and resyncs.append(n))

    marker = await a.create_marker(IMAGE, 1, 1, "one")
    await a.add_comment(IMAGE, marker.id, "two")
    await a.add_comment(IMAGE, marker.id, "three: lost in pub/sub")
    await a.add_comment(IMAGE, marker.id, "four")
    await wait_for(lambda: b.state(IMAGE).seq == 4, 3.0, "b to repair the gap")

    assert resyncs and resyncs[-1].recovered is True
    assert snapshot(a) == snapshot(b)
    assert [c.text for c in find(b, marker.id).comments] == ["one", "two", "three: lost in pub/sub", "four"]


async def test_a_server_restart_1012_is_followed_at_once_without_backoff(server: Harness, engines) -> None:
    engine = await engines(server.url, await server.token(), Backoff(30.0, 30.0))
    engine.subscribe(IMAGE)
    await wait_for(lambda: engine.link.state is LinkState.ONLINE and engine.state(IMAGE).loaded)
    links: list[LinkState] = []
    engine.add_listener(lambda n: links.append(n.link.state) if isinstance(n, LinkChanged) else None)
    await server.app.hub.close_all(CLOSE_SERVICE_RESTART, "restarting")
    await wait_for(lambda: links[-1:] == [LinkState.ONLINE], 2, "back online at once, not after 15-30 s")
    assert links == [LinkState.RECONNECTING, LinkState.ONLINE]
    await engine.create_marker(IMAGE, 1, 1, "after the restart")  # and resubscribed


async def test_any_other_close_still_backs_off(server: Harness, engines) -> None:
    engine = await engines(server.url, await server.token(), Backoff(30.0, 30.0))
    await wait_for(lambda: engine.link.state is LinkState.ONLINE)
    await server.app.hub.close_all(1001, "going away")
    await wait_for(lambda: engine.link.state is LinkState.RECONNECTING, what="the engine to notice")
    assert engine.link.next_attempt is not None and engine.link.next_attempt - time.time() > 10


async def test_the_engine_fails_over_between_server_urls(make_server, sqlite_database, engines) -> None:
    first, second = await make_server(sqlite_database), await make_server(sqlite_database)
    token = await first.token()
    nowhere = f"http://127.0.0.1:{free_port()}"
    engine = await engines([nowhere, first.url, second.url], token, Backoff(30.0, 30.0))
    engine.subscribe(IMAGE)
    await wait_for(lambda: engine.link.state is LinkState.ONLINE, 2, "online past the URL nobody answers")
    assert engine.server_url == first.url
    marker = await engine.create_marker(IMAGE, 1, 1, "on the first")
    await stop_server(make_server, first)
    await wait_for(lambda: engine.server_url == second.url and engine.link.state is LinkState.ONLINE, 5,
                   "online on the second once the first is gone")
    await engine.add_comment(IMAGE, marker.id, "on the second")  # REST follows the live connection
    await wait_for(lambda: len(engine.state(IMAGE).markers[marker.id].comments) == 2, what="the comment confirmed")

"""The presence rules without sockets (server/presence_core.py)."""

from __future__ import annotations

import json

from imagechat_tui.protocol.limits import PRESENCE_TTL, WRITING_TTL
from imagechat_tui.server.presence_core import (
    PUBLISH_EVERY,
    REMOTE_TTL,
    Out,
    PresenceBoard,
    Publish,
    Tell,
)

T = "acme/img"


def told(outs: list[Out], key: object) -> list[dict]:
    return [json.loads(o.text) for o in outs if isinstance(o, Tell) and key in o.to]


def published(outs: list[Out]) -> list[dict]:
    return [json.loads(o.text) for o in outs if isinstance(o, Publish)]


def board_with(*viewers: tuple[str, str, str]) -> PresenceBoard:
    """A board where each (connection, user id, name) views T at time 0."""
    board = PresenceBoard("p1")
    for key, uid, name in viewers:
        board.connect(key, uid, name, 0.0)
        board.use(key, True, 0.0)
        board.view(key, T, "img", 0.0)
    return board


def test_a_viewer_gets_the_whole_list_and_the_others_what_changed() -> None:
    board = board_with(("a", "u_ana", "Ana"))
    board.connect("b", "u_bo", "Bo", 1.0)
    board.use("b", True, 1.0)
    outs = board.view("b", T, "img", 1.0)
    assert told(outs, "b") == [{"type": "presence", "image": "img",
                                "users": [{"id": "u_ana", "name": "Ana"}, {"id": "u_bo", "name": "Bo"}]}]
    assert told(outs, "a") == [{"type": "presence-changed", "image": "img",
                                "users": [{"id": "u_bo", "name": "Bo"}], "left": []}]
    assert told(board.disconnect("b", 2.0), "a") == [{"type": "presence-changed", "image": "img", "users": [],
                                                      "left": ["u_bo"]}]


def test_a_user_with_two_connections_is_listed_once() -> None:
    board = board_with(("a", "u_ana", "Ana"), ("b1", "u_bo", "Bo"))
    board.connect("b2", "u_bo", "Bo", 1.0)
    board.use("b2", True, 1.0)
    assert told(board.view("b2", T, "img", 1.0), "a") == []  # nothing changed for Ana
    assert list(board.people(T, 1.0)) == ["u_ana", "u_bo"]
    writing = board.writing("b2", T, "m_3", 2.0)
    assert told(writing, "a")[0]["users"] == [{"id": "u_bo", "name": "Bo", "writing": {"markerId": "m_3"}}]
    assert told(board.disconnect("b1", 3.0), "a") == []  # Bo is still there on b2
    assert told(board.leave("b2", T, 4.0), "a")[0]["left"] == ["u_bo"]


def test_writing_on_a_new_marker_lapses_and_stops() -> None:
    board = board_with(("a", "u_ana", "Ana"), ("b", "u_bo", "Bo"))
    assert told(board.writing("b", T, None, 1.0), "a")[0]["users"][0]["writing"] == {}
    assert board.writing("b", T, None, 2.0) == []  # a refresh changes nothing for the others
    board.heard("b", 2.0 + WRITING_TTL)
    lapsed = board.tick(2.0 + WRITING_TTL + 0.1)
    assert told(lapsed, "a")[0]["users"] == [{"id": "u_bo", "name": "Bo"}]
    board.writing("b", T, "m_1", 13.0)
    assert told(board.stopped_writing("b", T, 14.0), "a")[0]["users"] == [{"id": "u_bo", "name": "Bo"}]


def test_a_connection_not_heard_from_is_taken_for_gone_until_it_speaks() -> None:
    board = board_with(("a", "u_ana", "Ana"), ("b", "u_bo", "Bo"))
    for t in range(1, 12):  # Ana's heartbeats keep coming; Bo went silent at 0
        board.heard("a", float(t))
    outs = board.tick(PRESENCE_TTL + 0.5)
    assert told(outs, "a")[0]["left"] == ["u_bo"]
    assert published(outs)[0]["users"] == [{"id": "u_ana", "name": "Ana"}]
    assert told(board.heard("b", 12.0), "a")[0]["users"] == [{"id": "u_bo", "name": "Bo"}]


def test_hidden_connections_see_but_are_not_seen() -> None:
    board = PresenceBoard("p1")
    board.connect("h", "u_hid", "Hidden", 0.0)
    board.use("h", False, 0.0)
    assert told(board.view("h", T, "img", 0.0), "h")[0]["users"] == []
    board.connect("a", "u_ana", "Ana", 0.0)
    board.use("a", True, 0.0)
    assert told(board.view("a", T, "img", 0.0), "h")[0]["users"] == [{"id": "u_ana", "name": "Ana"}]
    assert board.writing("h", T, "m_1", 1.0) == []
    assert list(board.people(T, 1.0)) == ["u_ana"]


def test_other_processes_accounts_merge_and_expire() -> None:
    board = board_with(("a", "u_ana", "Ana"))
    account = json.dumps({"process": "p2", "users": [{"id": "u_bo", "name": "Bo"}, {"id": "u_ana", "name": "Ana"}]})
    assert told(board.remote(T, account, 1.0), "a")[0]["users"] == [{"id": "u_bo", "name": "Bo"}]
    own = json.dumps({"process": "p1", "users": []})
    assert board.remote(T, own, 1.0) == []  # our own, heard back
    assert board.remote(T, "{not json", 1.0) == [] and board.malformed == 1
    for t in range(1, 10):
        board.heard("a", float(t))
    assert told(board.tick(1.0 + REMOTE_TTL + 0.1), "a")[0]["left"] == ["u_bo"]  # p2 went silent
    board.remote(T, account, 10.0)
    empty = json.dumps({"process": "p2", "users": []})
    assert told(board.remote(T, empty, 10.5), "a")[0]["left"] == ["u_bo"]  # p2's viewer closed


def test_a_process_publishes_on_change_and_again_while_it_has_viewers() -> None:
    board = board_with(("a", "u_ana", "Ana"))
    assert published(board.tick(0.5)) == [{"process": "p1", "users": [{"id": "u_ana", "name": "Ana"}]}]
    assert published(board.tick(1.0)) == []
    board.heard("a", 3.0)
    assert len(published(board.tick(0.5 + PUBLISH_EVERY))) == 1
    board.disconnect("a", 4.0)
    assert published(board.tick(4.5)) == [{"process": "p1", "users": []}]
    assert board.topics == {}  # nobody here views it: forgotten
    assert published(board.tick(10.0)) == []


def test_a_v1_connection_neither_gets_nor_is_on_the_lists() -> None:
    board = board_with(("a", "u_ana", "Ana"))
    board.connect("old", "u_old", "Old", 0.0)
    assert board.view("old", T, "img", 0.0) == []
    assert board.writing("old", T, "m_1", 0.0) == []
    assert list(board.people(T, 0.0)) == ["u_ana"]

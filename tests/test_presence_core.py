"""The presence rules without sockets (server/presence_core.py)."""

from __future__ import annotations

import json

from imagechat_tui.protocol.events import Presence, PresenceChanged, PresentUser, Writing
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


def changed(board: PresenceBoard, key: object, now: float) -> dict | None:
    """What `key` is told at the tick at `now` (at most one frame per tick)."""
    frames = told(board.tick(now), key)
    assert len(frames) <= 1
    return frames[0] if frames else None


def published(outs: list[Out]) -> list[dict]:
    return [json.loads(o.text) for o in outs if isinstance(o, Publish)]


def board_with(*viewers: tuple[str, str, str]) -> PresenceBoard:
    """A board where each (connection, user id, name) views T at time 0, told at the first tick."""
    board = PresenceBoard("p1")
    for key, uid, name in viewers:
        board.use(key, uid, name, True, 0.0)
        board.view(key, T, "img", 0.0)
    board.tick(0.0)
    return board


def test_a_viewer_gets_the_whole_list_and_the_others_what_changed_at_the_tick() -> None:
    board = board_with(("a", "u_ana", "Ana"))
    board.use("b", "u_bo", "Bo", True, 1.0)
    whole = board.view("b", T, "img", 1.0)
    assert whole is not None and whole.to == ("b",)
    assert json.loads(whole.text) == {"type": "presence", "image": "img",
                                      "users": [{"id": "u_ana", "name": "Ana"}, {"id": "u_bo", "name": "Bo"}]}
    assert changed(board, "a", 1.5) == {"type": "presence-changed", "image": "img",
                                        "users": [{"id": "u_bo", "name": "Bo"}], "left": []}
    board.disconnect("b")
    assert changed(board, "a", 2.0) == {"type": "presence-changed", "image": "img", "users": [], "left": ["u_bo"]}
    assert changed(board, "a", 2.5) is None  # nothing changed: nothing sent


def test_a_burst_of_comings_makes_one_frame_per_viewer_and_tick() -> None:
    board = board_with(("a", "u_ana", "Ana"))
    for i in range(50):
        board.use(f"c{i}", f"u_{i}", f"User {i}", True, 1.0)
        board.view(f"c{i}", T, "img", 1.0)
    frame = changed(board, "a", 1.5)
    assert frame is not None and len(frame["users"]) == 50


def test_a_user_with_two_connections_is_listed_once() -> None:
    board = board_with(("a", "u_ana", "Ana"), ("b1", "u_bo", "Bo"))
    board.use("b2", "u_bo", "Bo", True, 1.0)
    board.view("b2", T, "img", 1.0)
    assert changed(board, "a", 1.0) is None  # nothing changed for Ana
    assert list(board.people(T, 1.0)) == ["u_ana", "u_bo"]
    board.writing("b2", T, "m_3", 2.0)
    assert changed(board, "a", 2.0)["users"] == [{"id": "u_bo", "name": "Bo", "writing": {"markerId": "m_3"}}]
    board.disconnect("b1")
    assert changed(board, "a", 3.0) is None  # Bo is still there on b2
    board.leave("b2", T)
    assert changed(board, "a", 4.0)["left"] == ["u_bo"]


def test_writing_on_a_new_marker_lapses_and_stops() -> None:
    board = board_with(("a", "u_ana", "Ana"), ("b", "u_bo", "Bo"))
    board.writing("b", T, None, 1.0)
    assert changed(board, "a", 1.0)["users"][0]["writing"] == {}
    board.writing("b", T, None, 2.0)
    assert changed(board, "a", 2.0) is None  # a refresh changes nothing for the others
    for t in (5.0, 10.0):
        board.heard("a", t)
        board.heard("b", t)
    assert changed(board, "a", 2.0 + WRITING_TTL + 0.1)["users"] == [{"id": "u_bo", "name": "Bo"}]
    board.writing("b", T, "m_1", 13.0)
    assert changed(board, "a", 13.0)["users"][0]["writing"] == {"markerId": "m_1"}
    board.stopped_writing("b", T)
    assert changed(board, "a", 14.0)["users"] == [{"id": "u_bo", "name": "Bo"}]


def test_a_connection_not_heard_from_is_taken_for_gone_until_it_speaks() -> None:
    board = board_with(("a", "u_ana", "Ana"), ("b", "u_bo", "Bo"))
    for t in range(1, 12):  # Ana's heartbeats keep coming; Bo went silent at 0
        board.heard("a", float(t))
    outs = board.tick(PRESENCE_TTL + 0.5)
    assert told(outs, "a")[0]["left"] == ["u_bo"]
    assert published(outs)[0]["users"] == [{"id": "u_ana", "name": "Ana"}]
    board.heard("b", 11.5)
    assert changed(board, "a", 11.5)["users"] == [{"id": "u_bo", "name": "Bo"}]


def test_hidden_connections_see_but_are_not_seen() -> None:
    board = PresenceBoard("p1")
    board.use("h", "u_hid", "Hidden", False, 0.0)
    whole = board.view("h", T, "img", 0.0)
    assert whole is not None and json.loads(whole.text)["users"] == []
    board.use("a", "u_ana", "Ana", True, 0.0)
    board.view("a", T, "img", 0.0)
    assert changed(board, "h", 0.0)["users"] == [{"id": "u_ana", "name": "Ana"}]
    board.writing("h", T, "m_1", 1.0)
    assert list(board.people(T, 1.0)) == ["u_ana"]
    assert published(board.tick(1.0)) == []  # its account (Ana) was published at the first tick, unchanged


def test_other_processes_accounts_merge_and_expire() -> None:
    board = board_with(("a", "u_ana", "Ana"))
    account = json.dumps({"process": "p2", "users": [{"id": "u_bo", "name": "Bo"}, {"id": "u_ana", "name": "Ana"}]})
    board.remote(T, account, 1.0)
    assert changed(board, "a", 1.0)["users"] == [{"id": "u_bo", "name": "Bo"}]
    board.remote(T, json.dumps({"process": "p1", "users": []}), 1.0)  # our own, heard back
    board.remote(T, "{not json", 1.0)
    assert board.malformed == 1 and changed(board, "a", 1.5) is None
    for t in range(1, 10):
        board.heard("a", float(t))
    assert changed(board, "a", 1.0 + REMOTE_TTL + 0.1)["left"] == ["u_bo"]  # p2 went silent
    board.remote(T, account, 10.0)
    assert changed(board, "a", 10.0)["users"] == [{"id": "u_bo", "name": "Bo"}]
    board.remote(T, json.dumps({"process": "p2", "users": []}), 10.5)  # p2's viewer closed
    assert changed(board, "a", 10.5)["left"] == ["u_bo"]


def test_a_process_publishes_on_change_and_again_while_it_has_viewers() -> None:
    board = PresenceBoard("p1")
    board.use("a", "u_ana", "Ana", True, 0.0)
    board.view("a", T, "img", 0.0)
    assert published(board.tick(0.5)) == [{"process": "p1", "users": [{"id": "u_ana", "name": "Ana"}]}]
    assert published(board.tick(1.0)) == []
    board.heard("a", 3.0)
    assert len(published(board.tick(0.5 + PUBLISH_EVERY))) == 1
    board.disconnect("a")
    assert published(board.tick(4.5)) == [{"process": "p1", "users": []}]
    assert board.topics == {}  # nobody here views it: forgotten
    assert published(board.tick(10.0)) == []


def test_a_v1_connection_neither_gets_nor_is_on_the_lists() -> None:
    board = board_with(("a", "u_ana", "Ana"))
    assert board.view("old", T, "img", 0.0) is None
    board.writing("old", T, "m_1", 0.0)
    assert list(board.people(T, 0.0)) == ["u_ana"] and "old" not in board.conns


def test_a_joiner_gets_the_list_as_last_told_and_itself_then_the_changes_with_the_others() -> None:
    board = board_with(("a", "u_ana", "Ana"))
    board.use("b", "u_bo", "Bo", True, 1.0)
    board.view("b", T, "img", 1.0)  # not yet told to anyone
    board.use("c", "u_cy", "Cy", True, 1.1)
    whole = board.view("c", T, "img", 1.1)
    assert whole is not None
    assert json.loads(whole.text)["users"] == [{"id": "u_ana", "name": "Ana"}, {"id": "u_cy", "name": "Cy"}]
    frame = changed(board, "c", 1.5)  # Bo, with everyone else; Cy again, harmlessly
    assert frame is not None and {u["id"] for u in frame["users"]} == {"u_bo", "u_cy"}
    assert changed(board, "a", 2.0) is None


def test_a_joiner_already_listed_by_another_connection_is_listed_once() -> None:
    board = board_with(("a", "u_ana", "Ana"), ("b1", "u_bo", "Bo"))
    board.writing("b1", T, "m_1", 1.0)
    board.tick(1.0)
    board.use("b2", "u_bo", "Bo", True, 1.2)
    whole = board.view("b2", T, "img", 1.2)
    assert whole is not None and json.loads(whole.text)["users"] == [
        {"id": "u_ana", "name": "Ana"}, {"id": "u_bo", "name": "Bo", "writing": {"markerId": "m_1"}}]


def test_a_process_new_to_the_image_gets_the_others_accounts_at_once() -> None:
    board = board_with(("a", "u_ana", "Ana"))
    assert published(board.tick(1.0)) == []  # published at the first tick, not due again yet
    board.remote(T, json.dumps({"process": "p2", "users": []}), 1.2)  # p2's first viewer is hidden
    assert published(board.tick(1.5)) == [{"process": "p1", "users": [{"id": "u_ana", "name": "Ana"}]}]
    board.remote(T, json.dumps({"process": "p2", "users": [{"id": "u_bo", "name": "Bo"}]}), 1.7)
    assert published(board.tick(2.0)) == []  # p2 was known already: no repeat


def test_a_process_with_only_hidden_viewers_says_so_once_so_the_others_repeat_theirs() -> None:
    board = PresenceBoard("p2")
    board.use("h", "u_hid", "Hidden", False, 0.0)
    board.view("h", T, "img", 0.0)
    assert published(board.tick(0.5)) == [{"process": "p2", "users": []}]
    assert published(board.tick(0.5 + PUBLISH_EVERY)) == []


def test_frames_made_from_kept_json_are_the_models_own_even_for_hostile_names() -> None:
    hostile = 'Eve "]}\x1b[2J\u202e\\'
    board = board_with(("a", "u_ana", hostile))
    board.use("b", 'u_"bo', "Bo\n", True, 1.0)
    whole = board.view("b", T, "img", 1.0)
    assert whole is not None
    users = [PresentUser(id="u_ana", name=hostile), PresentUser(id='u_"bo', name="Bo\n")]
    assert whole.text == Presence(image="img", users=users).model_dump_json(exclude_none=True)
    board.writing("b", T, None, 1.2)
    outs = board.tick(1.5)
    users[1].writing = Writing()
    changed_frame = PresenceChanged(image="img", users=users[1:]).model_dump_json(exclude_none=True)
    assert [o.text for o in outs if isinstance(o, Tell) and "a" in o.to] == [changed_frame]
    by_id = sorted(users, key=lambda u: u.id)  # an account lists its users by id
    assert published(outs) == [{"process": "p1", "users": [u.model_dump(exclude_none=True) for u in by_id]}]

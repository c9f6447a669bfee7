"""The viewer's selection and stepping, without a UI."""

from __future__ import annotations

from imagechat_tui.protocol.models import Comment, Marker, UserRef
from imagechat_tui.tui.selection import Selection

ANA = UserRef(id="u_ana", name="Ana")


def comment(cid: str, marker: str, parent: str | None = None) -> Comment:
    return Comment(id=cid, marker_id=marker, parent_id=parent, user=ANA, text=cid, created_at="2026-11-26T05:00:00Z")


def marker(mid: str, status: str = "open", comments: tuple[str, ...] = (), number: int | None = None) -> Marker:
    return Marker(id=mid, image="k", number=number, x=10, y=10, status=status, created_at="2026-11-26T05:00:00Z",
                  created_by=ANA, comments=[comment(c, mid) for c in comments])


def test_stepping_wraps_and_skips_resolved_when_asked() -> None:
    selection = Selection()
    selection.update([marker("a", number=1), marker("b", "resolved", number=2), marker("c", number=4)])
    assert selection.step_marker(1) and selection.marker_id == "a"
    assert selection.step_marker(-1) and selection.marker_id == "c"
    assert selection.step_marker(1, only_open=True) and selection.marker_id == "a"
    assert selection.step_marker(1, only_open=True) and selection.marker_id == "c"
    assert selection.label("c") == "4"  # the server's number, not the position in the list
    assert selection.by_number(4) is selection.marker and selection.by_number(3) is None


def test_a_pending_marker_shows_a_placeholder_for_its_number() -> None:
    selection = Selection()
    selection.update([marker("pending-1")])
    assert selection.label("pending-1") == "…"


def test_nothing_to_step_to_says_so() -> None:
    selection = Selection()
    assert not selection.step_marker(1)
    selection.update([marker("a", "resolved")])
    assert not selection.step_marker(1, only_open=True) and selection.marker_id is None


def test_a_selected_marker_that_goes_is_dropped_and_a_new_one_is_kept_for_its_arrival() -> None:
    selection = Selection()
    selection.update([marker("a", comments=("c1",))])
    selection.select("a")
    assert selection.comment_id == "c1"
    selection.update([])
    assert selection.marker is None and selection.comment_id is None
    selection.select("new")  # the server's marker is selected before its event arrives
    selection.update([marker("new", comments=("first",))])
    assert selection.marker_id == "new" and selection.comment_id == "first"


def test_comments_step_in_reading_order_and_stop_at_the_ends() -> None:
    m = marker("a")
    m.comments = [comment("c1", "a"), comment("c2", "a"), comment("r1", "a", parent="c1")]
    selection = Selection()
    selection.update([m])
    selection.select("a")
    order = []
    while True:
        order.append(selection.comment_id)
        if not selection.step_comment(1):
            break
    assert order == ["c1", "r1", "c2"]
    assert selection.step_comment(-1) and selection.comment_id == "r1"

"""The rules of `protocol.changes` on their own (pure)."""

from __future__ import annotations

from imagechat_tui.protocol.changes import delete_comment, patch_change, patched, removed_by_delete
from imagechat_tui.protocol.models import Comment, Marker, MarkerPosition, PatchChat, UserRef

ANA = UserRef(id="u_ana", name="Ana")
BID = "6f1c2a8e-2b7a-4a53-9d0e-1f2a3b4c5d6e"


def comment(id: str, parent: str | None = None, deleted: bool = False) -> Comment:
    return Comment(id=id, marker_id="m", parent_id=parent, user=ANA, text="" if deleted else id,
                   created_at="2026-01-01T00:00:00.000Z", deleted=deleted)


def test_a_comment_with_replies_stays_as_a_tombstone() -> None:
    thread = [comment("a"), comment("b", "a")]
    assert removed_by_delete(thread, "a") == set()
    assert [(c.id, c.text, c.deleted) for c in delete_comment(thread, "a")] == [("a", "", True), ("b", "b", False)]


def test_the_last_reply_takes_the_tombstones_it_leaves_without_replies_along() -> None:
    thread = [comment("a", deleted=True), comment("b", "a", deleted=True), comment("c", "b"), comment("d")]
    assert removed_by_delete(thread, "c") == {"a", "b", "c"}
    assert [c.id for c in delete_comment(thread, "c")] == ["d"]


def test_a_tombstone_that_still_has_a_reply_stays() -> None:
    thread = [comment("a", deleted=True), comment("b", "a"), comment("c", "a")]
    assert removed_by_delete(thread, "b") == {"b"}


def test_an_unknown_comment_changes_nothing() -> None:
    thread = [comment("a")]
    assert delete_comment(thread, "zz") == thread



def test_a_patch_changes_what_it_gives_and_is_published_as_a_move_when_it_moves() -> None:
    marker = Marker(id="m", image="i", x=10, y=20, status="open", created_at="2026-01-01T00:00:00.000Z", created_by=ANA)
    status = PatchChat(status="resolved", broadcast_id=BID)
    assert patched(marker, status) == MarkerPosition(id="m", x=10, y=20, status="resolved")
    assert patch_change(status) == "status"
    move = PatchChat(x=5, broadcast_id=BID)
    assert patched(marker, move) == MarkerPosition(id="m", x=5, y=20, status="open")
    assert patch_change(move) == "moved"

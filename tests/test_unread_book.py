"""The engine's unread markers of an image, as pure rules: loads merged with newer events, others'
comments making a marker unread and one's own reading it, deletions, read frames, optimistic marks."""

from __future__ import annotations

from imagechat_tui.client.unread import UnreadBook
from imagechat_tui.protocol.events import DeletedImage, DeletedImageChat, ImageChatUpdated, NewImageChat
from imagechat_tui.protocol.models import Comment, Marker, ReadPosition, UnreadMarkers, UserRef

IMAGE = "sha256:" + "a" * 64
ME, BO = "u_ana", "u_bo"


def comment(seq: int, marker: str, by: str) -> ImageChatUpdated:
    return ImageChatUpdated(image=IMAGE, seq=seq, broadcast_id=f"b{seq}", marker_id=marker, change="comment-added",
                            comment=Comment(id=f"c{seq}", marker_id=marker, user=UserRef(id=by, name=by), text="hi",
                                            created_at="2026-11-26T09:00:00Z"))


def new_marker(seq: int, marker: str, by: str) -> NewImageChat:
    user = UserRef(id=by, name=by)
    return NewImageChat(image=IMAGE, seq=seq, broadcast_id=f"b{seq}", marker_id=marker, marker=Marker(
        id=marker, image=IMAGE, x=1, y=1, created_at="2026-11-26T09:00:00Z", created_by=user,
        comments=[Comment(id=f"c{seq}", marker_id=marker, user=user, text="hi", created_at="2026-11-26T09:00:00Z")]))


def answer(seq: int, **markers: int) -> UnreadMarkers:
    return UnreadMarkers(image=IMAGE, seq=seq, markers=[ReadPosition(marker_id=k, seq=v) for k, v in markers.items()])


def pos(marker: str, seq: int) -> ReadPosition:
    return ReadPosition(marker_id=marker, seq=seq)


def test_a_load_replaces_what_was_known_but_keeps_what_newer_events_said() -> None:
    book = UnreadBook()
    assert book.applied(comment(5, "m1", BO), ME) and book.applied(comment(12, "m2", BO), ME)
    assert book.load(answer(10, m3=9))
    assert book.unread == {"m3": 9, "m2": 12}  # m1 was read meanwhile (not in the answer); m2 is newer
    assert not book.applied(comment(8, "m1", BO), ME)  # an older event the answer counted already
    assert not book.load(answer(9, m1=8))  # an answer older than the one loaded (two loads crossed)
    assert book.unread == {"m3": 9, "m2": 12}


def test_others_comments_and_markers_make_unread_and_ones_own_read() -> None:
    book = UnreadBook()
    book.load(answer(1))
    assert book.applied(new_marker(2, "m1", BO), ME) and book.unread == {"m1": 2}
    assert book.applied(comment(3, "m1", BO), ME) and book.unread == {"m1": 3}
    assert not book.applied(new_marker(4, "m2", ME), ME)  # one's own marker is not news
    assert book.applied(comment(5, "m1", ME), ME) and book.unread == {}  # replying reads it
    assert not book.applied(comment(4, "m1", BO), ME)  # older than what the reply read


def test_edits_and_status_changes_are_not_news_and_deletions_drop() -> None:
    book = UnreadBook()
    book.applied(comment(2, "m1", BO), ME)
    book.applied(comment(3, "m2", BO), ME)
    edit = comment(4, "m3", BO).model_copy(update={"change": "comment-edited"})
    assert not book.applied(edit, ME)
    assert book.applied(DeletedImageChat(image=IMAGE, seq=5, broadcast_id="x", marker_id="m1"), ME)
    assert book.unread == {"m2": 3}
    assert book.applied(DeletedImage(image=IMAGE, seq=6, broadcast_id="x"), ME) and book.ids == frozenset()


def test_a_read_frame_drops_a_marker_unless_a_newer_comment_came() -> None:
    book = UnreadBook()
    book.load(answer(10, m1=9, m2=10))
    assert book.read([pos("m1", 9), pos("m2", 8)])
    assert book.unread == {"m2": 10}
    assert not book.load(answer(10, m1=9, m2=10))  # an answer from before the read
    assert book.unread == {"m2": 10}


def test_marking_read_is_at_once_and_a_failed_mark_comes_back_on_the_next_load() -> None:
    book = UnreadBook()
    book.load(answer(10, m1=9, m2=12))
    assert not book.mark("m2", 10)  # its newest comment is not applied here yet: nothing to mark
    assert book.mark("m1", 10) and book.unread == {"m2": 12}
    assert not book.load(answer(11, m1=9, m2=12))  # answered before the POST arrived: still read here
    book.marked("m1", 10, saved=False)
    assert book.load(answer(11, m1=9, m2=12)) and book.unread == {"m1": 9, "m2": 12}
    assert book.mark("m1", 12)
    book.marked("m1", 12, saved=True)
    assert not book.load(answer(12, m1=9, m2=12)) and book.unread == {"m2": 12}
    assert book.applied(comment(13, "m1", BO), ME) and book.unread == {"m1": 13, "m2": 12}

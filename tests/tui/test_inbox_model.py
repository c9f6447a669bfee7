"""The inbox's view model with plain data: order, selection by key, the feed, filters, paging."""

from __future__ import annotations

from imagechat_tui.protocol.models import ImagesPage, ImageSummary, LastComment, UserRef
from imagechat_tui.tui.inbox import NEAR_END, Inbox, Query


def row(n: int, minute: int, open_count: int = 1, by: str = "u_bob") -> ImageSummary:
    return ImageSummary(
        key=f"sha256:{n:064x}", name=f"shot-{n}.png", stored=True, open_count=open_count, resolved_count=0,
        last_activity_at=f"2026-11-26T09:{minute:02d}:00Z",
        last_comment=LastComment(user=UserRef(id=by, name=by), excerpt="hello", created_at="2026-11-26T09:00:00Z",
                                 marker_number=1, marker_id="m_1"),
    )


def key(n: int) -> str:
    return f"sha256:{n:064x}"


def page(*rows: ImageSummary, cursor: str | None = None) -> ImagesPage:
    return ImagesPage(images=list(rows), next_cursor=cursor)


def loaded(*rows: ImageSummary, cursor: str | None = None, query: Query | None = None) -> Inbox:
    inbox = Inbox(query=query or Query(), me="u_ana")
    inbox.begin_reload()
    inbox.load_first(page(*rows, cursor=cursor))
    return inbox


def keys(inbox: Inbox) -> list[str]:
    return [r.key for r in inbox.rows]


def test_most_recent_activity_first_and_the_first_row_selected() -> None:
    inbox = loaded(row(1, 10), row(2, 30), row(3, 20))
    assert keys(inbox) == [key(2), key(3), key(1)]
    assert inbox.key == key(2)


def test_selection_follows_its_row_when_the_feed_moves_it() -> None:
    inbox = loaded(row(1, 30), row(2, 20), row(3, 10))
    inbox.select(key(3))
    inbox.changed(row(3, 40))
    assert keys(inbox) == [key(3), key(1), key(2)]
    assert inbox.selected is not None and inbox.selected.key == key(3)
    inbox.changed(row(4, 50))  # a new row on top: the selection stays on its row
    assert inbox.key == key(3) and inbox.index == 1


def test_a_removed_selected_row_hands_the_selection_to_the_row_in_its_place() -> None:
    inbox = loaded(row(1, 30), row(2, 20), row(3, 10))
    inbox.select(key(2))
    inbox.removed(key(2))
    assert keys(inbox) == [key(1), key(3)] and inbox.key == key(3)
    inbox.removed(key(3))
    assert inbox.key == key(1)
    inbox.removed(key(1))
    assert inbox.rows == [] and inbox.selected is None


def test_a_reload_keeps_the_selected_row() -> None:
    inbox = loaded(row(1, 30), row(2, 20), row(3, 10))
    inbox.select(key(3))
    inbox.begin_reload()
    inbox.load_first(page(row(4, 40), row(1, 30), row(3, 10)))
    assert inbox.key == key(3)


def test_feed_rows_that_came_while_the_first_page_loaded_are_not_undone_by_it() -> None:
    inbox = loaded(row(1, 30))
    inbox.begin_reload()
    inbox.changed(row(2, 50))  # newer than the page about to land
    inbox.removed(key(1))
    inbox.load_first(page(row(1, 30)))
    assert keys(inbox) == [key(2)]


def test_the_open_filter_drops_a_row_with_nothing_open_and_ignores_one_that_never_had() -> None:
    inbox = loaded(row(1, 30), row(2, 20))
    inbox.changed(row(1, 40, open_count=0))
    assert keys(inbox) == [key(2)]
    inbox.changed(row(3, 50, open_count=0))
    assert keys(inbox) == [key(2)]
    inbox.changed(row(3, 51, open_count=2))
    assert keys(inbox) == [key(3), key(2)]


def test_all_lists_resolved_rows_too() -> None:
    inbox = loaded(row(1, 30), query=Query("all"))
    inbox.changed(row(1, 40, open_count=0))
    inbox.changed(row(2, 50, open_count=0))
    assert keys(inbox) == [key(2), key(1)]


def test_mine_takes_new_rows_of_mine_and_asks_the_server_about_the_others() -> None:
    inbox = loaded(row(1, 30, by="u_ana"), query=Query("mine"))
    inbox.changed(row(2, 40, by="u_bob"))  # Ana may have commented on it before Bob: the server knows
    assert keys(inbox) == [key(1)] and inbox.undecided
    inbox.undecided = False
    inbox.changed(row(3, 41, by="u_ana"))
    inbox.changed(row(1, 42, by="u_bob"))  # listed: someone else's reply still updates it
    assert keys(inbox) == [key(1), key(3)] and not inbox.undecided


def test_a_search_takes_feed_updates_of_listed_rows_and_asks_the_server_about_new_ones() -> None:
    inbox = loaded(row(1, 30), query=Query("open", "declined"))
    inbox.changed(row(2, 40))
    inbox.changed(row(1, 41))
    assert keys(inbox) == [key(1)] and inbox.rows[0].last_activity_at.endswith("09:41:00Z")
    assert inbox.undecided
    inbox.changed(row(4, 43, open_count=0))  # nothing open: not under `open`, whatever its words
    inbox.undecided = False
    inbox.changed(row(5, 44, open_count=0))
    assert not inbox.undecided


def test_the_first_page_asked_again_joins_the_list_and_never_undoes_a_newer_feed_row() -> None:
    inbox = loaded(row(1, 30), row(2, 20), cursor="c2", query=Query("mine"))
    inbox.select(key(2))
    inbox.changed(row(1, 50, by="u_bob"))  # newer than the page about to come
    inbox.merge_first(page(row(3, 45), row(1, 40), cursor="c1"))
    assert keys(inbox) == [key(1), key(3), key(2)]
    assert inbox.rows[0].last_activity_at.endswith("09:50:00Z")
    assert inbox.key == key(2) and inbox.next_cursor == "c2"  # the selection and the pages loaded stay


def test_a_new_query_needs_a_reload_and_an_old_querys_next_page_is_dropped() -> None:
    inbox = loaded(*(row(n, 50 - n) for n in range(1, 11)), cursor="c1")
    inbox.select_index(9)
    assert inbox.wants_next_page() == "c1"
    assert not inbox.set_query(Query())
    assert inbox.set_query(Query("all"))
    assert not inbox.loaded
    inbox.load_next("c1", page(row(20, 5)))
    assert key(20) not in keys(inbox)


def test_the_next_page_is_asked_for_once_near_the_end_and_appended_without_duplicates() -> None:
    inbox = loaded(*(row(n, 50 - n) for n in range(1, 21)), cursor="c1")
    inbox.select_index(20 - NEAR_END - 1)
    assert inbox.wants_next_page() is None
    inbox.select_index(20 - NEAR_END)
    assert inbox.wants_next_page() == "c1"
    assert inbox.wants_next_page() is None  # already on its way
    inbox.load_next("c1", page(row(20, 30), row(21, 20), cursor="c2"))
    assert keys(inbox)[-1] == key(21) and len(inbox.rows) == 21
    assert inbox.next_cursor == "c2"
    inbox.select_index(20)
    assert inbox.wants_next_page() == "c2"
    inbox.load_next("c2", None)  # failed: it may be asked for again
    assert inbox.wants_next_page() == "c2"


def test_a_feed_row_older_than_the_loaded_ones_waits_for_its_page() -> None:
    inbox = loaded(row(1, 30), row(2, 20), cursor="c1")
    inbox.changed(row(3, 10))
    assert keys(inbox) == [key(1), key(2)]
    inbox.changed(row(2, 20, open_count=3))  # the last row itself, changed without new activity
    assert keys(inbox) == [key(1), key(2)] and inbox.rows[1].open_count == 3


# Unread markers


def unread_row(n: int, minute: int, unread: list[str] | None, by: str = "u_bob", marker: str = "m_1",
               said_at: int = 0) -> ImageSummary:
    base = row(n, minute, by=by)
    assert base.last_comment is not None
    last = base.last_comment.model_copy(update={"marker_id": marker, "created_at": f"2026-11-26T09:{said_at:02d}:00Z"})
    return base.model_copy(update={"unread": unread, "last_comment": last})


def unread_of(inbox: Inbox, n: int) -> list[str] | None:
    return next(r.unread for r in inbox.rows if r.key == key(n))


def test_a_feed_row_keeps_the_unread_ids_and_adds_a_newer_last_comment_by_someone_else() -> None:
    inbox = loaded(unread_row(1, 10, ["m_1"]))
    inbox.changed(unread_row(1, 11, None, marker="m_2", said_at=11))  # Bob replied on m_2
    assert unread_of(inbox, 1) == ["m_1", "m_2"]
    inbox.changed(unread_row(1, 12, None, marker="m_3", said_at=11))  # a status change: the same last comment
    assert unread_of(inbox, 1) == ["m_1", "m_2"]
    inbox.changed(unread_row(1, 13, None, by="u_ana", marker="m_3", said_at=13))  # Ana's own comment
    assert unread_of(inbox, 1) == ["m_1", "m_2"]
    assert inbox.wanted_unread() == []


def test_read_markers_leave_the_row_and_the_unread_filter_drops_a_row_with_none() -> None:
    inbox = loaded(unread_row(1, 10, ["m_1", "m_2"]), unread_row(2, 20, ["m_9"]), query=Query(filter="unread"))
    inbox.read(key(1), ["m_1"])
    assert unread_of(inbox, 1) == ["m_2"]
    inbox.read(key(1), ["m_2"])
    assert keys(inbox) == [key(2)]
    inbox.unread(key(2), [])  # the open image's engine says none are left
    assert inbox.rows == []


def test_a_row_the_inbox_did_not_have_is_asked_for_and_joins_the_unread_filter_if_it_has_some() -> None:
    everything = loaded(unread_row(1, 10, []), query=Query(filter="all"))
    everything.changed(unread_row(2, 20, None))
    assert unread_of(everything, 2) is None and everything.wanted_unread() == [key(2)]
    everything.unread(key(2), ["m_1"])
    assert unread_of(everything, 2) == ["m_1"]

    inbox = loaded(unread_row(1, 10, ["m_1"]), query=Query(filter="unread"))
    inbox.changed(unread_row(2, 20, None))
    inbox.changed(unread_row(3, 30, None))
    assert keys(inbox) == [key(1)] and inbox.wanted_unread() == [key(2), key(3)]
    inbox.unread(key(2), ["m_5"])
    inbox.unread(key(3), [])
    assert keys(inbox) == [key(2), key(1)] and unread_of(inbox, 2) == ["m_5"]


def test_a_read_mark_while_the_first_page_loads_is_applied_over_it() -> None:
    inbox = loaded(unread_row(1, 10, ["m_1", "m_2"]))
    inbox.begin_reload()
    inbox.read(key(1), ["m_1"])
    inbox.load_first(page(unread_row(1, 10, ["m_1", "m_2"])))  # asked for before the read
    assert unread_of(inbox, 1) == ["m_2"]

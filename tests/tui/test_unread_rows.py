"""How unread markers and mentions look in rows, as pure functions: the marker list's rows and the
inbox's rows (mentions as @Name by the current name, hostile names literally)."""

from __future__ import annotations

from datetime import UTC, datetime

from imagechat_tui.protocol.models import Comment, ImageSummary, LastComment, Marker, UserRef
from imagechat_tui.tui.thumbnails import PLACEHOLDER
from imagechat_tui.tui.widgets.conversation import marker_option
from imagechat_tui.tui.widgets.inbox_list import inbox_row

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
NAMES = {"u_ana": "Ana", "u_bo": "[b]Bo[/b]\x1b[31m"}
BO = UserRef(id="u_bo", name="Bo")


def marker(text: str) -> Marker:
    return Marker(id="m1", image="sha256:" + "a" * 64, number=3, x=1, y=1, created_at="2026-11-26T09:00:00Z",
                  created_by=BO, comments=[Comment(id="c1", marker_id="m1", user=BO, text=text,
                                                   created_at="2026-11-26T09:00:00Z")])


def test_a_marker_row_says_new_and_shows_mentions_by_name() -> None:
    read = marker_option(marker("ask <@u_ana> and <@u_bo>\nsecond line"), NOW, False, NAMES).plain
    assert read.startswith("  3 ● open  ask @Ana and @[b]Bo[/b]␛[31m\n") and "new" not in read
    unread = marker_option(marker("hello"), NOW, True, NAMES).plain
    assert unread.startswith("  3 ● open   new  hello")
    assert "  @u_gone left" in marker_option(marker("<@u_gone> left"), NOW, False, {}).plain  # unknown: by id


def test_an_inbox_row_shows_its_unread_count_and_mentions_by_name() -> None:
    row = ImageSummary(key="sha256:" + "b" * 64, name="shot.png", stored=True, open_count=2, resolved_count=1,
                       last_activity_at="2026-11-26T09:00:00Z", unread=["m1", "m2"],
                       last_comment=LastComment(user=BO, excerpt="<@u_ana>: look\nat <@u_bo>",
                                                created_at="2026-11-26T09:00:00Z", marker_number=3, marker_id="m1"))
    first, second = inbox_row(row, PLACEHOLDER, NOW, 120, NAMES).plain.split("\n")
    assert " 2 new  ● 2 open  ✓ 1  shot.png" in first
    assert ": @Ana: look at @[b]Bo[/b]␛[31m" in second
    assert "new" not in inbox_row(row.model_copy(update={"unread": []}), PLACEHOLDER, NOW, 120).plain

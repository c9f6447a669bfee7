"""The engine's inbox: pages over REST, and the feed followed again after every reconnect."""

from __future__ import annotations

import pytest

from imagechat_tui.client.engine import (
    Backoff,
    InboxFollowed,
    InboxRowChanged,
    InboxRowRemoved,
    LinkState,
    Notice,
)
from imagechat_tui.client.errors import RequestError

from .conftest import Harness, wait_for

KEY = "sha256:" + "ab" * 32


async def test_the_feed_sends_rows_and_removals_and_is_followed_again_after_a_reconnect(server: Harness,
                                                                                       engines) -> None:
    writer = await engines(server.url, await server.token("u_ana", "Ana"))
    reader = await engines(server.url, await server.token("u_bob", "Bob"), Backoff(0.05, 0.1))
    seen: list[Notice] = []
    reader.add_listener(seen.append)
    reader.subscribe_inbox()
    await wait_for(lambda: any(isinstance(n, InboxFollowed) for n in seen), 5, "the inbox subscription")
    writer.subscribe(KEY)
    await wait_for(lambda: writer.link.state is LinkState.ONLINE and writer.state(KEY).loaded)

    marker = await writer.create_marker(KEY, 10, 10, "first")
    await wait_for(lambda: any(isinstance(n, InboxRowChanged) for n in seen), 1.0, "the row in the feed")
    row = next(n.row for n in seen if isinstance(n, InboxRowChanged))
    assert row.key == KEY and row.open_count == 1 and row.last_comment is not None
    assert row.last_comment.excerpt == "first"
    page = await reader.rest.images("open")
    assert [r.key for r in page.images] == [KEY] and page.next_cursor is None

    server.app.hub.close_where(lambda c: c.principal.user_id == "u_bob", 1013, "test drops the reader")
    await wait_for(lambda: sum(isinstance(n, InboxFollowed) for n in seen) == 2, 5, "the feed followed again")

    await writer.delete_marker(KEY, marker.id)
    await wait_for(lambda: any(isinstance(n, InboxRowRemoved) and n.key == KEY for n in seen), 1.0, "the removal")

    reader.unsubscribe_inbox()
    await writer.create_marker(KEY, 20, 20, "unseen")
    follows = sum(isinstance(n, InboxFollowed) for n in seen)
    rows = sum(isinstance(n, InboxRowChanged) for n in seen)
    page = await reader.rest.images("all")  # a round trip after the write: the feed had its chance
    assert len(page.images) == 1
    assert sum(isinstance(n, InboxRowChanged) for n in seen) == rows and follows == 2


async def test_a_bad_cursor_is_a_clear_request_error(server: Harness, engines) -> None:
    engine = await engines(server.url, await server.token())
    with pytest.raises(RequestError) as refused:
        await engine.rest.images("open", cursor="not-a-cursor")
    assert refused.value.status == 400 and "cursor" in str(refused.value)

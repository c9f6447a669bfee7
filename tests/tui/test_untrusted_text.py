"""Comment text, names and image keys are shown literally and do nothing else."""

from __future__ import annotations

import httpx
import pytest
from textual.widgets import Static

from imagechat_tui.protocol.safe import visible

from ..conftest import Harness, bid
from .test_flows import ready, thread_text

HOSTILE = {
    "markup-action": "[@click=app.quit]x[/]",
    "unclosed-markup": "[/",
    "rich-style": "[bold red]hi",
    "osc-52-clipboard": "\x1b]52;c;aGk=\x1b\\",
    "clear-screen": "\x1b[2J",
    "c1-csi": "\x9b2J",
    "rtl-override": "abc\u202edcba",
    "long-word": "A" * 2000,
}


@pytest.mark.parametrize("text", [
    "\x1b]52;c;aGk=\x1b\\", "\x1b[2J", "\x9b2J", "\x07\x00\x7f", "a\u202eb\u2066c",
])
def test_the_sanitiser_leaves_no_control_character(text: str) -> None:
    shown = visible(text)
    assert all(ord(c) >= 0x20 and not 0x7F <= ord(c) <= 0x9F for c in shown)
    assert not any(c in shown for c in "\u202e\u2066")
    assert visible("line\nbreak", multiline=True) == "line\nbreak"
    assert visible("line\nbreak") == "line␊break"


@pytest.mark.parametrize("name", HOSTILE, ids=list(HOSTILE))
async def test_hostile_text_shows_as_typed_and_does_nothing(server: Harness, make_app, sample, sample_key,
                                                             name: str) -> None:
    text = HOSTILE[name]
    author = await server.token("u_eve", text[:200].strip() or "eve")  # hostile display names too
    async with httpx.AsyncClient(base_url=server.url + "/api/v1", headers={"Authorization": f"Bearer {author}"}) as h:
        created = await h.post("/chats", json={"image": sample_key, "x": 40, "y": 40, "text": text,
                                               "broadcastId": bid()})
        assert created.status_code == 201, created.text
    app = make_app(server, await server.token("u_ana", "Ana"), sample)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(app, pilot)
        listed = "\n".join(str(s.render()) for s in app.query("#markers").results())
        await pilot.press("n")
        await pilot.pause()
        shown = thread_text(app)
        assert app.is_running  # "[@click=app.quit]" did not quit
        for rendered in (shown, listed):
            assert "\x1b" not in rendered and "\x9b" not in rendered and "\u202e" not in rendered
        expected = visible(text, multiline=True)
        assert expected[:200] in shown.replace("\n", "") or expected[:40] in shown
        if name == "markup-action":
            assert "[@click=app.quit]x[/]" in shown
        # The layout holds: the thread pane did not grow past the screen.
        thread = app.query_one("#thread")
        assert thread.region.right <= app.size.width
        for widget in app.query("#thread Static").results(Static):
            assert widget.region.right <= app.size.width

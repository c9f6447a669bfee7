"""The private parts of Textual 8.2.8 that graphics.pixels relies on: these fail when they change."""

from __future__ import annotations

import inspect

from textual.app import App
from textual.geometry import Region
from textual.widgets import Static

from imagechat_tui.tui.graphics import pixels
from imagechat_tui.tui.graphics.demo import DemoApp, fine_pattern
from imagechat_tui.tui.graphics.detect import Terminal

from ...conftest import wait_for


def test_app_display_takes_the_screen_and_the_frame_and_calls_the_public_hook_after() -> None:
    assert list(inspect.signature(App._display).parameters) == ["self", "screen", "renderable"]
    source = inspect.getsource(App._display)
    assert source.index("self._driver.write(") < source.index("self.post_display_hook()")


async def test_frames_tell_which_cells_they_write_and_the_driver_writes(monkeypatch) -> None:
    frames: list[list[Region]] = []
    written_regions = pixels.written_regions
    monkeypatch.setattr(pixels, "written_regions", lambda update: frames.append(written_regions(update)) or frames[-1])
    app = DemoApp(fine_pattern(), Terminal("sixel", (10, 20), None, "sixel"), lambda data: None)
    async with app.run_test(size=(40, 12)) as pilot:
        await wait_for(lambda: frames, 5, "the first frame")
        assert frames[0] == [Region(0, 0, 40, 12)], "the first frame writes the whole screen"
        assert callable(app._driver.write) and callable(app._driver.flush)
        await pilot.pause()
        frames.clear()
        app.query_one("#status", Static).update("changed")
        await wait_for(lambda: any(frames), 5, "a partial frame")
        assert [r for frame in frames for r in frame] == [Region(0, 11, 40, 1)], "only the status line is written"

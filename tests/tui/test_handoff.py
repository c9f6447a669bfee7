"""Handing the image or a thread to the desktop (`o` opens the image elsewhere, `y` copies a thread),
and what the viewer says while an image opens: each says what really happened."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from PIL import Image

from imagechat_tui.tui.screens.copied import CopiedScreen
from imagechat_tui.tui.widgets.image_view import ImageView

from ..conftest import Harness, wait_for
from .conftest import tool
from .test_flows import SIZE, notices, place, ready


async def test_y_copies_through_a_clipboard_tool_and_says_which(server: Harness, make_app, sample, desktop,
                                                                  tmp_path) -> None:
    got = tmp_path / "clipboard.txt"
    tool(desktop, "xclip", f"/bin/cat > {got}")  # PATH is only this folder
    app = make_app(server, await server.token("u_ana", "Ana"), sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await place(pilot, "Copy me")
        await pilot.press("y")
        await wait_for(lambda: any("with xclip" in n for n in notices(app)), 5, "the copied notice")
        assert "Copy me" in got.read_text()


async def test_y_without_a_clipboard_shows_the_markdown_and_saves_it(server: Harness, make_app, sample,
                                                                       desktop, tmp_path) -> None:
    tool(desktop, "xclip", "exit 1")  # there, but no display to copy to
    app = make_app(server, await server.token("u_ana", "Ana"), sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await place(pilot, "Nowhere to paste")
        await pilot.press("y")
        await wait_for(lambda: isinstance(app.screen, CopiedScreen), 5, "the Markdown screen")
        assert not any("copied" in n for n in notices(app))
        saved = Path(app.screen.saved_to)
        assert saved.is_relative_to(tmp_path / "data")
        assert "Nowhere to paste" in await asyncio.to_thread(saved.read_text)
        await pilot.press("escape")
        assert not isinstance(app.screen, CopiedScreen)


async def test_o_opens_the_image_with_the_configured_viewer(server: Harness, make_app, sample, desktop,
                                                              tmp_path, monkeypatch) -> None:
    opened = tmp_path / "opened.txt"
    viewer = tool(desktop, "viewer", 'echo "$1" > ' + str(opened))
    monkeypatch.setenv("IMAGECHAT_OPENER", str(viewer))
    app = make_app(server, await server.token("u_ana", "Ana"), sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("o")
        await wait_for(lambda: opened.exists() and opened.read_text().strip(), 5, "the viewer to start")
        assert Path(opened.read_text().strip()) == sample.resolve()
        assert any("Opened with viewer" in n for n in notices(app))


async def test_o_without_a_viewer_says_how_to_get_one(server: Harness, make_app, sample, desktop) -> None:
    app = make_app(server, await server.token("u_ana", "Ana"), sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("o")
        await pilot.pause()
        assert any("IMAGECHAT_OPENER" in n for n in notices(app))


async def test_a_silent_server_shows_the_seconds_waited_and_an_animation_says_so(server: Harness, make_app,
                                                                                  tmp_path) -> None:
    token = await server.token("u_ana", "Ana")
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        app = make_app(server, token, f"http://127.0.0.1:{silent.getsockname()[1]}/shot.png")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(lambda: app.query("#progress-text"), 10, "the main screen")  # composed after start-up
            text = app.query_one("#progress-text")
            await wait_for(lambda: "s waiting for the server" in str(text.render()), 5, "the seconds waited")
            await pilot.press("q")
    frames = [Image.new("RGB", (64, 48), colour) for colour in ("red", "blue", "green")]
    gif = tmp_path / "spinner.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)
    app = make_app(server, token, gif)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert any("animated" in n and "3 frames" in n for n in notices(app))
        assert app.query_one(ImageView).geometry is not None


async def test_o_with_a_broken_opener_setting_says_so(server: Harness, make_app, sample, desktop,
                                                      monkeypatch) -> None:
    monkeypatch.setenv("IMAGECHAT_OPENER", 'feh "unclosed')
    app = make_app(server, await server.token("u_ana", "Ana"), sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("o")
        await pilot.pause()
        assert any("IMAGECHAT_OPENER is not a command line" in n for n in notices(app))
        assert app.return_code is None

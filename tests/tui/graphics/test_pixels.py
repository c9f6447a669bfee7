"""The PixelPane in the demo app, driven by Pilot: what reaches the terminal, and when nothing does."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from textual.screen import ModalScreen
from textual.widgets import Static

from imagechat_tui.tui.graphics import sixel
from imagechat_tui.tui.graphics.demo import DemoApp, Picture, fine_pattern
from imagechat_tui.tui.graphics.detect import Terminal

from ...conftest import wait_for
from . import decoders

CELL = (10, 20)
SIZE = (40, 12)
MOVE = re.compile(r"\x1b7\x1b\[(\d+);(\d+)H")


def terminal(mode: str) -> Terminal:
    return Terminal(mode, CELL, None, f"{mode}, as set")  # type: ignore[arg-type]


class Recorder:
    def __init__(self) -> None:
        self.writes: list[str] = []

    def __call__(self, data: str) -> None:
        self.writes.append(data)

    def take(self) -> list[str]:
        taken, self.writes = self.writes, []
        return taken


async def framed(app: DemoApp, action: Callable[[], object], what: str) -> None:
    """Do `action` (awaited if it returns an awaitable), then wait for the frame it causes."""
    frames = app.frames
    result = action()
    if isinstance(result, Awaitable):
        await result
    await wait_for(lambda: app.frames > frames, 5, what)


def expected_picture(app: DemoApp) -> np.ndarray:
    region = app.query_one(Picture).content_region
    return np.asarray(app.source.crop((0, 0, region.width * CELL[0], region.height * CELL[1])))


def where(write: str) -> tuple[int, int]:
    match = MOVE.match(write)
    assert match, "the pane moves the cursor first"
    return int(match.group(2)) - 1, int(match.group(1)) - 1


async def settled(pilot, recorder: Recorder, what: str) -> str:
    """The picture written once the frames after a change are over (a layout change takes several)."""
    await wait_for(lambda: recorder.writes, 5, what)
    await pilot.pause()
    writes = recorder.take()
    assert len(set(writes)) == 1, "every frame redraws the same picture"
    return writes[0]


@dataclass
class Run:
    app: DemoApp
    pilot: Any
    recorder: Recorder
    first: str
    """The picture written at startup."""


@asynccontextmanager
async def running(mode: str, notifications: bool = False) -> AsyncIterator[Run]:
    """The demo app in `mode`, once started, with what its pane writes recorded."""
    recorder = Recorder()
    app = DemoApp(fine_pattern(), terminal(mode), recorder)
    async with app.run_test(size=SIZE, notifications=notifications) as pilot:
        yield Run(app, pilot, recorder, await settled(pilot, recorder, "the first picture"))


async def test_sixel_is_drawn_once_at_the_region_and_not_for_a_status_change() -> None:
    async with running("sixel") as run:
        app, pilot, recorder, first = run.app, run.pilot, run.recorder, run.first
        region = app.query_one(Picture).content_region
        assert where(first) == (region.x, region.y)
        drawn = np.asarray(decoders.sixel(first.encode()))
        assert np.abs(drawn.astype(int) - expected_picture(app)).max() <= 2
        for n in range(3):
            await framed(app, lambda: pilot.press("t"), f"tick {n}")
        assert "tick 3" in str(app.query_one("#status", Static).render())
        assert recorder.take() == [], "a status change sent image bytes"


async def test_sixel_is_redrawn_from_its_encoding_when_textual_repaints_or_moves_the_region(monkeypatch) -> None:
    encoded: list[int] = []
    encode = sixel.encode
    monkeypatch.setattr(sixel, "encode", lambda *args: encoded.append(1) or encode(*args))
    async with running("sixel") as run:
        app, pilot, recorder, first = run.app, run.pilot, run.recorder, run.first
        app.query_one(Picture).refresh()
        await wait_for(lambda: recorder.writes, 5, "the redraw after a repaint")
        assert recorder.take() == [first] and len(encoded) == 1
        await pilot.press("m")  # the pane moves down a row and shrinks: a new picture
        moved = await settled(pilot, recorder, "the redraw after a move")
        region = app.query_one(Picture).content_region
        assert where(moved) == (region.x, region.y) == (where(first)[0], where(first)[1] + 1)
        assert decoders.sixel(moved.encode()).size == (region.width * CELL[0], region.height * CELL[1])


class Cover(ModalScreen[None]):
    def compose(self):
        yield Static("help")


async def test_kitty_is_sent_once_hidden_under_another_screen_and_placed_again_without_resending() -> None:
    async with running("kitty") as run:
        app, pilot, recorder, first = run.app, run.pilot, run.recorder, run.first
        [sent] = decoders.kitty(first.encode()).images
        assert sent.image is not None and np.array_equal(np.asarray(sent.image), expected_picture(app))
        await framed(app, app.query_one(Picture).refresh, "a repaint")
        assert recorder.take() == [], "a repaint does not erase a Kitty placement"
        await app.push_screen(Cover())
        await wait_for(lambda: recorder.writes, 5, "the deletion")
        assert [c["a"] for w in recorder.take() for c in decoders.kitty(w.encode()).commands] == ["d"]
        app.pop_screen()
        await wait_for(lambda: recorder.writes, 5, "the placement")
        [placed] = recorder.take()
        assert decoders.kitty(placed.encode()).commands[0]["a"] == "p" and len(placed) < 100
        await framed(app, lambda: pilot.press("t"), "a tick")
        assert recorder.take() == []
    assert decoders.kitty(recorder.take()[-1].encode()).commands == [{"a": "d", "d": "I", "i": "1", "q": "2"}], \
        "the terminal's copy is freed when the app ends"


async def test_iterm2_draws_the_png_over_the_region() -> None:
    async with running("iterm2") as run:
        region = run.app.query_one(Picture).content_region
        args, image = decoders.iterm2(run.first.encode())
        assert (int(args["width"]), int(args["height"])) == (region.width, region.height)
        assert np.array_equal(np.asarray(image), expected_picture(run.app))


async def test_a_toast_over_a_sixel_picture_is_a_hole_in_it_until_it_goes() -> None:
    async with running("sixel", notifications=True) as run:
        app, pilot, recorder, first = run.app, run.pilot, run.recorder, run.first
        await pilot.press("n")
        with_hole = await settled(pilot, recorder, "the picture around the toast")
        [toast] = app.screen.query("Toast")
        area = app.query_one(Picture).content_region
        hole = toast.region.intersection(area).translate(-area.offset)
        assert hole, "the toast is over the picture"
        drawn = np.asarray(decoders.sixel(with_hole.encode()))
        inside = drawn[hole.y * CELL[1]:hole.bottom * CELL[1], hole.x * CELL[0]:hole.right * CELL[0]]
        assert (inside == 0).all(), "no pixel drawn under the toast"
        assert np.abs(drawn[:hole.y * CELL[1]].astype(int) - expected_picture(app)[:hole.y * CELL[1]]).max() <= 2
        app.clear_notifications()
        assert await settled(pilot, recorder, "the whole picture again") == first

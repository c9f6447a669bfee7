"""Opening an image from the inbox without wasted frames, and the inbox list's drawing: the rules
that keep them fast (which rows are drawn, when the screens switch, when the key bar is rebuilt).
The figures themselves are bench/inbox_view.py's."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from imagechat_tui.protocol.models import ImageSummary, LastComment, UserRef
from imagechat_tui.tui import app as app_module
from imagechat_tui.tui import loader
from imagechat_tui.tui.screens.compose import ComposeScreen
from imagechat_tui.tui.widgets import inbox_list
from imagechat_tui.tui.widgets.footer import SteadyFooter
from imagechat_tui.tui.widgets.inbox_list import ROW_LINES, InboxList

from ..conftest import Harness, wait_for
from .test_inbox import inbox_of, inbox_ready, opens_stored_images, png, store  # noqa: F401 (a fixture)

SIZE = (120, 36)
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


# Opening from the inbox


def hold_loads(monkeypatch) -> asyncio.Event:
    """Image loads wait until the event is set: what the viewer shows meanwhile can be looked at."""
    release = asyncio.Event()
    load = app_module.load

    async def held(target: str, **kwargs: Any) -> loader.LoadedImage:
        await release.wait()
        return await load(target, **kwargs)

    monkeypatch.setattr(app_module, "load", held)
    return release


async def test_the_inbox_stays_until_the_image_is_ready_and_the_keys_typed_meanwhile_go_to_it(
        server: Harness, make_app, opens_stored_images, monkeypatch) -> None:  # noqa: F811
    ana = await server.token("u_ana", "Ana")
    opens_stored_images(ana)
    key = await store(server, ana, png("red"), "red is off")
    release = hold_loads(monkeypatch)
    monkeypatch.setattr(app_module, "PROGRESS_AFTER", 30.0)
    app = make_app(server, ana, None)
    async with app.run_test(size=SIZE) as pilot:
        await inbox_ready(app, pilot)
        await pilot.press("enter", "a")  # a: a new marker on the image about to open (in the inbox: all)
        await pilot.pause(0.1)
        assert app.screen is app.inbox and app.loaded is None and app.keys_pending
        release.set()
        await wait_for(lambda: app.screen is app.main, 10, "the image screen")
        # Its first frame is the image: never the progress, nor an empty view.
        assert app.loaded is not None and app.loaded.key == key
        assert not app.main.query_one("#progress-pane").display
        await wait_for(lambda: isinstance(app.screen, ComposeScreen), 10, "a's compose box, on the image")
        assert inbox_of(app).view.query.filter == "open"


async def test_a_slow_image_shows_its_progress_after_a_moment(server: Harness, make_app, opens_stored_images,  # noqa: F811
                                                              monkeypatch) -> None:
    ana = await server.token("u_ana", "Ana")
    opens_stored_images(ana)
    release = hold_loads(monkeypatch)
    await store(server, ana, png("red"), "red is off")
    monkeypatch.setattr(app_module, "PROGRESS_AFTER", 0.05)
    app = make_app(server, ana, None)
    async with app.run_test(size=SIZE) as pilot:
        await inbox_ready(app, pilot)
        await pilot.press("enter")
        await wait_for(lambda: app.screen is app.main, 5, "the image screen, loading")
        view = app.main.image_view
        assert app.loaded is None and app.main.query_one("#progress-pane").display and view.geometry is None
        size = view.size
        release.set()
        await wait_for(lambda: app.loaded is not None and view.geometry is not None, 10, "the image")
        await pilot.pause()
        # The progress is drawn over the view: hiding it gives the view no other size (no second cut).
        assert not app.main.query_one("#progress-pane").display and view.size == size


async def test_an_image_that_fails_to_open_leaves_the_inbox_as_it_was(server: Harness, make_app,
                                                                      monkeypatch) -> None:
    ana = await server.token("u_ana", "Ana")
    keys = [await store(server, ana, png(color), f"{color} is off") for color in ("red", "green")]

    async def failing(target: str, **kwargs: Any) -> loader.LoadedImage:
        await asyncio.sleep(0.05)
        raise loader.LoadError("the image is gone")

    monkeypatch.setattr(app_module, "load", failing)
    monkeypatch.setattr(app_module, "PROGRESS_AFTER", 30.0)
    app = make_app(server, ana, None)
    async with app.run_test(size=SIZE) as pilot:
        await inbox_ready(app, pilot)
        view = inbox_of(app).view
        await pilot.press("enter")
        await wait_for(lambda: app.load_error is not None and not app.keys_pending, 5, "the failure")
        assert app.screen is app.inbox and "gone" in app.load_error
        await pilot.press("down")  # keys are not held any more
        await wait_for(lambda: view.key == keys[0], 2, "the next row selected")


# The inbox list


def summary(n: int) -> ImageSummary:
    when = (NOW - timedelta(minutes=n)).isoformat().replace("+00:00", "Z")
    return ImageSummary(key=f"sha256:{n:064x}", name=f"https://shots.example.com/{n}.png", stored=False,
                        open_count=1, resolved_count=0, last_activity_at=when,
                        last_comment=LastComment(user=UserRef(id="u_bob", name="Bob"), excerpt=f"comment {n}",
                                                 created_at=when, marker_number=1, marker_id="m_1"))


class ListApp(App[None]):
    CSS = "InboxList { height: 1fr; border: none; }"

    def __init__(self) -> None:
        super().__init__()
        self.moved: list[str] = []
        self.opened: list[str] = []

    def compose(self) -> ComposeResult:
        yield InboxList()

    def on_inbox_list_moved(self, message: InboxList.Moved) -> None:
        self.moved.append(message.key)

    def on_inbox_list_opened(self, message: InboxList.Opened) -> None:
        self.opened.append(message.key)


@pytest.fixture
def drawn(monkeypatch) -> list[str]:
    """The keys of the rows whose content was made, in order."""
    made: list[str] = []
    row = inbox_list.inbox_row

    def counted(summary: ImageSummary, *args: Any) -> Content:
        made.append(summary.key)
        return row(summary, *args)

    monkeypatch.setattr(inbox_list, "inbox_row", counted)
    return made


async def test_only_rows_in_view_are_drawn_and_an_unchanged_row_never_again(drawn: list[str]) -> None:
    rows = [summary(n) for n in range(300)]
    app = ListApp()
    async with app.run_test(size=(100, 30)) as pilot:
        widget = app.query_one(InboxList)
        widget.show(rows, {}, rows[0].key, NOW, False)
        await pilot.pause()
        in_view = 30 // ROW_LINES
        assert widget.row_count == 300 and 0 < len(drawn) <= in_view + 1
        assert set(drawn) == {row.key for row in rows[:len(drawn)]}

        drawn.clear()
        widget.show(rows + [summary(n) for n in range(300, 350)], {}, rows[0].key, NOW, False)  # a page below
        await pilot.pause()
        assert drawn == [] and widget.row_count == 350

        drawn.clear()
        changed = summary(200).model_copy(update={"open_count": 5})  # the feed's row: moved to the top
        rows = [changed] + [row for row in rows if row.key != changed.key]
        widget.show(rows, {}, rows[1].key, NOW, False)
        await pilot.pause()
        assert drawn == [changed.key]  # the other rows in view kept their drawing, one row lower
        assert widget.highlighted == 1 and app.moved[-1] == rows[1].key
        assert "● 5 open" in widget.row_text(0)

        drawn.clear()
        await pilot.press("end")
        await pilot.pause()
        assert widget.highlighted == 299 and app.moved[-1] == rows[-1].key
        assert set(drawn) <= {row.key for row in rows[-in_view - 1:]}


async def test_clicking_a_row_opens_it(drawn: list[str]) -> None:
    rows = [summary(n) for n in range(5)]
    app = ListApp()
    async with app.run_test(size=(100, 30)) as pilot:
        app.query_one(InboxList).show(rows, {}, rows[0].key, NOW, False)
        await pilot.pause()
        await pilot.click(InboxList, offset=(10, 2 * ROW_LINES + 1))  # the third row
        await wait_for(lambda: app.opened == [rows[2].key], 2, "the third row opened")
        assert app.query_one(InboxList).highlighted == 2


# The key bar


class Other(Screen[None]):
    def compose(self) -> ComposeResult:
        yield Static("other")
        yield SteadyFooter()


class Bar(App[None]):
    BINDINGS = [Binding("x", "x", "Ex"), Binding("y", "y", "Why")]

    def __init__(self) -> None:
        super().__init__()
        self.y_enabled = True

    def compose(self) -> ComposeResult:
        yield Static("main")
        yield SteadyFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.y_enabled if action == "y" else True


async def test_the_key_bar_is_rebuilt_only_when_its_keys_change() -> None:
    app = Bar()
    async with app.run_test() as pilot:
        await pilot.pause()
        keys = list(app.screen.query(FooterKey))
        assert [key.description for key in keys][:2] == ["Ex", "Why"]
        await app.push_screen(Other())
        await pilot.pause()
        app.pop_screen()
        await pilot.pause()
        assert list(app.screen.query(FooterKey)) == keys  # the same widgets: not composed again
        app.y_enabled = False
        app.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        rebuilt = list(app.screen.query(FooterKey))
        assert rebuilt != keys and "Why" not in [key.description for key in rebuilt]

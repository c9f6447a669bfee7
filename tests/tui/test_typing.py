"""Typed text is never lost: keys typed faster than the viewer handles them, ctrl+s and esc among them."""

from __future__ import annotations

from textual import events
from textual.widgets import TextArea

from imagechat_tui.tui.app import ImageChatApp
from imagechat_tui.tui.screens.compose import ComposeScreen
from imagechat_tui.tui.screens.confirm import ConfirmScreen

from ..conftest import Harness, wait_for
from .test_flows import SIZE, ready

NAMES = {" ": "space", ":": "colon", ",": "comma", ".": "full_stop"}


def type_ahead(app: ImageChatApp, *keys: str) -> None:
    """Post keys the way the terminal driver does, all at once, without waiting for any to be handled."""
    for key in keys:
        if len(key) == 1:
            app.post_message(events.Key(NAMES.get(key, key), key))
        else:
            app.post_message(events.Key(key, None))


def texts(app: ImageChatApp) -> list[str]:
    return [c.text for m in app.markers for c in m.comments if not m.id.startswith("pending")]


async def test_every_key_typed_before_ctrl_s_is_saved(server: Harness, make_app, sample) -> None:
    app = make_app(server, await server.token("u_ana", "Ana"), sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        type_ahead(app, "a", *"Dialog text: issuer declined", "ctrl+s")
        await wait_for(lambda: texts(app), 5, "the marker")
        assert texts(app) == ["Dialog text: issuer declined"]


async def test_keys_typed_while_the_viewer_starts_wait_for_it(server: Harness, make_app, sample) -> None:
    app = make_app(server, await server.token("u_ana", "Ana"), sample)
    async with app.run_test(size=SIZE):
        type_ahead(app, "a", *"typed at once", "ctrl+s")
        await wait_for(lambda: texts(app), 10, "the marker")
        assert texts(app) == ["typed at once"]


async def test_keys_after_ctrl_s_go_to_the_next_compose_not_into_the_last(server: Harness, make_app, sample) -> None:
    app = make_app(server, await server.token("u_ana", "Ana"), sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        type_ahead(app, "a", *"first, quickly", "ctrl+s", "right", "a", *"second: Dialog", "ctrl+s",
                   "a", *"third", "escape")
        await wait_for(lambda: len(texts(app)) == 2, 5, "two markers")
        # The third box opens after the second marker is saved, and escape closes it after that.
        await wait_for(lambda: not app.keys_pending, 10, "every key dealt with")
        await wait_for(lambda: not isinstance(app.screen, ComposeScreen), 5, "the third box left by escape")
        assert sorted(texts(app)) == ["first, quickly", "second: Dialog"]
        await pilot.press("a")  # the third was kept as a draft, to be finished later
        await wait_for(lambda: isinstance(app.screen, ComposeScreen), 5, "the compose screen")


def compose_text(app: ImageChatApp) -> str:
    return app.screen.query_one(TextArea).text


async def open_compose(pilot, key: str) -> None:
    await pilot.press(key)
    await wait_for(lambda: isinstance(pilot.app.screen, ComposeScreen), 5, "the compose screen")
    await pilot.pause()


async def test_esc_keeps_the_draft_for_the_same_place_until_it_is_sent(server: Harness, make_app, sample) -> None:
    app = make_app(server, await server.token("u_ana", "Ana"), sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("right", "left")  # on a cell's centre, where moving back returns exactly
        await open_compose(pilot, "a")
        await pilot.press(*"half a thought", "escape")
        assert not isinstance(app.screen, ComposeScreen) and texts(app) == []
        await pilot.press("right", "right")
        await open_compose(pilot, "a")
        assert compose_text(app) == ""  # another spot, another draft
        await pilot.press("escape", "left", "left")
        await open_compose(pilot, "a")
        assert compose_text(app) == "half a thought"
        await pilot.press(*" finished", "ctrl+s")
        await wait_for(lambda: texts(app) == ["half a thought finished"], 5, "the marker")
        await pilot.press("escape")
        await open_compose(pilot, "a")
        assert compose_text(app) == ""  # sent: the draft is gone

        await pilot.press("escape", "n")
        await open_compose(pilot, "c")
        await pilot.press(*"a comment", "escape")
        await open_compose(pilot, "r")  # a reply is another box than a comment
        assert compose_text(app) == ""
        await pilot.press("escape")
        await open_compose(pilot, "c")
        assert compose_text(app) == "a comment"
        await pilot.press("ctrl+a", "ctrl+k", "escape")  # emptied: thrown away
        await open_compose(pilot, "c")
        assert compose_text(app) == ""


async def test_quitting_with_an_unsent_draft_asks_first(server: Harness, make_app, sample) -> None:
    app = make_app(server, await server.token("u_ana", "Ana"), sample)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await open_compose(pilot, "a")
        await pilot.press(*"not yet sent", "escape", "q")
        assert isinstance(app.screen, ConfirmScreen) and "1 unsent draft" in app.screen.question
        await pilot.press("n")
        assert app.is_running
        await pilot.press("q", "y")
        await wait_for(lambda: not app.is_running, 5, "the app to exit")


async def test_quit_goes_at_once_while_the_image_opens(make_app, sample) -> None:
    app = make_app("http://127.0.0.1:9", "any-token", sample)
    app.keys_on_hold = lambda: True  # as if the image were still downloading
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await wait_for(lambda: not app.is_running, 5, "the app to exit")

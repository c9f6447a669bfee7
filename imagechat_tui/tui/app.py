"""The viewer: an image with its markers, their conversations, live, keyboard first."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, ProgressBar, Static

from ..client.engine import (
    Backoff,
    ImageChanged,
    LinkChanged,
    LinkState,
    Notice,
    Resynced,
    SyncEngine,
)
from ..client.errors import ClientError
from ..protocol.models import Comment, Marker
from ..protocol.permissions import may_change
from ..protocol.safe import visible
from . import clipboard
from .badges import Badge
from .cache import StateCache, copies_dir
from .graphics.detect import Terminal
from .graphics.pixels import PixelFrames, PixelPane, driver_writer
from .keys import OrderedKeys
from .loader import LoadedImage, LoadError, load
from .opener import OpenerError, open_externally
from .pyramid import Pyramid
from .screens.compose import ComposeScreen, Draft, Drafts
from .screens.confirm import ConfirmScreen
from .screens.copied import CopiedScreen
from .screens.help import HelpScreen
from .selection import Selection
from .threads import as_markdown, utc_now
from .widgets.conversation import MarkerList, ThreadView
from .widgets.image_view import ImageView
from .widgets.status import TOKEN_HELP, OfflineBanner, StatusBar


@dataclass(frozen=True, slots=True)
class Action:
    """One remappable key binding: its id in the [keymap] table, default keys, action, help text."""

    id: str
    keys: str
    action: str
    help: str
    footer: str = ""
    """A short label, for the actions shown in the footer."""


ACTIONS = [
    Action("place", "a", "place", "Place a marker at the cursor and write its first comment", "Place"),
    Action("next", "n", "next_marker", "Next marker", "Next"),
    Action("previous", "p", "previous_marker", "Previous marker"),
    Action("next-open", "u", "next_unresolved", "Next unresolved marker", "Unresolved"),
    Action("comment", "c", "comment", "Comment on the selected marker"),
    Action("reply", "r", "reply", "Reply to the selected comment", "Reply"),
    Action("next-comment", "right_square_bracket", "next_comment", "Next comment in the thread"),
    Action("previous-comment", "left_square_bracket", "previous_comment", "Previous comment in the thread"),
    Action("edit", "e", "edit", "Edit your selected comment"),
    Action("delete-comment", "d", "delete_comment", "Delete the selected comment"),
    Action("delete-marker", "D", "delete_marker", "Delete the selected marker and its conversation"),
    Action("resolve", "x", "toggle_resolved", "Resolve or reopen the selected marker", "Resolve"),
    Action("move", "m", "move_marker", "Move the selected marker to the cursor"),
    Action("copy", "y", "copy_thread", "Copy the selected thread as Markdown"),
    Action("close", "escape", "close_thread", "Back to the list of markers"),
    Action("left", "left,h", "cursor(-1,0)", "Move the cursor left"),
    Action("right", "right,l", "cursor(1,0)", "Move the cursor right"),
    Action("up", "up,k", "cursor(0,-1)", "Move the cursor up"),
    Action("down", "down,j", "cursor(0,1)", "Move the cursor down"),
    Action("zoom-in", "plus,equals_sign", "zoom(1)", "Zoom in around the cursor", "Zoom"),
    Action("zoom-out", "minus", "zoom(-1)", "Zoom out around the cursor"),
    Action("zoom-fit", "0", "zoom_fit", "Fit the whole image"),
    Action("zoom-actual", "1", "zoom_actual", "Actual pixels: one image pixel per screen pixel"),
    Action("zoom-marker", "z", "zoom_marker", "Zoom to the selected marker"),
    Action("pan-left", "shift+left,H", "pan(-1,0)", "Pan left"),
    Action("pan-right", "shift+right,L", "pan(1,0)", "Pan right"),
    Action("pan-up", "shift+up,K", "pan(0,-1)", "Pan up"),
    Action("pan-down", "shift+down,J", "pan(0,1)", "Pan down"),
    Action("open-externally", "o", "open_externally", "Open the image in the desktop's image viewer"),
    Action("help", "question_mark", "help", "Show the keys", "Help"),
    Action("quit", "q", "quit", "Quit", "Quit"),
]


class EngineNotice(Message):
    def __init__(self, notice: Notice) -> None:
        super().__init__()
        self.notice = notice


HALF_BLOCKS = Terminal("halfblock", None, None, "half-blocks (the default without a terminal to ask)")


class ImageChatApp(OrderedKeys, PixelFrames):
    CSS_PATH = "app.tcss"
    TITLE = "imagechat"
    BINDINGS = [Binding(a.keys, a.action, a.footer or a.help, show=bool(a.footer), id=a.id) for a in ACTIONS]

    def __init__(self, target: str, *, server: str, token: str, cafile: str | None = None,
                 keymap: dict[str, str] | None = None, cache: StateCache | None = None,
                 clock: Callable[[], datetime] = utc_now, backoff: Backoff = Backoff(),
                 terminal: Terminal = HALF_BLOCKS, token_help: str = TOKEN_HELP) -> None:
        super().__init__()
        self.terminal = terminal
        self.pixel_pane = None if terminal.mode == "halfblock" else PixelPane(terminal, driver_writer(self))
        self.pixel_panes += [self.pixel_pane] if self.pixel_pane else []
        self.token_help = token_help
        self.target = target
        self.engine = SyncEngine(server, token, cafile=cafile, backoff=backoff)
        self.cafile = cafile
        self.keymap = keymap or {}
        self.cache = cache
        self.clock = clock
        self.key: str | None = None
        self.selection = Selection()
        self.loaded: LoadedImage | None = None
        self.offline_since_sync = False
        self.load_error: str | None = None
        self._refresh_pending = False
        self._save_timer: Any = None
        self.drafts = Drafts()

    def compose(self) -> ComposeResult:
        yield OfflineBanner(id="banner")
        with Horizontal(id="main"):
            with Vertical(id="image-pane"):
                with Vertical(id="progress-pane"):
                    yield ProgressBar(id="progress", show_eta=False)
                    yield Static(id="progress-text")
                yield ImageView(self.pixel_pane, id="image")
            with Vertical(id="side"):
                yield MarkerList(id="markers")
                yield ThreadView(id="thread")
        yield StatusBar(id="status")
        yield Footer()

    async def on_mount(self) -> None:
        if self.keymap:
            known = {a.id for a in ACTIONS}
            unknown = sorted(set(self.keymap) - known)
            if unknown:
                self.notify(f"Unknown actions in the keymap: {', '.join(unknown)}", severity="warning")
            self.set_keymap({k: v for k, v in self.keymap.items() if k in known})
        self.query_one(ImageView).focus()
        self.engine.add_listener(lambda notice: self.post_message(EngineNotice(notice)))
        self.set_interval(1.0, self._tick)
        self._show_link()
        await self.engine.start()
        self.open_image()

    async def on_unmount(self) -> None:
        super().on_unmount()
        self._save_cache()
        await self.engine.close()

    def place_pixels(self) -> None:
        self.query_one(ImageView).place()

    # Opening the image

    @work(exclusive=True, group="load")
    async def open_image(self) -> None:
        try:
            loaded = await load(self.target, progress=self._show_progress, verify=self.cafile or True)
        except LoadError as exc:
            self.load_error = str(exc)
            self.exit(return_code=1, message=self.load_error)
            return
        pyramid = Pyramid(loaded.image)
        view = self.query_one(ImageView)
        await asyncio.to_thread(view.prepare, pyramid)  # the first view's reduced levels, off the event loop
        self.query_one("#progress-pane").display = False
        cached = self.cache.load(loaded.key) if self.cache is not None else None
        self.key = self.engine.subscribe(loaded.key, cached)
        self.loaded = loaded
        view.set_image(pyramid)
        self.sub_title = loaded.name
        if loaded.animated:
            self.notify(f"{loaded.name} is animated: showing the first of its {loaded.frames} frames.")
        self.refresh_views()
        self.release_keys()

    def keys_on_hold(self) -> bool:
        # Keys typed before the image is open and the first connection made are meant for it:
        # `a` and the comment after it.
        return self.key is None or self.engine.link.state is LinkState.CONNECTING

    def _show_progress(self, done: int, total: int | None, elapsed: float) -> None:
        self.query_one(ProgressBar).update(total=total, progress=done)
        size = f"{done / 2**20:.1f} of {total / 2**20:.1f} MB" if total else f"{done / 2**20:.1f} MB"
        self.query_one("#progress-text", Static).update(
            Content.assemble("Downloading · ", size, f" · {elapsed:.0f} s" + (" waiting for the server" if not done else "")))

    # Engine notices

    def on_engine_notice(self, message: EngineNotice) -> None:
        notice = message.notice
        if isinstance(notice, LinkChanged):
            if notice.link.state is not LinkState.ONLINE and notice.link.state is not LinkState.CONNECTING:
                self.offline_since_sync = True
            self._show_link()
            self.release_keys()
        elif isinstance(notice, Resynced) and notice.image == self.key:
            if self.offline_since_sync:
                self.offline_since_sync = False
                changes = notice.changes
                self.notify(f"Back online: {changes} change{'' if changes == 1 else 's'} arrived meanwhile.",
                            title="Resynced")
                self._show_link()
            self._schedule_refresh()
        elif isinstance(notice, ImageChanged) and notice.image == self.key:
            self._schedule_refresh()

    def _schedule_refresh(self) -> None:
        # Many events in one burst make one redraw.
        if not self._refresh_pending:
            self._refresh_pending = True
            self.call_after_refresh(self.refresh_views)
        if self.cache is not None and self._save_timer is None:
            self._save_timer = self.set_timer(1.0, self._save_cache)

    def _save_cache(self) -> None:
        self._save_timer = None
        if self.cache is not None and self.key is not None and self.engine.state(self.key).loaded:
            state = self.engine.state(self.key)
            self.cache.save(self.key, state.seq, list(state.markers.values()))

    def _tick(self) -> None:
        if self.engine.link.state is not LinkState.ONLINE:
            self._show_link()

    def _show_link(self) -> None:
        self.query_one(OfflineBanner).show(self.engine.link, catching_up=self.offline_since_sync,
                                           token_help=self.token_help)
        self._show_status()

    def _show_status(self) -> None:
        markers = self.markers
        open_count = sum(1 for m in markers if m.status == "open")
        user = self.engine.me.user.name if self.engine.me else ""
        name = self.loaded.name if self.loaded is not None else self.target
        view = self.query_one(ImageView)
        loaded = self.key is not None and self.engine.state(self.key).loaded
        self.query_one(StatusBar).show(self.engine.link, name, open_count, len(markers), user,
                                       (view.describe(), view.describe(compact=True)), loaded)

    # The views

    def refresh_views(self) -> None:
        self._refresh_pending = False
        if self.key is None:
            return
        selection = self.selection
        selection.update(self.engine.markers(self.key))
        marker = selection.marker
        self.query_one(ImageView).set_badges(
            [Badge(m.id, n, m.x, m.y, m.status == "resolved") for n, m in enumerate(selection.markers, 1)],
            selection.marker_id,
        )
        now = self.clock()
        marker_list, thread = self.query_one(MarkerList), self.query_one(ThreadView)
        marker_list.display = marker is None
        thread.display = marker is not None
        if marker is None:
            marker_list.show(selection.markers, now, None)
        else:
            me = self.engine.me.user.id if self.engine.me else None
            thread.show(marker, selection.number(marker.id), now, selection.comment_id, lambda uid: uid == me)
        self._show_status()

    @property
    def markers(self) -> list[Marker]:
        return self.selection.markers

    @property
    def marker(self) -> Marker | None:
        return self.selection.marker

    @property
    def comment(self) -> Comment | None:
        return self.selection.comment

    def number(self, marker_id: str) -> int:
        return self.selection.number(marker_id)

    def select(self, marker_id: str | None) -> None:
        self.selection.select(marker_id)
        self.refresh_views()

    # Mouse

    def on_image_view_marker_clicked(self, event: ImageView.MarkerClicked) -> None:
        self.select(event.marker_id)

    def on_marker_list_opened(self, event: MarkerList.Opened) -> None:
        self.select(event.marker_id)

    # Navigation

    def action_cursor(self, columns: int, rows: int) -> None:
        self.query_one(ImageView).move_cursor(columns, rows)

    def on_image_view_view_changed(self) -> None:
        self._show_status()

    def _step_marker(self, step: int, only_open: bool = False) -> None:
        if not self.selection.step_marker(step, only_open):
            self.notify("No unresolved markers." if only_open else "No markers yet: press a to place one.")
            return
        marker = self.selection.marker
        if marker is not None:
            self.query_one(ImageView).reveal(marker.x, marker.y)
        self.refresh_views()

    def action_next_marker(self) -> None:
        self._step_marker(1)

    def action_previous_marker(self) -> None:
        self._step_marker(-1)

    def action_next_unresolved(self) -> None:
        self._step_marker(1, only_open=True)

    def action_next_comment(self) -> None:
        if self.selection.step_comment(1):
            self.refresh_views()

    def action_previous_comment(self) -> None:
        if self.selection.step_comment(-1):
            self.refresh_views()

    # The view of the image

    def action_zoom(self, steps: int) -> None:
        self.query_one(ImageView).zoom(steps)

    def action_zoom_fit(self) -> None:
        self.query_one(ImageView).zoom_fit()

    def action_zoom_actual(self) -> None:
        self.query_one(ImageView).zoom_actual()

    def action_zoom_marker(self) -> None:
        marker = self.marker
        if marker is None:
            self.notify("Select a marker first (n, p, u or a click).", severity="warning")
            return
        self.query_one(ImageView).zoom_on(marker.x, marker.y)

    def action_pan(self, dx: int, dy: int) -> None:
        self.query_one(ImageView).pan(dx, dy)

    def action_open_externally(self) -> None:
        if self.loaded is None:
            return
        try:
            how = open_externally(self.target, self.loaded)
        except OpenerError as exc:
            self.notify(str(exc), title="Can't open the image", severity="warning")
            return
        self.notify(f"Opened with {visible(how)}.")

    def action_close_thread(self) -> None:
        self.select(None)

    async def action_quit(self) -> None:
        # Drafts live as long as the viewer: leaving with some asks first.
        if not self.drafts:
            self.exit()
            return
        count = len(self.drafts)
        self.push_screen(ConfirmScreen(f"Quit and lose {count} unsent draft{'' if count == 1 else 's'}?"),
                         lambda yes: yes and self.exit())

    def action_help(self) -> None:
        keymap = self.keymap
        self.push_screen(HelpScreen([(_keys(keymap.get(a.id, a.keys)), a.help) for a in ACTIONS],
                                    f"Images are drawn with {self.terminal.reason}."))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for action in ACTIONS:
            if action.id != "quit":
                yield SystemCommand(action.help, f"keys: {_keys(self.keymap.get(action.id, action.keys))}",
                                    partial(self.run_action, action.action))

    # Writes

    def _writable(self, needs_marker: bool = True) -> bool:
        """Refuse at once, with the reason, what can't be done now."""
        if self.key is None:
            return False
        if self.engine.link.state is LinkState.REFUSED:
            self.notify("The server refused your token, so nothing can be saved: see the banner for what to do.",
                        severity="error", title="Token refused")
            return False
        if self.engine.link.state is not LinkState.ONLINE:
            self.notify("The connection is down: nothing can be saved until it is back. Nothing was queued.",
                        severity="error", title="Offline")
            return False
        if needs_marker and self.marker is None:
            self.notify("Select a marker first (n, p, u or a click).", severity="warning")
            return False
        return True

    @work(group="write")
    async def _write(self, what: str, call: Callable[[], Awaitable[Any]],
                     then: Callable[[Any], None] | None = None, draft: Draft | None = None) -> None:
        try:
            result = await call()
        except ClientError as exc:
            kept = " Your text is kept: open the same box again to send it." if draft else ""
            self.notify(f"{exc}{kept}", title=f"{what} failed", severity="error")
            return
        if draft is not None:
            self.drafts.drop(draft)
        if then is not None:
            then(result)

    def _may_change(self, owner_id: str, what: str) -> bool:
        """Refuse at once what the server would refuse (it still decides)."""
        me = self.engine.me
        if me is None or may_change(me.user.role, me.user.id, owner_id):
            return True
        self.notify(f"Only its author or a moderator can {what}.", severity="warning", title="Not yours")
        return False

    def _compose(self, title: str, text: str, draft: Draft, send: Callable[[str], None]) -> None:
        self.push_screen(ComposeScreen(title, text, self.drafts, draft),
                         lambda result: result is not None and send(result))

    def action_place(self) -> None:
        if not self._writable(needs_marker=False):
            return
        assert self.key is not None
        key, (x, y) = self.key, self.query_one(ImageView).cursor
        draft = (key, "place", f"{x:.0f},{y:.0f}")
        self._compose(f"New marker at {x:.0f}%, {y:.0f}%", "", draft, lambda text: self._write(
            "Placing the marker", lambda: self.engine.create_marker(key, round(x, 2), round(y, 2), text),
            then=lambda marker: self.select(marker.id), draft=draft))

    def action_comment(self) -> None:
        if self._writable():
            key, marker = self.key, self.marker
            assert key is not None and marker is not None
            draft = (key, "comment", marker.id)
            self._compose(f"Comment on marker {self.number(marker.id)}", "", draft, lambda text: self._write(
                "Commenting", lambda: self.engine.add_comment(key, marker.id, text), draft=draft))

    def action_reply(self) -> None:
        if not self._writable():
            return
        key, marker, comment = self.key, self.marker, self.comment
        assert key is not None and marker is not None
        if comment is None:
            self.action_comment()
            return
        draft = (key, "reply", comment.id)
        self._compose(f"Reply to {visible(comment.user.name)}", "", draft, lambda text: self._write(
            "Replying", lambda: self.engine.add_comment(key, marker.id, text, parent_id=comment.id), draft=draft))

    def action_edit(self) -> None:
        if not self._writable():
            return
        key, comment = self.key, self.comment
        assert key is not None
        if comment is None or comment.deleted:
            self.notify("Select a comment to edit ([ and ]).", severity="warning")
            return
        if not self._may_change(comment.user.id, "edit this comment"):
            return
        draft = (key, "edit", comment.id)
        self._compose("Edit your comment", comment.text, draft, lambda text: self._write(
            "Editing", lambda: self.engine.edit_comment(key, comment.id, text), draft=draft))

    def action_delete_comment(self) -> None:
        if not self._writable():
            return
        key, comment = self.key, self.comment
        assert key is not None
        if comment is None or comment.deleted:
            self.notify("Select a comment to delete ([ and ]).", severity="warning")
            return
        if not self._may_change(comment.user.id, "delete this comment"):
            return
        self.push_screen(ConfirmScreen(f"Delete this comment by {visible(comment.user.name)}?"), lambda yes: yes and self._write(
            "Deleting the comment", lambda: self.engine.delete_comment(key, comment.id)))

    def action_delete_marker(self) -> None:
        if not self._writable():
            return
        key, marker = self.key, self.marker
        assert key is not None and marker is not None
        if not self._may_change(marker.created_by.id, "delete this marker"):
            return
        question = f"Delete marker {self.number(marker.id)} and its {len(marker.comments)} comment(s)?"
        self.push_screen(ConfirmScreen(question), lambda yes: yes and self._write(
            "Deleting the marker", lambda: self.engine.delete_marker(key, marker.id)))

    def action_toggle_resolved(self) -> None:
        if self._writable():
            key, marker = self.key, self.marker
            assert key is not None and marker is not None
            status = "open" if marker.status == "resolved" else "resolved"
            self._write("Resolving" if status == "resolved" else "Reopening",
                        lambda: self.engine.set_status(key, marker.id, status))

    def action_move_marker(self) -> None:
        if self._writable():
            key, marker = self.key, self.marker
            assert key is not None and marker is not None
            if not self._may_change(marker.created_by.id, "move this marker"):
                return
            x, y = self.query_one(ImageView).cursor
            self._write("Moving the marker", lambda: self.engine.move_marker(key, marker.id, round(x, 2), round(y, 2)))

    def action_copy_thread(self) -> None:
        marker = self.marker
        if marker is None:
            self.notify("Select a marker first.", severity="warning")
            return
        self._copy(self.number(marker.id), as_markdown(marker, self.number(marker.id)))

    @work(group="clipboard")
    async def _copy(self, number: int, markdown: str) -> None:
        tool = await asyncio.to_thread(clipboard.copy, markdown)
        if tool is not None:
            self.notify(f"Marker {number} copied as Markdown (with {tool}).")
            return
        path = copies_dir() / f"marker-{number}.md"
        await asyncio.to_thread(_save, path, markdown)
        self.copy_to_clipboard(markdown)  # a terminal that takes OSC 52 has it too, unconfirmed
        self.push_screen(CopiedScreen(f"Marker {number} as Markdown", markdown, str(path)))


def _save(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _keys(keys: str) -> str:
    names = {"right_square_bracket": "]", "left_square_bracket": "[", "question_mark": "?"}
    return ", ".join(names.get(k.strip(), k.strip()) for k in keys.split(","))

"""The viewer: an image with its markers, their conversations, live, keyboard first."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from textual import work
from textual.app import SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

from ..client.engine import (
    Backoff,
    DirectoryChanged,
    ImageChanged,
    ImageDeleted,
    LinkChanged,
    LinkState,
    Notice,
    NotificationsChanged,
    Resynced,
    SyncEngine,
)
from ..client.errors import ClientError
from ..protocol.models import Comment, Marker, Notification
from ..protocol.permissions import may_change
from ..protocol.safe import visible
from . import clipboard
from .actions import ACTIONS, key_names
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
from .screens.main import MainScreen
from .screens.notifications import WHAT, NotificationsScreen
from .selection import Selection
from .threads import as_markdown, utc_now
from .widgets.conversation import MarkerList
from .widgets.image_view import ImageView
from .widgets.status import TOKEN_HELP


class EngineNotice(Message):
    def __init__(self, notice: Notice) -> None:
        super().__init__()
        self.notice = notice


HALF_BLOCKS = Terminal("halfblock", None, None, "half-blocks (the default without a terminal to ask)")


_IMAGE_ACTIONS = {a.action.split("(")[0] for a in ACTIONS} - {"notifications", "help", "quit"}


class ImageChatApp(OrderedKeys, PixelFrames):
    CSS_PATH = "app.tcss"
    TITLE = "imagechat"
    BINDINGS = [Binding(a.keys, a.action, a.footer or a.help, show=bool(a.footer), id=a.id) for a in ACTIONS]

    def __init__(self, target: str, *, server: str | Sequence[str], token: str, cafile: str | None = None,
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

    def get_default_screen(self) -> MainScreen:
        self.main = MainScreen(self.pixel_pane)
        return self.main

    async def on_mount(self) -> None:
        if self.keymap:
            known = {a.id for a in ACTIONS}
            unknown = sorted(set(self.keymap) - known)
            if unknown:
                self.notify(f"Unknown actions in the keymap: {', '.join(unknown)}", severity="warning")
            self.set_keymap({k: v for k, v in self.keymap.items() if k in known})

    async def on_main_screen_ready(self) -> None:
        """The screen is there to show things: connect and open the image."""
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
        self.main.image_view.place()

    # Opening the image

    @work(exclusive=True, group="load")
    async def open_image(self) -> None:
        try:
            loaded = await load(self.target, progress=self.main.show_progress, verify=self.cafile or True)
        except LoadError as exc:
            self.load_error = str(exc)
            self.exit(return_code=1, message=self.load_error)
            return
        pyramid = Pyramid(loaded.image)
        # The first view's reduced levels, off the event loop.
        await asyncio.to_thread(self.main.image_view.prepare, pyramid)
        cached = self.cache.load(loaded.key) if self.cache is not None else None
        self.key = self.engine.subscribe(loaded.key, cached)
        self.loaded = loaded
        self.main.show_image(pyramid)
        self.sub_title = loaded.name
        if loaded.animated:
            self.notify(f"{loaded.name} is animated: showing the first of its {loaded.frames} frames.")
        self.refresh_views()
        self.release_keys()

    def keys_on_hold(self) -> bool:
        # Keys typed before the image is open and the first connection made are meant for it:
        # `a` and the comment after it.
        return self.key is None or self.engine.link.state is LinkState.CONNECTING

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
        elif isinstance(notice, NotificationsChanged):
            self._show_notifications(notice.arrived)
        elif isinstance(notice, DirectoryChanged):
            self._schedule_refresh()
        elif isinstance(notice, ImageDeleted) and notice.image == self.key:
            self.exit(return_code=1, message="An admin deleted this image with its whole conversation: "
                                             "the viewer closed it.")

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
        self.main.show_link(self.engine.link, self.offline_since_sync, self.token_help)
        self._show_status()

    def _show_status(self) -> None:
        user = self.engine.me.user.name if self.engine.me else ""
        name = self.loaded.name if self.loaded is not None else self.target
        loaded = self.key is not None and self.engine.state(self.key).loaded
        self.main.show_status(self.engine.link, name, self.selection, user, loaded, self.engine.notifications.unread)

    # The views

    def refresh_views(self) -> None:
        self._refresh_pending = False
        if self.key is None:
            return
        self.selection.update(self.engine.markers(self.key))
        me = self.engine.me.user.id if self.engine.me else None
        self.main.show_markers(self.selection, self.clock(), lambda uid: uid == me, self.engine.directory)
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
        self.main.image_view.move_cursor(columns, rows)

    def on_image_view_view_changed(self) -> None:
        self._show_status()

    def _step_marker(self, step: int, only_open: bool = False) -> None:
        if not self.selection.step_marker(step, only_open):
            self.notify("No unresolved markers." if only_open else "No markers yet: press a to place one.")
            return
        marker = self.selection.marker
        if marker is not None:
            self.main.image_view.reveal(marker.x, marker.y)
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
        self.main.image_view.zoom(steps)

    def action_zoom_fit(self) -> None:
        self.main.image_view.zoom_fit()

    def action_zoom_actual(self) -> None:
        self.main.image_view.zoom_actual()

    def action_zoom_marker(self) -> None:
        marker = self.marker
        if marker is None:
            self.notify("Select a marker first (n, p, u or a click).", severity="warning")
            return
        self.main.image_view.zoom_on(marker.x, marker.y)

    def action_pan(self, dx: int, dy: int) -> None:
        self.main.image_view.pan(dx, dy)

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

    # Notifications

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The image's keys stay with the image: not while the notifications cover it.
        if isinstance(self.screen, NotificationsScreen) and action in _IMAGE_ACTIONS:
            return False
        return True

    def action_notifications(self) -> None:
        if isinstance(self.screen, NotificationsScreen):
            self.pop_screen()
            return
        self.push_screen(NotificationsScreen())
        self.call_after_refresh(self._show_notifications)

    def _show_notifications(self, arrived: Notification | None = None) -> None:
        """The unread count wherever the user is, the list if it is open, and a notice of a new one."""
        if not self.main.is_attached:  # a reload answered while the viewer closes
            return
        book = self.engine.notifications
        self._show_status()
        if isinstance(self.screen, NotificationsScreen):
            self.screen.show(book.items, book.unread, self.engine.directory, self.clock())
        if arrived is not None:
            self.notify(f"{visible(arrived.by.name)} {WHAT[arrived.kind]} {arrived.marker_number}. "
                        f"{key_names(self.keymap.get('notifications', 'N'))} lists your notifications.",
                        title="Notification", markup=False)  # a name is data, never markup

    def on_notifications_screen_open(self, message: NotificationsScreen.Open) -> None:
        n = message.notification
        if not n.read:
            self._mark_read([n.id])
        self.pop_screen()
        self.open_at(n.image, n.marker_number)

    def on_notifications_screen_mark_read(self, message: NotificationsScreen.MarkRead) -> None:
        self._mark_read(message.ids)

    def on_notifications_screen_mark_all_read(self) -> None:
        self._mark_read(None)

    @work(group="notifications")
    async def _mark_read(self, ids: list[int] | None) -> None:
        """Some notifications read (None: all); the user's other viewers are told by the server."""
        try:
            await (self.engine.mark_all_read() if ids is None else self.engine.mark_read(ids))
        except ClientError as exc:
            self.notify(str(exc), title="Could not mark read", severity="error")

    def open_at(self, key: str, number: int) -> None:
        """Show marker `number` of image `key` (a link's `sha256:<hex>#N`). Only the image open now,
        until the viewer opens any link: then this is that opening, with `f"{key}#{number}"`."""
        if key != self.key:
            self.notify(f"That is marker {number} of another image: open it with imagechat-tui "
                        f"{visible(key)}#{number}", title="Another image", severity="warning", markup=False)
            return
        marker = next((m for m in self.markers if m.number == number), None)
        if marker is None:
            self.notify(f"Marker {number} is gone from this image.", severity="warning")
            return
        self.select(marker.id)
        self.main.image_view.reveal(marker.x, marker.y)

    def action_help(self) -> None:
        keymap = self.keymap
        self.push_screen(HelpScreen([(key_names(keymap.get(a.id, a.keys)), a.help) for a in ACTIONS],
                                    f"Images are drawn with {self.terminal.reason}."))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for action in ACTIONS:
            if action.id != "quit":
                yield SystemCommand(action.help, f"keys: {key_names(self.keymap.get(action.id, action.keys))}",
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
        self.push_screen(ComposeScreen(title, text, self.drafts, draft, self.engine.directory),
                         lambda result: result is not None and send(result))

    def action_place(self) -> None:
        if not self._writable(needs_marker=False):
            return
        assert self.key is not None
        key, (x, y) = self.key, self.main.image_view.cursor
        draft = (key, "place", f"{x:.0f},{y:.0f}")
        self._compose(f"New marker at {x:.0f}%, {y:.0f}%", "", draft, lambda text: self._write(
            "Placing the marker", lambda: self.engine.create_marker(key, round(x, 4), round(y, 4), text),
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
            x, y = self.main.image_view.cursor
            self._write("Moving the marker", lambda: self.engine.move_marker(key, marker.id, round(x, 4), round(y, 4)))

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

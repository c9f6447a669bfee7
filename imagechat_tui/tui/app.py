"""The viewer: an image with its markers, their conversations, live, keyboard first."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import RenderableType
from rich.text import Text
from textual import work
from textual.app import SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.timer import Timer

from ..client.engine import (
    Backoff,
    DirectoryChanged,
    ImageChanged,
    ImageDeleted,
    InboxFollowed,
    InboxRowChanged,
    InboxRowRemoved,
    LinkChanged,
    LinkState,
    Notice,
    NotificationsChanged,
    PeopleChanged,
    Resynced,
    SyncEngine,
    UnreadChanged,
)
from ..client.errors import ClientError
from ..client.imagecache import ImageCache
from ..client.images import Resolved, share, shown_target
from ..client.links import format_link
from ..protocol.imagekey import is_content_key
from ..protocol.models import Comment, InboxFilter, Marker, Notification
from ..protocol.permissions import may_change
from ..protocol.safe import visible
from . import clipboard
from .actions import ACTIONS, SCOPES, key_names
from .cache import StateCache, copies_dir
from .graphics.detect import Terminal
from .graphics.pixels import PixelFrames, PixelPane, driver_writer
from .keys import OrderedKeys
from .loader import LoadedImage, LoadError, load
from .numbers import number_text
from .opener import OpenerError, open_externally
from .pyramid import Pyramid
from .screens.compose import ComposeScreen, Draft, Drafts
from .screens.confirm import ConfirmScreen
from .screens.copied import CopiedScreen
from .screens.help import HelpScreen
from .screens.inbox import InboxScreen
from .screens.main import MainScreen
from .screens.notifications import WHAT, NotificationsScreen
from .selection import Selection
from .threads import as_markdown, utc_now
from .widgets.conversation import MarkerList
from .widgets.image_view import ImageView
from .widgets.status import TOKEN_HELP

log = logging.getLogger("imagechat.tui")


class EngineNotice(Message):
    def __init__(self, notice: Notice) -> None:
        super().__init__()
        self.notice = notice


HALF_BLOCKS = Terminal("halfblock", None, None, "half-blocks (the default without a terminal to ask)")

PROGRESS_AFTER = 0.15
"""Seconds the inbox stays after enter while the image loads: a cached image then comes up in the
first frame of the image screen, with no progress flashing by; a download shows its progress."""


_IMAGE_ACTIONS = {a.action.split("(")[0] for a in ACTIONS if a.scope != "both"}


class ImageChatApp(OrderedKeys, PixelFrames):
    CSS_PATH = "app.tcss"
    TITLE = "imagechat"
    BINDINGS = [Binding(a.keys, a.action, a.footer or a.help, show=bool(a.footer), id=a.id) for a in ACTIONS]

    def __init__(self, target: str | None, *, server: str | Sequence[str], token: str, cafile: str | None = None,
                 keymap: dict[str, str] | None = None, cache: StateCache | None = None,
                 clock: Callable[[], datetime] = utc_now, backoff: Backoff = Backoff(),
                 terminal: Terminal = HALF_BLOCKS, token_help: str = TOKEN_HELP,
                 images: ImageCache | None = None, upload: bool = True,
                 sample: Callable[[], str] | None = None, presence: bool = True) -> None:
        """`target`: the image to open; None opens the inbox, whose empty state offers `sample()`."""
        super().__init__()
        self.terminal = terminal
        self.pixel_pane = None if terminal.mode == "halfblock" else PixelPane(terminal, driver_writer(self))
        self.pixel_panes += [self.pixel_pane] if self.pixel_pane else []
        self.token_help = token_help
        self.target = target or ""
        self.closing = False
        self.engine = SyncEngine(server, token, cafile=cafile, backoff=backoff, presence=presence)
        self.inbox = None if target else InboxScreen(self.engine, sample or (lambda: ""), clock)
        self.cafile = cafile
        self.keymap = keymap or {}
        self.cache = cache
        self.images = images
        """The image bytes cache: reopening an image (a URL, a link) is instant, and works offline."""
        self.upload = upload
        """Whether the image goes to the server when the first marker is placed on it."""
        self.shared = False
        """The server is known to have this image's bytes."""
        self.wanted_marker: int | None = None
        """A link's marker number, selected and shown once the markers are there."""
        self.clock = clock
        self.key: str | None = None
        self.selection = Selection()
        self.loaded: LoadedImage | None = None
        self.offline_since_sync = False
        self.load_error: str | None = None
        self._refresh_pending = False
        self._synced_since_refresh = False
        self._save_timer: Any = None
        self._leaving_inbox: Timer | None = None
        """While an image opened from the inbox loads, at most PROGRESS_AFTER: the inbox still shows."""
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
        if self.inbox is None:
            self.open_image(self.target)
            return
        self.install_screen(self.inbox, "inbox")
        self.engine.subscribe_inbox()
        self.push_screen("inbox")

    async def on_unmount(self) -> None:
        super().on_unmount()
        self._save_cache()
        await self.engine.close()

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Notices quote what others wrote, file names and what servers said: shown literally, never
        as markup (`markup` is there for the signature, and ignored)."""
        super().notify(visible(message, multiline=True), title=visible(title), severity=severity, timeout=timeout,
                       markup=False)

    def place_pixels(self) -> None:
        self.main.image_view.place()

    # Opening the image

    @work(exclusive=True, group="load")
    async def open_image(self, target: str) -> None:
        """Open what `target` names: a URL, a file, or a link (`sha256:<hex>`, `sha256:<hex>#N`).
        Also the way from one image to another: keys wait until the new one is open."""
        self.target, self.key, self.selection = target, None, Selection()
        try:
            loaded = await load(target, rest=self.engine.rest, cache=self.images, progress=self.main.show_progress,
                                verify=self.cafile or True)
        except LoadError as exc:
            self.load_error = str(exc)
            self._close_image(self.load_error)
            return
        pyramid = Pyramid(loaded.image)
        # The first view's reduced levels, off the event loop.
        await asyncio.to_thread(self.main.image_view.prepare, pyramid)
        cached = self.cache.load(loaded.key) if self.cache is not None else None
        self.key = self.engine.subscribe(loaded.key, cached)
        self.loaded, self.shared = loaded, False
        self.wanted_marker = loaded.origin.marker if loaded.origin else None
        self._leave_inbox()
        self.main.show_image(pyramid)
        self.sub_title = visible(loaded.name)
        if loaded.animated:
            self.notify(f"{visible(loaded.name)} is animated: showing the first of its {loaded.frames} frames.")
        if loaded.origin is not None and loaded.origin.legacy_key_hash is not None:
            self._adopt(loaded.key, loaded.origin.legacy_key_hash)
        if loaded.origin is not None and loaded.origin.source is None and loaded.origin.path is None:
            self._name_from_server(loaded.key)
        # The picture first: the markers and their list come with the next frame, and the keys
        # typed meanwhile (`n`, `a`) after them.
        self._refresh_soon(then=self.release_keys)

    @work(group="adopt")
    async def _adopt(self, key: str, legacy_key_hash: str) -> None:
        """Bring this URL's conversation from the previous version (keyed by the URL) under the
        image's content key; only a hash of the old key is sent, never the URL."""
        try:
            adopted = await self.engine.rest.adopt(key, legacy_key_hash)
        except ClientError as exc:
            log.info("adopting the URL's earlier conversation failed: %s", exc)
            return  # tried again the next time the URL is opened
        if adopted.adopted and key == self.key:
            self.engine.resync(key)

    @work(group="adopt")
    async def _name_from_server(self, key: str) -> None:
        """A link names the image by its key alone: show its source or file name instead, if the server knows."""
        try:
            info = await self.engine.rest.image_info(key)
        except ClientError:
            return  # the key stays the name
        name = info and (info.source or info.name)
        if name and self.loaded is not None and self.loaded.key == key:
            self.loaded = replace(self.loaded, name=name)
            self.sub_title = visible(name)
            self._show_status()

    def _share_on_first_marker(self) -> None:
        if self.upload and not self.shared and self.loaded is not None and self.loaded.origin is not None:
            self._share(self.loaded.origin)

    @work(group="share")
    async def _share(self, origin: Resolved) -> None:
        """Upload the image unless the server has it, so colleagues without the file see it too."""
        try:
            await share(self.engine.rest, origin)
        except ClientError as exc:
            self.notify(f"{exc}. Markers are saved without it; the upload is tried again with the next marker.",
                        title="The image could not be uploaded", severity="warning")
            return
        self.shared = origin.key == (self.loaded.key if self.loaded else None)

    def _reveal_wanted_marker(self, final: bool) -> None:
        """Select and show a link's marker once it is there; `final`: the server's markers are in,
        so a number still missing is not on this image."""
        number = self.wanted_marker
        if number is None:
            return
        marker = self.selection.by_number(number)
        if marker is None:
            if final:
                self.wanted_marker = None
                self.notify(f"This image has no marker {number} (deleted, or never there).", severity="warning")
            return
        self.wanted_marker = None
        self.selection.select(marker.id)
        self.main.image_view.zoom_on(marker.x, marker.y)

    def keys_on_hold(self) -> bool:
        # Keys typed before the image is open and the first connection made are meant for it:
        # `a` and the comment after it; so are those typed after enter on an inbox row, while the
        # inbox still shows. Otherwise the inbox (and what is opened over it) takes keys at once.
        if self.in_inbox:
            return self._leaving_inbox is not None
        return self.key is None or self.engine.link.state is LinkState.CONNECTING

    # Switching between images, and the inbox

    def switch_image(self, target: str) -> None:
        """Show another image: the old one is let go (cache saved, unsubscribed), the new one opened.
        From the inbox, the inbox stays until the image is ready or PROGRESS_AFTER has passed."""
        if target == self.target and self.key is not None:
            self._leave_inbox()
            return  # the one still open behind the inbox
        self._let_go()
        self.main.show_loading()
        self._show_status()
        self.open_image(target)
        if self.inbox is not None and self.screen is self.inbox:
            self._leaving_inbox = self.set_timer(PROGRESS_AFTER, self._leave_inbox)

    def _leave_inbox(self) -> None:
        """Show the image screen (the image, or its progress), if the inbox covers it."""
        self._stay_in_inbox()
        if self.inbox is not None and self.screen is self.inbox:
            self.pop_screen()

    def _stay_in_inbox(self) -> None:
        if self._leaving_inbox is not None:
            self._leaving_inbox.stop()
            self._leaving_inbox = None

    def _let_go(self) -> None:
        """Stop showing the current image: its state cached, unsubscribed, nothing of it selected."""
        self._save_cache()
        if self.key is not None:
            self.engine.unsubscribe(self.key)
        self.key, self.loaded, self.target = None, None, ""
        self.selection = Selection()

    def _close_image(self, message: str) -> None:
        """The image can't be shown (any more): back to the inbox with the reason, or, without one, exit."""
        if self.inbox is None:
            self.exit(return_code=1, message=Text(visible(message)))
            return
        self._let_go()
        self._stay_in_inbox()
        self.notify(message, title="Can't show the image", severity="error")
        self.action_back_to_inbox()
        self.release_keys()  # held since enter, if the inbox never left

    @property
    def in_inbox(self) -> bool:
        """Whether the inbox is shown, maybe under a dialog (help, the palette), rather than an image."""
        return self.inbox is not None and self.inbox in self.screen_stack

    def action_back_to_inbox(self) -> None:
        if self.inbox is not None and not self.in_inbox:
            self.push_screen("inbox")
            self.release_keys()  # the inbox takes keys at once

    def on_inbox_screen_open(self, message: InboxScreen.Open) -> None:
        if message.key is not None and message.key == self.key:
            self.pop_screen()  # the image open behind the inbox
        elif message.target is None:
            self.notify("The server does not hold this image and it has no source URL: open it from its file "
                        "(imagechat-tui FILE).", severity="warning", title="Can't open it here")
        else:
            self.switch_image(message.target)

    def action_inbox_open(self) -> None:
        if self.inbox is not None:
            self.inbox.open_selected()

    def action_inbox_filter(self, filter: InboxFilter) -> None:
        if self.inbox is not None:
            self.inbox.set_query(filter=filter)

    def action_inbox_search(self) -> None:
        if self.inbox is not None:
            self.inbox.start_search()

    def action_inbox_clear_search(self) -> None:
        if self.inbox is not None:
            self.inbox.set_query(q="")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Inbox keys work in the inbox, the image's keys on the image (the same key may be both);
        neither while the notifications cover them."""
        if isinstance(self.screen, NotificationsScreen) and action in _IMAGE_ACTIONS:
            return False
        return self._in_scope(SCOPES.get(action, "both"))

    # Engine notices

    def exit(self, result: Any = None, return_code: int = 0, message: RenderableType | None = None) -> None:
        self.closing = True
        super().exit(result, return_code, message)

    @property
    def showing(self) -> bool:
        """Whether the screens are there to show state: not once the viewer closes (they go before the
        engine, whose last notices, and the last ticks, would find nothing to update), whether by
        `exit` or by Textual shutting the app down (`is_running` is False from its first step)."""
        return not self.closing and self.is_running and self.main.is_attached

    def on_engine_notice(self, message: EngineNotice) -> None:
        if not self.showing:
            return
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
            self._schedule_refresh(synced=True)
        elif isinstance(notice, ImageChanged | PeopleChanged) and notice.image == self.key:
            self._schedule_refresh()
        elif isinstance(notice, NotificationsChanged):
            self._show_notifications(notice.arrived)
        elif isinstance(notice, DirectoryChanged):
            self._schedule_refresh()
            if self.inbox is not None:
                self.inbox.show()  # mentions in its rows
        elif isinstance(notice, ImageDeleted) and notice.image == self.key:
            self._close_image("An admin deleted this image with its whole conversation: the viewer closed it.")
        elif isinstance(notice, UnreadChanged):
            if notice.image == self.key:
                self._schedule_refresh()
            if self.inbox is not None:
                known = notice.image == self.key and self.engine.unread_known(notice.image)
                self.inbox.on_unread(notice, self.engine.unread(notice.image) if known else None)
        elif isinstance(notice, InboxFollowed | InboxRowChanged | InboxRowRemoved) and self.inbox is not None:
            self.inbox.on_engine(notice)

    def _schedule_refresh(self, synced: bool = False) -> None:
        self._synced_since_refresh |= synced
        self._refresh_soon()
        if self.cache is not None and self._save_timer is None:
            self._save_timer = self.set_timer(1.0, self._save_cache)

    def _refresh_soon(self, then: Callable[[], None] | None = None) -> None:
        """Redraw the views after the next frame; many events in one burst make one redraw."""
        if not self._refresh_pending:
            self._refresh_pending = True
            self.call_after_refresh(self.refresh_views)
        if then is not None:
            self.call_after_refresh(then)

    def _save_cache(self) -> None:
        self._save_timer = None
        if self.cache is not None and self.key is not None and self.engine.state(self.key).loaded:
            state = self.engine.state(self.key)
            self.cache.save(self.key, state.seq, list(state.markers.values()))

    def _tick(self) -> None:
        if self.engine.link.state is not LinkState.ONLINE and self.showing:
            self._show_link()

    def _show_link(self) -> None:
        self.main.show_link(self.engine.link, self.offline_since_sync, self.token_help)
        if self.inbox is not None:
            self.inbox.show_link(self.engine.link)
        self._show_status()

    def _show_status(self) -> None:
        user = self.engine.me.user.name if self.engine.me else ""
        name = self.loaded.name if self.loaded is not None else shown_target(self.target)
        loaded = self.key is not None and self.engine.state(self.key).loaded
        unread = self.engine.unread(self.key) if self.key is not None else frozenset()
        self.main.show_status(self.engine.link, name, self.selection, user, loaded, self._others(),
                              self.engine.notifications.unread, unread)

    # Presence

    def _others(self) -> tuple[str, ...]:
        """The names of the other people viewing the image now."""
        if self.key is None:
            return ()
        me = self.engine.me.user.id if self.engine.me else None
        return tuple(user.name for user in self.engine.people(self.key) if user.id != me)

    def _writers(self) -> list[tuple[str, str]]:
        """Who else is writing, and where: (name, "on 3" or "a new marker")."""
        assert self.key is not None
        me = self.engine.me.user.id if self.engine.me else None
        writers = []
        for user in self.engine.people(self.key):
            if user.writing is not None and user.id != me:
                writers.append((user.name, self._where(user.writing.marker_id)))
        return writers

    def _where(self, marker_id: str | None) -> str:
        if marker_id is None:
            return "a new marker"
        marker = next((m for m in self.markers if m.id == marker_id), None)
        if marker is None:
            return "on a marker"
        return f"on {self.label(marker.id)}"

    # The views

    def refresh_views(self) -> None:
        self._refresh_pending = False
        if self.key is None or not self.showing:  # asked for a frame ago
            return
        self.selection.update(self.engine.markers(self.key))
        synced, self._synced_since_refresh = self._synced_since_refresh, False
        self._reveal_wanted_marker(final=synced)
        me = self.engine.me.user.id if self.engine.me else None
        self.main.show_markers(self.selection, self.clock(), lambda uid: uid == me, self.engine.directory,
                               self.engine.unread(self.key))
        self.main.show_writing(self._writers())
        self._show_status()
        self._read_shown_thread()

    # Unread markers

    def _read_shown_thread(self) -> None:
        """The thread shown in the side pane is read: on opening it, and again when a comment
        arrives on it while it shows (not while the inbox or the notifications cover it)."""
        key, marker = self.key, self.marker
        if (key is None or marker is None or marker.id not in self.engine.unread(key) or self.in_inbox
                or isinstance(self.screen, NotificationsScreen)):
            return
        self._mark_marker_read(key, marker.id)

    @work(group="unread")
    async def _mark_marker_read(self, key: str, marker_id: str) -> None:
        await self.engine.mark_marker_read(key, marker_id)  # failing, it is unread again after the next load

    def on_main_screen_resumed(self) -> None:
        """Back on the image from the inbox or the notifications: the thread shown is read now."""
        self._read_shown_thread()

    def action_next_unread(self) -> None:
        if self.key is not None:
            self._step_marker(1, among=self.engine.unread(self.key))

    @property
    def markers(self) -> list[Marker]:
        return self.selection.markers

    @property
    def marker(self) -> Marker | None:
        return self.selection.marker

    @property
    def comment(self) -> Comment | None:
        return self.selection.comment

    def label(self, marker_id: str) -> str:
        """The marker's number as shown."""
        return self.selection.label(marker_id)

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
        if self.showing:  # the view's last messages may come while the viewer closes
            self._show_status()

    def _step_marker(self, step: int, only_open: bool = False, among: Collection[str] | None = None) -> None:
        if not self.selection.step_marker(step, only_open, among):
            self.notify("No unread markers: nothing new from others since you last read them." if among is not None
                        else "No unresolved markers." if only_open else "No markers yet: press a to place one.")
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
            how = open_externally(self.loaded)
        except OpenerError as exc:
            self.notify(str(exc), title="Can't open the image", severity="warning")
            return
        self.notify(f"Opened with {visible(how)}.")

    def action_close_thread(self) -> None:
        if self.marker is None:
            self.action_back_to_inbox()
            return
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

    def action_notifications(self) -> None:
        if isinstance(self.screen, NotificationsScreen):
            self.pop_screen()
            return
        self.push_screen(NotificationsScreen())
        self.call_after_refresh(self._show_notifications)

    def _show_notifications(self, arrived: Notification | None = None) -> None:
        """The unread count wherever the user is, the list if it is open, and a notice of a new one."""
        if not self.showing:  # a reload answered while the viewer closes
            return
        book = self.engine.notifications
        self._show_status()
        if self.inbox is not None:
            self.inbox.show_link(self.engine.link)  # its head line says the unread count
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
        """Show marker `number` of image `key`: on the image open now, that marker selected; else
        that image opened at it, as its link `sha256:<hex>#N` would be."""
        if key != self.key:
            self.switch_image(f"{key}#{number}" if is_content_key(key) else key)
            return
        if self.inbox is not None and self.screen is self.inbox:
            self.pop_screen()  # the image open behind the inbox
        self.wanted_marker = number
        self.refresh_views()

    def action_help(self) -> None:
        keymap = self.keymap
        here_first = sorted(ACTIONS, key=lambda a: not self._in_scope(a.scope))  # the keys that work here on top
        self.push_screen(HelpScreen([(key_names(keymap.get(a.id, a.keys)), a.help) for a in here_first],
                                    f"Images are drawn with {self.terminal.reason}."))

    def _in_scope(self, scope: str) -> bool:
        return scope == "both" or (scope == "inbox") == self.in_inbox

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for action in ACTIONS:
            if action.id != "quit" and self._in_scope(action.scope):
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

    def _compose(self, title: str, text: str, draft: Draft, send: Callable[[str], None],
                 marker_id: str | None = None) -> None:
        """Open the compose box for `marker_id`'s thread (None: a new marker), announcing it."""
        key = draft[0]
        self.push_screen(ComposeScreen(title, text, self.drafts, draft,
                                       typing=lambda: self.engine.writing(key, marker_id),
                                       closed=lambda: self.engine.stopped_writing(key),
                                       people=self.engine.directory),
                         lambda result: result is not None and send(result))

    def action_place(self) -> None:
        if not self._writable(needs_marker=False):
            return
        assert self.key is not None
        key, (x, y) = self.key, self.main.image_view.cursor
        draft = (key, "place", f"{x:.0f},{y:.0f}")
        def send(text: str) -> None:
            self._share_on_first_marker()
            self._write("Placing the marker", lambda: self.engine.create_marker(key, round(x, 4), round(y, 4), text),
                        then=lambda marker: self.select(marker.id), draft=draft)

        self._compose(f"New marker at {x:.0f}%, {y:.0f}%", "", draft, send)

    def action_comment(self) -> None:
        if self._writable():
            key, marker = self.key, self.marker
            assert key is not None and marker is not None
            draft = (key, "comment", marker.id)
            self._compose(f"Comment on marker {self.label(marker.id)}", "", draft, lambda text: self._write(
                "Commenting", lambda: self.engine.add_comment(key, marker.id, text), draft=draft), marker.id)

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
            "Replying", lambda: self.engine.add_comment(key, marker.id, text, parent_id=comment.id), draft=draft),
            marker.id)

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
            "Editing", lambda: self.engine.edit_comment(key, comment.id, text), draft=draft), comment.marker_id)

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
        question = f"Delete marker {self.label(marker.id)} and its {len(marker.comments)} comment(s)?"
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

    def link(self, marker: Marker | None = None) -> str | None:
        """The link that opens this image (at `marker`, once the server numbered it)."""
        return format_link(self.key, marker.number if marker else None) if self.key is not None else None

    def action_copy_thread(self) -> None:
        marker, link = self.marker, self.link(self.marker)
        if marker is None or link is None:
            self.notify("Select a marker first.", severity="warning")
            return
        label = number_text(marker.number)
        self._copy(f"Marker {label} as Markdown", f"marker-{label}.md", as_markdown(marker, link, self.engine.directory))

    def action_copy_link(self) -> None:
        marker, link = self.marker, self.link(self.marker)
        if link is None:
            return
        what = f"The link to marker {number_text(marker.number)}" if marker else "The link to this image"
        self._copy(what, "link.txt", link)

    @work(group="clipboard")
    async def _copy(self, what: str, file_name: str, text: str) -> None:
        tool = await asyncio.to_thread(clipboard.copy, text)
        if tool is not None:
            self.notify(f"{what} copied (with {tool}).")
            return
        path = copies_dir() / file_name
        await asyncio.to_thread(_save, path, text)
        self.copy_to_clipboard(text)  # a terminal that takes OSC 52 has it too, unconfirmed
        self.push_screen(CopiedScreen(what, text, str(path)))


def _save(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)

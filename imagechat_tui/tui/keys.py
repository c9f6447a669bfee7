"""Keys handled one at a time, in the order they were typed, however fast they come.

Textual runs a priority binding (ctrl+s in the compose box) as soon as the key reaches the app, but
hands every other key to the focused widget's own queue and goes on. Typed fast, the keys before
ctrl+s were still queued in the text area when the comment was sent (it was saved cut short), and
the keys after a key that opens a screen went to the widget that had the focus before it.
`OrderedKeys` holds each key until the one before it has been dealt with: a `KeyHandled` message
follows the key through the widget it was given to and up to the app, and only then does the next
key go out, to whatever has the focus by then.
"""

from __future__ import annotations

from collections import deque
from functools import partial
from typing import Any

from textual import events
from textual.app import App
from textual.message import Message
from textual.timer import Timer

GIVE_UP = 2.0
"""Seconds after which the next key goes out anyway: the widget that had the key was removed
(the compose box closing on ctrl+s), and the message following it went with it."""


class KeyHandled(Message):
    """Sent behind a key to the widget that got it; bubbles up to the app after the key."""

    def __init__(self, turn: int) -> None:
        super().__init__()
        self.turn = turn


class OrderedKeys(App[Any]):
    """A mixin for the app: keys reach widgets, bindings and screens strictly in order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held_keys: deque[events.Key] = deque()
        self._key_turn = 0
        self._key_busy = False
        self._key_timer: Timer | None = None

    async def on_event(self, event: events.Event) -> None:
        if not isinstance(event, events.Key) or event.is_forwarded:
            await super().on_event(event)  # a key coming back up from a widget is handled as usual
        elif self._key_busy or (self.keys_on_hold() and (self._held_keys or not self._passes_hold(event))):
            self._held_keys.append(event)
        else:
            await self._send_key(event)

    @property
    def keys_pending(self) -> bool:
        """Whether keys typed are still being dealt with, one after another."""
        return self._key_busy or bool(self._held_keys)

    def keys_on_hold(self) -> bool:
        """Overridden to hold typed keys until what they are meant for is on screen; then call
        `release_keys`. A priority binding (ctrl+q) or quit pressed before any key is held goes at once."""
        return False

    def release_keys(self) -> None:
        if not self._key_busy and self._held_keys:
            self.call_later(self._next_key, self._key_turn, False)

    def _passes_hold(self, event: events.Key) -> bool:
        active = self.screen.active_bindings.get(event.key)
        return active is not None and (active.binding.priority or active.binding.action == "quit")

    async def _send_key(self, event: events.Key) -> None:
        self._key_busy = True
        self._key_turn += 1
        await super().on_event(event)
        # Asked after the key: a priority binding may have changed the focus (closed a screen).
        target = self.focused or self.screen
        target.post_message(KeyHandled(self._key_turn))
        self._key_timer = self.set_timer(GIVE_UP, partial(self._next_key, self._key_turn))

    async def on_key_handled(self, message: KeyHandled) -> None:
        message.stop()
        await self._next_key(message.turn)

    async def _next_key(self, turn: int, busy: bool = True) -> None:
        if turn != self._key_turn or self._key_busy is not busy:
            return  # a late message for a turn already given up on
        self._key_busy = False
        if self._key_timer is not None:
            self._key_timer.stop()
            self._key_timer = None
        if self._held_keys and not self.keys_on_hold():
            await self._send_key(self._held_keys.popleft())

"""The key bar at the foot of every screen, rebuilt only when the keys it shows change."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class SteadyFooter(Footer):
    """Textual's footer rebuilds all its keys (a recompose, a mount and a layout of the screen: 20-40 ms)
    whenever the screen's bindings may have changed: on every screen switch, focus change and key
    release, and for the screens under the one shown too, with that one's keys. Only the shown
    screen's footer is rebuilt, and only when the keys it shows changed (its screen shown again
    tells it once more)."""

    def __init__(self) -> None:
        super().__init__()
        self._keys_shown: tuple[object, ...] | None = None

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)

    def _keys(self) -> tuple[object, ...]:
        """What `compose` shows: every shown binding, whether it is enabled, how its key is written."""
        app = self.app
        return tuple((key, app.get_key_display(binding), binding.description, binding.action, enabled, tooltip)
                     for key, (_, binding, enabled, tooltip) in self.screen.active_bindings.items()
                     if binding.show or key == app.COMMAND_PALETTE_BINDING)

    async def _recompose_if_changed(self) -> None:
        if not self.is_attached or self.screen is not self.app.screen:
            return
        keys = self._keys()
        if keys != self._keys_shown:
            self._keys_shown = keys
            await self.recompose()

"""A Footer that rebuilds its keys only when the keys it shows change.

Textual's Footer recomposes (eight FooterKey widgets, each styled again) on every bindings
update, and focus moving between form fields publishes one each time; the goals form's fields
show no bindings of their own, so most of those rebuilds redraw the same keys. At start-up that
was three full rebuilds before the first paint.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    """Footer(show_command_palette=False) that skips rebuilds which would show the same keys."""

    def __init__(self) -> None:
        super().__init__(show_command_palette=False)
        self._shown: tuple | None = None

    def bindings_changed(self, screen: Screen) -> None:
        shown = tuple((binding.key, binding.description, enabled, tooltip)
                      for _, binding, enabled, tooltip in screen.active_bindings.values() if binding.show)
        if self._bindings_ready and screen is self.screen and shown == self._shown:
            return
        super().bindings_changed(screen)
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self._shown = shown  # a rebuild is scheduled

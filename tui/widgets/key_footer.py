"""A Footer that shows its keys from the first frame and rebuilds them only when they change.

Textual's Footer composes empty, then rebuilds itself (eight FooterKey widgets, each styled, and a
new layout pass) after every bindings update; focus moving between form fields publishes one each
time, although the goals form's fields show no keys of their own. At start-up that was three full
rebuilds before the first paint. KeyFooter composes the screen's keys at once and skips rebuilds
that would show the same keys.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    """Footer(show_command_palette=False) that skips rebuilds which would show the same keys."""

    def __init__(self) -> None:
        super().__init__(show_command_palette=False)
        self.set_reactive(Footer._bindings_ready, True)  # the app's and screen's keys are known at compose
        self._shown: tuple | None = None

    @staticmethod
    def _keys(screen: Screen) -> tuple:
        return tuple((binding.key, binding.description, enabled, tooltip)
                     for _, binding, enabled, tooltip in screen.active_bindings.values() if binding.show)

    def compose(self) -> ComposeResult:
        self._shown = self._keys(self.screen)
        yield from super().compose()

    def bindings_changed(self, screen: Screen) -> None:
        if screen is self.screen and self._keys(screen) == self._shown:
            return
        super().bindings_changed(screen)  # schedules a recompose, which records the keys shown

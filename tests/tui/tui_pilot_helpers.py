"""Helpers for the wizard's pilot and snapshot tests: wait on the app's own state, not on time."""

from __future__ import annotations

import asyncio
import time

from textual.pilot import Pilot

WAIT_S = 60.0


def _busy(app) -> bool:
    running = any(worker.is_running for worker in app.workers)
    return running or app.plan_pending or getattr(app.screen, "sweeping", False)


async def settle(pilot: Pilot) -> None:
    """Wait until no plan or sweep is pending and every message is handled, then let it draw."""
    deadline = time.monotonic() + WAIT_S
    await pilot.pause()
    while _busy(pilot.app):
        if time.monotonic() > deadline:
            raise TimeoutError("the wizard stayed busy")
        await pilot.app.workers.wait_for_complete()
        await asyncio.sleep(0.01)
        await pilot.pause()
    await pilot.pause()


async def wait_for_plans(pilot: Pilot, count: int) -> None:
    """Wait until the app has computed at least `count` plans (debounced workers included)."""
    deadline = time.monotonic() + WAIT_S
    while pilot.app.plans_computed < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {pilot.app.plans_computed} of {count} plans computed")
        await asyncio.sleep(0.01)
    await settle(pilot)


async def type_into(pilot: Pilot, field: str, text: str) -> None:
    """Focus a goals field, clear it and type `text` key by key."""
    from textual.widgets import Input

    widget = pilot.app.screen.query_one(f"#field-{field}", Input)
    widget.focus()
    widget.clear()
    await pilot.press(*text)


async def export_via_dialog(pilot: Pilot, path, fmt: str = "yaml", approver: str = "", key: str = "enter") -> None:
    """F5, pick the format, type the path (and approver), then press `key`: the wizard's own export."""
    from textual.widgets import Input

    from tui.exporters import EXPORTERS
    from tui.screens.export import ExportScreen

    app = pilot.app
    await pilot.press("f5")
    await settle(pilot)
    assert isinstance(app.screen, ExportScreen)
    app.screen.query_one(f"#format-{fmt}").value = True
    await pilot.pause()
    suggested = app.screen.query_one("#path", Input).value
    assert suggested == f"{app.plan.name}-plan{EXPORTERS[fmt].suffix}"
    app.screen.query_one("#path", Input).value = str(path)
    if approver:
        for allow in app.screen.query("#allow-demo"):  # the default plan repeats the demo corpus
            allow.value = True
        app.screen.query_one("#approver", Input).focus()
        await pilot.press(*approver)
    else:
        app.screen.query_one("#path", Input).focus()
    await pilot.press(key)
    await settle(pilot)

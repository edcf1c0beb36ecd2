"""Helpers for the wizard's pilot and snapshot tests."""

from __future__ import annotations

import asyncio
import time

from textual.pilot import Pilot

WAIT_S = 20.0


async def settle(pilot: Pilot) -> None:
    """Wait until every worker (plan derivation, scenario sweep) is done and the screen is drawn."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
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
    await pilot.pause()
    await pilot.press(*text)

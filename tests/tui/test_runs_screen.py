"""Pilot tests of the run monitor screen (tui/screens/runs.py)."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import Label, Log, ProgressBar, Static

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "executor"))
from exec_helpers import new_fake_run, write_approved  # noqa: E402

from executor.control import initial_state  # noqa: E402
from executor.backends.local import LocalBackend  # noqa: E402
from executor.jobs import compile_job_graph  # noqa: E402
from executor.rundir import Attempt, create_run_dir, read_state, write_state  # noqa: E402
from planner.io import read_plan  # noqa: E402
from tui.screens.runs import RunsScreen  # noqa: E402

pytestmark = pytest.mark.anyio


class RunsApp(App):
    def __init__(self, runs_root: Path) -> None:
        super().__init__()
        self.runs_root = runs_root

    def on_mount(self) -> None:
        self.push_screen(RunsScreen(self.runs_root))


def finished_run(root: Path) -> Path:
    """A run whose stages all completed, with a loss curve and logs (no processes needed)."""
    plan_file = write_approved(root / "plan.yaml")
    plan = read_plan(plan_file)
    run_dir = root / "runs" / "tiny-1"
    create_run_dir(plan_file, run_dir)
    state = initial_state(plan, compile_job_graph(plan, str(run_dir)), "local", [])
    t0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    for i, stage in enumerate(state.stages.values()):
        start, end = t0 + timedelta(minutes=i), t0 + timedelta(minutes=i + 1)
        stage.status = "COMPLETED"
        stage.attempts.append(Attempt(job_id=f"pid:{100 + i}", started_at=start, ended_at=end,
                                      status="COMPLETED", exit_code=0))
    write_state(state)
    steps = plan.recipe.train_steps
    with open(run_dir / "metrics.jsonl", "w") as fh:
        for step in range(1, steps + 1):
            fh.write(json.dumps({"step": step, "loss": 8.0 - step / steps, "tokens_per_s": 2000.0}) + "\n")
    (run_dir / "logs" / "evaluate.log").write_text("arc_easy acc 0.25\nevaluation done\n")
    return run_dir


async def wait_until(pilot, predicate, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        await pilot.pause(0.2)
        if predicate():
            return
    raise AssertionError("screen did not reach the expected state")



async def test_the_screen_shows_stages_progress_cost_loss_curve_and_log_tail(tmp_path):
    run_dir = finished_run(tmp_path)
    app = RunsApp(tmp_path / "runs")
    async with app.run_test(size=(140, 50)) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.view is not None)
        for stage in ("prepare", "train", "evaluate"):
            assert str(screen.query_one(f"#status-{stage}", Label).render()) == "COMPLETED"
            assert screen.query_one(f"#bar-{stage}", ProgressBar).progress == 100
        cost = str(screen.query_one("#run-cost", Static).render())
        assert "GPU-hours" in cost and "the plan said" in cost
        assert len(screen.view.losses) == read_plan(run_dir / "plan.yaml").recipe.train_steps
        log_text = "\n".join(str(line) for line in screen.query_one("#run-log", Log).lines)
        assert "evaluation done" in log_text



async def test_pressing_c_cancels_a_running_run_from_the_screen(tmp_path):
    plan, graph = new_fake_run(tmp_path, env={"FAKE_STEPS": "2000"})
    runs_root = Path(graph.run_dir).parent
    LocalBackend().submit(graph, plan, ["prepare", "train", "evaluate"])
    app = RunsApp(runs_root)
    async with app.run_test(size=(140, 50)) as pilot:
        await wait_until(pilot, lambda: read_state(graph.run_dir).stages["train"].status == "RUNNING", 60)
        await pilot.press("c")
        await wait_until(pilot, lambda: read_state(graph.run_dir).status == "CANCELLED", 90)
        await wait_until(pilot, lambda: app.screen.view is not None and app.screen.view.state.status == "CANCELLED")
    assert read_state(graph.run_dir).stages["evaluate"].status == "CANCELLED"


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_run_monitor_fits_80x24_and_120x40_with_the_apps_keys_in_its_footer(snap_compare, tmp_path, size):
    """The footer shows the wizard's F1-F6 (F5 is Export here too) and the screen's c/r keys at 80
    columns; stages, cost, loss plot and log all have rows at 80x24."""
    finished_run(tmp_path)

    async def run_before(pilot) -> None:
        await wait_until(pilot, lambda: pilot.app.screen.view is not None)
        await pilot.pause(0.3)

    assert snap_compare(RunsAppWithKeys(tmp_path / "runs"), terminal_size=size, run_before=run_before)


class RunsAppWithKeys(RunsApp):
    """The run monitor inside an app with the wizard's global keys (tui/app.py)."""

    from tui.app import WizardApp as _Wizard

    BINDINGS = _Wizard.BINDINGS


async def test_f5_on_the_run_monitor_is_the_wizards_export_not_refresh(tmp_path):
    from tui.app import WizardApp

    finished_run(tmp_path)
    screen = RunsScreen(tmp_path / "runs")
    keys = {b.key: b.description for b in screen.BINDINGS}
    assert "f5" not in keys and keys["u"] == "Refresh"
    wizard_keys = {b.key: b.description for b in WizardApp.BINDINGS}
    assert wizard_keys["f5"] == "Export" and not set(keys) & set(wizard_keys)

"""The approval gate: approve, verify, and `execute` refusing what it must refuse."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from exec_helpers import FIXTURE, tiny_plan, write_approved

from executor.approval import ExecutionRefused, approve, check_executable
from planner.io import canonical_sha256, read_plan
from tui.cli import main


def run_cli(*args: str) -> tuple[int, str]:
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue() + err.getvalue()


def test_approval_records_approver_utc_time_and_the_hash_of_the_plan_without_the_block():
    plan = tiny_plan()
    when = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
    approved = approve(plan, "Ada Lovelace", "looks fine", now=when)
    assert approved.approval.approved_by == "Ada Lovelace"
    assert approved.approval.approved_at == when
    assert approved.approval.plan_sha256 == canonical_sha256(plan) == canonical_sha256(approved)
    assert check_executable(approved) == []


def test_approve_command_writes_the_block_and_the_file_still_hashes_to_it(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_bytes(FIXTURE.read_bytes())
    code, out = run_cli("approve", str(path), "--by", "Grace Hopper", "--note", "ok")
    assert code == 2 and "draws 410k training tokens from the demo corpus builtin:pydoc" in out  # 3.7 passes
    assert read_plan(path).approval is None
    code, out = run_cli("approve", str(path), "--by", "Grace Hopper", "--note", "ok", "--allow-demo-data")
    assert code == 0, out
    plan = read_plan(path)
    assert plan.approval.approved_by == "Grace Hopper" and plan.approval.note == "ok [--allow-demo-data]"
    assert plan.approval.plan_sha256 == canonical_sha256(plan)


def test_an_unapproved_plan_is_refused_with_the_command_that_fixes_it(tmp_path):
    with pytest.raises(ExecutionRefused, match="not approved; run `llmplan approve PLAN --by NAME`"):
        check_executable(tiny_plan())


def test_a_plan_edited_after_approval_is_refused_naming_the_approver(tmp_path):
    path = write_approved(tmp_path / "plan.yaml")
    assert "seed: 1234" in path.read_text()
    path.write_text(path.read_text().replace("seed: 1234", "seed: 4321"))
    with pytest.raises(ExecutionRefused, match="edited after Ada Lovelace approved it"):
        check_executable(read_plan(path))


def test_an_over_budget_plan_is_refused_naming_the_estimate_and_the_budget():
    plan = tiny_plan()
    cost, hours = plan.estimate.total_cost_usd, plan.estimate.gpu_hours
    goals = plan.goals.model_copy(update={"budget_usd": cost / 2, "budget_gpu_hours": hours / 2})
    plan = approve(plan.model_copy(update={"goals": goals}), "Ada")
    with pytest.raises(ExecutionRefused) as err:
        check_executable(plan)
    text = str(err.value)
    assert f"estimate.total_cost_usd ({cost:.4g}) is over goals.budget_usd ({cost / 2:.4g})" in text
    assert f"estimate.gpu_hours ({hours:.4g}) is over goals.budget_gpu_hours ({hours / 2:.4g})" in text
    assert "--override-budget" in text


def test_an_override_lets_the_plan_through_and_is_reported_as_used():
    goals = tiny_plan().goals.model_copy(update={"budget_usd": tiny_plan().estimate.total_cost_usd / 2})
    plan = approve(tiny_plan(goals=goals), "Ada")
    assert check_executable(plan, ["budget"]) == ["budget"]
    assert check_executable(tiny_plan(), ["approval"]) == ["approval"]
    with pytest.raises(ExecutionRefused):
        check_executable(plan, ["approval"])  # the wrong override does not help


@pytest.mark.parametrize("case", ["unapproved", "edited", "over-budget"])
def test_execute_refuses_with_exit_status_2_and_creates_nothing(tmp_path, case):
    path = tmp_path / "plan.yaml"
    if case == "unapproved":
        from planner.io import write_model

        write_model(tiny_plan(), path)
    elif case == "edited":
        write_approved(path)
        path.write_text(path.read_text().replace("seed: 1234", "seed: 4321"))
    else:
        goals = tiny_plan().goals.model_copy(update={"budget_gpu_hours": tiny_plan().estimate.gpu_hours / 2})
        write_approved(path, tiny_plan(goals=goals))
    code, out = run_cli("execute", str(path), "--backend", "local", "--runs-root", str(tmp_path / "runs"))
    assert code == 2, out
    assert "refusing to execute" in out
    assert not (tmp_path / "runs").exists()


def test_execute_records_the_override_in_run_json(tmp_path):
    from executor.control import cancel, execute
    from executor.rundir import read_state
    from planner.io import write_model

    path = tmp_path / "plan.yaml"
    write_model(tiny_plan(), path)
    dry = execute(str(path), "local", str(tmp_path / "run"), dry_run=True, overrides=("approval",))
    assert "prepare" in dry.scripts and not (tmp_path / "run").exists()  # a dry run creates nothing
    state = execute(str(path), "local", str(tmp_path / "run"), overrides=("approval",))
    try:
        assert read_state(state.run_dir).overrides == ["approval"]
        assert read_state(state.run_dir).approved_by == ""
    finally:
        cancel(state.run_dir)
    assert read_state(state.run_dir).status == "CANCELLED"

"""The approval gate: who approved a plan, when, and for exactly which content.

`approve` stamps a plan with an `Approval` block (approver, UTC time, sha256 of the canonical plan
without the block, see `planner.io.canonical_sha256`). `check_executable` is what `llmplan execute`
calls before anything runs: it refuses a plan that is unapproved, edited since its approval, or whose
estimate is over the goals' budget, each with one message naming the value and the fix. An explicit
override lets a person go ahead anyway; the overrides used are recorded in the run's `run.json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from planner.cost.risk import feasibility_problems
from planner.errors import PlanInputError
from planner.io import canonical_sha256
from planner.schema import Approval, RunPlan
from presets.loader import find_gpu

OVERRIDE_APPROVAL = "approval"
OVERRIDE_BUDGET = "budget"
OVERRIDES = (OVERRIDE_APPROVAL, OVERRIDE_BUDGET)


class ExecutionRefused(PlanInputError):
    """The plan may not be executed as it stands (CLI exit status 2)."""


@dataclass(frozen=True)
class Refusal:
    kind: str  # OVERRIDE_APPROVAL or OVERRIDE_BUDGET: the override that would let it through
    message: str


def approve(plan: RunPlan, approved_by: str, note: str = "", now: datetime | None = None) -> RunPlan:
    """A copy of `plan` carrying an approval of its current content."""
    if not approved_by.strip():
        raise PlanInputError("approval needs a name", ["--by: empty; give the approver's name"])
    infeasible = feasibility_refusals(plan)
    if infeasible:
        raise PlanInputError(f"refusing to approve plan '{plan.name}': it cannot run as planned", [
            *infeasible, "change the goals (see `llmplan plan` without --allow-infeasible for what would fit)"])
    stamp = Approval(
        approved_by=approved_by.strip(),
        approved_at=(now or datetime.now(UTC)).replace(microsecond=0),
        plan_sha256=canonical_sha256(plan),
        note=note,
    )
    return plan.model_copy(update={"approval": stamp})


def feasibility_refusals(plan: RunPlan) -> list[str]:
    """Why the plan cannot run (marked by --allow-infeasible, or found now: no layout, too long,
    no Megatron arguments; planner.cost.risk.feasibility_problems)."""
    gpu = find_gpu(plan.estimate.gpu, "estimate.gpu")  # the planner takes its GPU; it reads no presets
    return list(dict.fromkeys([*plan.infeasible, *feasibility_problems(plan, gpu)]))


def approval_problems(plan: RunPlan) -> list[Refusal]:
    """Why the approval does not cover this plan (empty when it does)."""
    if plan.approval is None:
        return [Refusal(OVERRIDE_APPROVAL,
                        f"plan '{plan.name}' is not approved; run `llmplan approve PLAN --by NAME` first")]
    current = canonical_sha256(plan)
    if current != plan.approval.plan_sha256:
        return [Refusal(
            OVERRIDE_APPROVAL,
            f"plan '{plan.name}' was edited after {plan.approval.approved_by} approved it at "
            f"{plan.approval.approved_at.isoformat()}: approval.plan_sha256 is "
            f"{plan.approval.plan_sha256[:12]}..., the content now hashes to {current[:12]}...; "
            "review the changes and approve it again",
        )]
    return []


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def budget_problems(plan: RunPlan) -> list[Refusal]:
    """The plan's estimate against the goals' budget_usd and budget_gpu_hours."""
    goals, est = plan.goals, plan.estimate
    out = []
    if goals.budget_usd is not None and est.total_cost_usd > goals.budget_usd:
        out.append(Refusal(
            OVERRIDE_BUDGET,
            f"estimate.total_cost_usd ({_num(est.total_cost_usd)}) is over goals.budget_usd "
            f"({_num(goals.budget_usd)}); shrink the plan or raise the budget",
        ))
    if goals.budget_gpu_hours is not None and est.gpu_hours > goals.budget_gpu_hours:
        out.append(Refusal(
            OVERRIDE_BUDGET,
            f"estimate.gpu_hours ({_num(est.gpu_hours)}) is over goals.budget_gpu_hours "
            f"({_num(goals.budget_gpu_hours)}); shrink the plan or raise the budget",
        ))
    return out


def check_executable(plan: RunPlan, overrides: tuple[str, ...] | list[str] = (), source: str = "") -> list[str]:
    """Raise `ExecutionRefused` unless the plan may run; return the overrides actually used."""
    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        raise PlanInputError(f"unknown override {unknown[0]!r}; allowed: {', '.join(OVERRIDES)}")
    problems = approval_problems(plan) + budget_problems(plan)
    blocking = [p for p in problems if p.kind not in overrides]
    if blocking:
        hints = sorted({f"--override-{p.kind}" for p in blocking})
        raise ExecutionRefused(
            "refusing to execute",
            [p.message for p in blocking] + [f"(to run it anyway: {' '.join(hints)})"],
            source,
        )
    return sorted({p.kind for p in problems})

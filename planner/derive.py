"""From resolved goals to a validated run plan: `derive_plan(resolve(goals, catalog)) -> RunPlan`.

The flow (docs/planner.md): goals resolved against the Catalog once (planner.resolve: presets looked
up, defaults filled, each recorded as an Assumption) -> decide which constraint binds and size the
model and its tokens (planner.model.sizing) -> an exact shape (planner.model.architecture) -> the global batch
(DeepSeek B_opt, planner.training.recipe) -> the parallel layout (planner.compute.layout) -> the recipe -> the
estimate (planner.estimate) -> the failure plan (planner.cost.reliability) -> p10-p90 ranges
(planner.cost.uncertainty). Constraints that cannot all hold raise PlanInputError naming them. Nothing
here reads a file or changes shared state: the same resolved goals give the same plan.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from planner.cost import inference, risk

from planner.model import architecture, continuation, flops, sizing
from planner.chain import cost_per_gpu_hour, estimate_chain, prior_compute_flops
from planner.errors import PlanInputError
from planner.estimate import estimate_assumptions
from planner.compute.layout import SearchSpace, search_layouts
from planner.compute.layout_advice import no_fit_message
from planner.training.recipe import MIN_TRAIN_STEPS, choose_global_batch_size, derive_recipe  # noqa: F401  (re-exported)
from planner.resolve import ResolvedGoals
from planner.schema import SCHEMA_VERSION, Assumption, Goals, ModelShape, RunPlan, TokenBudget
from planner.cost.uncertainty import plan_ranges
from planner.model.user_law import apply_user_law, loss_fit

MAX_FREE_EPOCHS = 4.0
"""Muennighoff et al. 2023 §5: up to ~4 epochs repeated data is nearly as good as unique data; past
this the budget is split by the data-limited optimum (planner.model.sizing.data_limited_optimum)."""
LLMPLAN_VERSION = "0.1.0"
MIN_DEADLINE_DAYS = 1 / 24
"""A deadline under an hour cannot hold a job's start-up, let alone a run (issue 13)."""


@dataclass(frozen=True)
class Limit:
    """A cap on GPU-hours coming from one goal (or a pair of goals)."""

    fields: str
    value_text: str
    gpu_hours: float


@dataclass(frozen=True)
class Sizing:
    model: ModelShape
    num_tokens: float
    binding: str
    useful_compute_flops: float | None = None
    """Data-limited plans: compute the unique data supports usefully (planner.model.sizing.DataLimited)."""
    limit_sized: bool = False
    """True when a budget or deadline set the size (so goals.confidence can re-size it)."""


def compute_limits(goals: Goals, rg: ResolvedGoals) -> list[Limit]:
    """Every GPU-hour cap the goals state, tightest first."""
    limits = []
    if goals.budget_gpu_hours is not None:
        limits.append(Limit("budget_gpu_hours", f"{goals.budget_gpu_hours:,.0f}", goals.budget_gpu_hours))
    if goals.budget_usd is not None:
        per_hour = cost_per_gpu_hour(rg, goals)
        hours = goals.budget_usd / per_hour if per_hour > 0 else math.inf
        limits.append(Limit("budget_usd", f"${goals.budget_usd:,.0f} at ${per_hour:.3g}/GPU-hour", hours))
    if goals.deadline_days is not None and goals.num_gpus is not None:
        hours = goals.deadline_days * 24 * goals.num_gpus
        limits.append(Limit("deadline_days x num_gpus", f"{goals.deadline_days:g} days x {goals.num_gpus} GPUs", hours))
    return sorted(limits, key=lambda lim: lim.gpu_hours)


def _shape(goals: Goals, num_params: float, source: str = "target_params") -> ModelShape:
    if not math.isfinite(num_params) or num_params > architecture.MAX_PARAMS:
        raise PlanInputError("no model shape fits the goals", [
            f"{source} ({num_params:.3g} parameters): over the largest model the planner shapes "
            f"({architecture.MAX_PARAMS:.0e}); lower the budget or state target_params"])
    try:
        return architecture.derive_shape(num_params, vocab_size=goals.vocab_size, seq_length=goals.seq_len)
    except ValueError as exc:
        raise PlanInputError("no model shape fits the goals", [f"{source} ({num_params:,.0f} parameters): {exc}"]) from None


def _objective_tokens(goals: Goals, num_params: float) -> float:
    if goals.objective == "compute-optimal":
        return sizing.compute_optimal_tokens_for_params(num_params, loss_fit(goals))
    if goals.objective == "inference-optimal":
        return sizing.inference_optimal_tokens_for_params(num_params, goals.inference_tokens, loss_fit(goals))
    return sizing.rule_of_thumb_tokens(num_params)


def _objective_params_for_tokens(goals: Goals, num_tokens: float) -> float:
    if goals.objective == "compute-optimal":
        return sizing.compute_optimal_params_for_tokens(num_tokens, loss_fit(goals))
    if goals.objective == "inference-optimal":
        lo, hi = math.log(1e3), math.log(num_tokens)
        for _ in range(80):
            mid = (lo + hi) / 2
            d = sizing.inference_optimal_tokens_for_params(math.exp(mid), goals.inference_tokens, loss_fit(goals))
            lo, hi = (mid, hi) if d < num_tokens else (lo, mid)
        return math.exp((lo + hi) / 2)
    return num_tokens / sizing.TOKENS_PER_PARAM_RULE


def _objective_params_for_compute(goals: Goals, compute_flops: float) -> float:
    if goals.objective == "compute-optimal":
        return sizing.compute_optimal(compute_flops, loss_fit(goals))[0]
    if goals.objective == "inference-optimal":
        return sizing.inference_optimal_for_compute(compute_flops, goals.inference_tokens, loss_fit(goals))[0]
    return sizing.rule_of_thumb_params_for_compute(compute_flops)


def _affordable_tokens(goals: Goals, rg: ResolvedGoals, model: ModelShape, limit: Limit) -> float:
    """Tokens that `limit` buys for `model` (MFU at the fleet the run would use)."""
    compute = prior_compute_flops(goals, rg, limit.gpu_hours, model.num_params)
    return compute / flops.model_flops_per_token(model, goals.seq_len)


def _cap_epochs(goals: Goals, num_tokens: float) -> tuple[float, bool]:
    """Tokens capped at sizing.MAX_USEFUL_EPOCHS repeats of the unique data (Muennighoff's R*_D)."""
    unique = goals.unique_tokens_available
    if unique is not None and num_tokens > sizing.MAX_USEFUL_EPOCHS * unique:
        return sizing.MAX_USEFUL_EPOCHS * unique, True
    return num_tokens, False


EPOCHS_CAPPED = f"unique_tokens_available ({sizing.MAX_USEFUL_EPOCHS} epochs: each repeat worth >= 1/e, Muennighoff et al. 2023)"


def _limit_compute(goals: Goals, rg: ResolvedGoals, limit: Limit, num_params: float) -> float:
    """Model FLOPs that `limit` buys for a model of about `num_params` (MFU at the fleet it would use)."""
    return prior_compute_flops(goals, rg, limit.gpu_hours, num_params)


def _data_too_small(goals: Goals, num_params: float, exc: PlanInputError) -> PlanInputError:
    """The unique data supports a model below the smallest shape: say how much data would do."""
    smallest = architecture.smallest_params(goals.vocab_size, goals.seq_len)
    need = goals.unique_tokens_available
    while sizing.data_limits(need)[0] < smallest and need < 1e17:
        need *= 1.25
    return PlanInputError("the unique data is too small for any model", [
        f"unique_tokens_available ({goals.unique_tokens_available:,.0f}): repeated at most "
        f"{sizing.MAX_USEFUL_EPOCHS} times it usefully trains about {num_params:,.3g} parameters "
        f"(Muennighoff et al. 2023: N <= U_N x (1 + R*_N)); the smallest model at vocab_size "
        f"{goals.vocab_size:,} holds {smallest:,}",
        f"give at least ~{need:.2g} unique tokens, or lower vocab_size"])


def _size_from_params(goals: Goals, rg: ResolvedGoals, limit: Limit | None) -> Sizing:
    model = _shape(goals, goals.target_params)
    if goals.target_tokens is not None:
        return Sizing(model, goals.target_tokens, "target_params and target_tokens")
    if goals.objective == "fixed-size" and limit is not None:
        tokens, capped = _cap_epochs(goals, _affordable_tokens(goals, rg, model, limit))
        binding = EPOCHS_CAPPED if capped else f"{limit.fields} (fixed-size: tokens from the budget)"
        useful = 6.0 * model.num_params * tokens if capped else None
        return Sizing(model, tokens, binding, useful, limit_sized=True)
    tokens, capped = _cap_epochs(goals, _objective_tokens(goals, model.num_params))
    binding = EPOCHS_CAPPED if capped else f"target_params ({goals.objective})"
    return Sizing(model, tokens, binding)


def _size_from_tokens(goals: Goals) -> Sizing:
    model = _shape(goals, _objective_params_for_tokens(goals, goals.target_tokens), "target_tokens")
    return Sizing(model, goals.target_tokens, f"target_tokens ({goals.objective})")


def _size_from_budget(goals: Goals, rg: ResolvedGoals, limit: Limit) -> Sizing:
    """Spend the budget: N from the objective's compute split, then D = C / FLOPs per token. When the
    unique data would repeat more than MAX_FREE_EPOCHS times, N and D come from the data-limited
    optimum instead, and compute past what the data supports is left unspent (planner.model.sizing)."""
    num_params, unique = 1e9, goals.unique_tokens_available
    smallest = architecture.smallest_params(goals.vocab_size, goals.seq_len)
    for _ in range(3):
        compute = _limit_compute(goals, rg, limit, min(max(num_params, smallest), architecture.MAX_PARAMS))
        if not compute >= 6.0 * smallest * smallest:  # the smallest model on one token per parameter
            raise PlanInputError(f"{limit.fields} is too small for any model", [
                f"{limit.fields}: {limit.value_text} buys {compute:.3g} FLOPs; the smallest model at vocab_size "
                f"{goals.vocab_size:,} ({smallest:,} parameters) on as many tokens needs {6.0 * smallest**2:.3g}",
                f"raise {limit.fields}, or lower vocab_size"])
        num_params = _objective_params_for_compute(goals, compute)
    if unique is None or compute / (6 * num_params) <= MAX_FREE_EPOCHS * unique:
        model = _shape(goals, num_params, f"{limit.fields} buys")
        return Sizing(model, _affordable_tokens(goals, rg, model, limit), f"{limit.fields} ({goals.objective})",
                      limit_sized=True)
    for _ in range(2):  # MFU depends on the size the data supports
        best = sizing.data_limited_optimum(compute, unique)
        compute = _limit_compute(goals, rg, limit, best.num_params)
    best = sizing.data_limited_optimum(compute, unique)
    try:
        model = _shape(goals, best.num_params, "unique_tokens_available supports")
    except PlanInputError as exc:
        raise _data_too_small(goals, best.num_params, exc) from None
    tokens = min(_affordable_tokens(goals, rg, model, limit), best.max_tokens)
    if best.useful_compute_flops < compute:
        return Sizing(model, tokens, f"unique_tokens_available (data-limited, Muennighoff et al. 2023: the data "
                      f"supports {best.useful_compute_flops:.3g} of the {compute:.3g} FLOPs {limit.fields} buys)",
                      best.useful_compute_flops, limit_sized=True)
    return Sizing(model, tokens, f"unique_tokens_available (data-limited split of {limit.fields}, Muennighoff et al. 2023)",
                  limit_sized=True)


def _check_token_counts(goals: Goals) -> None:
    """Token goals below one sequence, data under one token or a deadline under an hour cannot be planned."""
    if goals.target_tokens is not None and goals.target_tokens < goals.seq_len:
        raise PlanInputError("too few training tokens", [
            f"target_tokens: {goals.target_tokens:.3g} is less than one sequence (seq_len {goals.seq_len:,}); "
            "state at least one sequence's worth"])
    if goals.deadline_days is not None and goals.deadline_days < MIN_DEADLINE_DAYS:
        raise PlanInputError("deadline too short for any run", [
            f"deadline_days: {goals.deadline_days:.3g} is under one hour; state at least {MIN_DEADLINE_DAYS:.3g} days"])
    if goals.unique_tokens_available is not None and goals.unique_tokens_available < 1:
        raise PlanInputError("too little data", [
            f"unique_tokens_available: {goals.unique_tokens_available:.3g} is less than one token"])


def size_run(goals: Goals, rg: ResolvedGoals, headroom: float | None = None) -> Sizing:
    """Which constraint binds, and the model and token count it gives (PlanInputError on conflict).

    `headroom` (>= 1; default planner.cost.risk.sizing_headroom(goals.confidence)) shrinks the GPU-hour cap
    a budget or deadline sizes the run with, so that it holds at goals.confidence; conflicts are
    judged on the point estimate. The fast path (planner.reports.sweep) and derive_plan size alike.
    """
    if headroom is None:
        headroom = risk.sizing_headroom(goals.confidence, rg.residuals[0])
    limits = [lim for lim in compute_limits(goals, rg) if not math.isnan(lim.gpu_hours)]
    if any(lim.gpu_hours <= 0 or math.isinf(lim.gpu_hours) for lim in limits):
        bad = next(lim for lim in limits if lim.gpu_hours <= 0 or math.isinf(lim.gpu_hours))
        raise PlanInputError(f"{bad.fields}: {bad.value_text} gives {bad.gpu_hours:g} GPU-hours; "
                             "state a finite, positive budget")
    _check_token_counts(goals)
    check_limit = limits[0] if limits else None
    limit = check_limit
    if limit is not None and headroom > 1.0:
        limit = Limit(limit.fields, f"{limit.value_text} at {goals.confidence}", limit.gpu_hours / headroom)
    if goals.continue_from is not None:  # continued pretraining: the checkpoint's shape (planner.model.continuation)
        return _size_continued(goals, rg, limit, check_limit)
    if goals.objective == "fixed-size" and goals.target_params is None:
        raise PlanInputError("objective fixed-size needs a size",
                             ["target_params: missing; state the parameter count, or pick another objective"])
    if goals.target_params is not None:
        sized = _size_from_params(goals, rg, limit)
    elif goals.target_tokens is not None:
        sized = _size_from_tokens(goals)
    elif limit is not None:
        sized = _size_from_budget(goals, rg, limit)
    else:
        raise PlanInputError("nothing to size the run from", [
            "state one of: target_params, target_tokens, budget_usd, budget_gpu_hours, "
            "or deadline_days together with num_gpus"])
    if limit is not None:
        sized = _fit_tokens_to_limit(goals, rg, sized, limit)
    if check_limit is not None:
        _check_limit(goals, rg, sized, check_limit)
    return sized


def _size_continued(goals: Goals, rg: ResolvedGoals, limit: Limit | None, check_limit: Limit | None) -> Sizing:
    """goals.continue_from: the checkpoint's fixed shape; this run's tokens are target_tokens, or what
    the budget buys (fixed-size), or the objective's total minus tokens_seen capped by the budget."""
    model, seen = continuation.fixed_shape(goals), goals.continue_from.tokens_seen

    def bought(why: str) -> Sizing:
        tokens, capped = _cap_epochs(goals, _affordable_tokens(goals, rg, model, limit))
        return Sizing(model, tokens, EPOCHS_CAPPED if capped else f"{limit.fields} (continue_from: {why})",
                      6.0 * model.num_params * tokens if capped else None, limit_sized=True)

    if goals.target_tokens is not None:
        sized = Sizing(model, goals.target_tokens, "target_tokens (continue_from: the tokens of this run)")
    elif goals.objective == "fixed-size":
        if limit is None:
            raise PlanInputError("objective fixed-size needs a budget or target_tokens", [
                "continue_from fixes the size: state budget_usd, budget_gpu_hours, deadline_days with num_gpus, "
                "or target_tokens (the tokens of this run)"])
        sized = bought("fixed-size, tokens from the budget")
    else:
        left = continuation.remaining_tokens(goals, model, _objective_tokens(goals, model.num_params))
        if limit is not None and _affordable_tokens(goals, rg, model, limit) < left:
            sized = bought(f"buys less than the {left:,.3g} tokens {goals.objective} leaves after {seen:,.3g} seen")
        else:
            tokens, capped = _cap_epochs(goals, left)
            sized = Sizing(model, tokens, EPOCHS_CAPPED if capped else
                           f"continue_from ({goals.objective} total minus {seen:,.3g} tokens seen)")
    if limit is not None:  # target_params only agrees with the shape here, so it must not stop the fitting
        sized = _fit_tokens_to_limit(goals.model_copy(update={"target_params": None}), rg, sized, limit)
    if check_limit is not None:
        _check_limit(goals, rg, sized, check_limit)
    return sized


def _fit_tokens_to_limit(goals: Goals, rg: ResolvedGoals, sized: Sizing, limit: Limit) -> Sizing:
    """Tokens bought by a budget, priced by the chain. The sizing prior (planner.compute.throughput.predict_mfu)
    guesses what a budget buys before a shape, and so a layout, exists; the chain (planner.chain)
    then prices the run. GPU-hours are proportional to tokens on a fixed fleet, so the tokens are
    scaled to the limit: down when over it, up when the budget is what binds (three passes absorb a
    change of fleet). Tokens set by the goals or by the data are left alone."""
    if goals.target_tokens is not None or (goals.target_params is not None and goals.objective != "fixed-size"):
        return sized
    spend_all = sized.binding.startswith(limit.fields)
    tokens = sized.num_tokens
    for _ in range(3):
        hours = estimate_chain(goals, rg, sized.model, tokens).estimate.gpu_hours
        if hours <= limit.gpu_hours * 1.0005 and (not spend_all or hours >= limit.gpu_hours * 0.995):
            break
        tokens *= limit.gpu_hours / hours * 0.9995
    return dataclasses.replace(sized, num_tokens=tokens)  # keeps limit_sized (goals.confidence re-sizing)


def _check_limit(goals: Goals, rg: ResolvedGoals, sized: Sizing, limit: Limit) -> None:
    hours = estimate_chain(goals, rg, sized.model, sized.num_tokens).estimate.gpu_hours
    if hours <= limit.gpu_hours * 1.001:
        return
    fixed, names = [], []
    if goals.target_params is not None:
        fixed.append(f"target_params: {goals.target_params:,.0f}")
        names.append("target_params")
    if goals.target_tokens is not None:
        fixed.append(f"target_tokens: {goals.target_tokens:,.0f}")
        names.append("target_tokens")
    else:
        fixed.append(f"objective: {goals.objective} gives {sized.num_tokens:,.3g} tokens for "
                     f"{sized.model.num_params:,} parameters")
    raise PlanInputError(f"conflicting goals: {' and '.join(names)} and {limit.fields} cannot all hold", [
        *fixed,
        f"{limit.fields}: {limit.value_text} allows {limit.gpu_hours:,.0f} GPU-hours; the run needs {hours:,.0f}",
        f"raise {limit.fields}, lower {' or '.join(names)}, or use objective fixed-size with "
        "target_params alone (tokens from the budget)",
    ])


def token_budget(goals: Goals, model: ModelShape, num_tokens: float) -> TokenBudget:
    unique = goals.unique_tokens_available or num_tokens
    return TokenBudget(
        num_tokens=num_tokens,
        unique_tokens=unique,
        epochs=num_tokens / unique,
        tokens_per_param=num_tokens / model.num_params,
        effective_tokens=sizing.effective_tokens(num_tokens, unique),
        tokens_seen=goals.continue_from.tokens_seen if goals.continue_from else None,
    )


def derive_plan(rg: ResolvedGoals, *, pins: dict | None = None) -> RunPlan:
    """The run plan for the resolved goals (see the module docstring); PlanInputError when the goals
    conflict. A pure function of its inputs: `rg = planner.resolve.resolve(goals, catalog)`.

    `pins` (a goals preset's presets/pins.yaml entry) fixes layout, recipe or reliability values after derivation.
    """
    if not isinstance(rg, ResolvedGoals):
        raise TypeError(f"derive_plan takes planner.resolve.resolve(goals, catalog), not {type(rg).__name__}")
    goals = rg.goals
    sized = size_run(goals, rg)
    first = [rg.assumption("tokens_seen")] if goals.continue_from is not None else []
    if sized.limit_sized:  # the cap was divided by this so that it holds at goals.confidence
        first.append(Assumption(
            name="confidence_headroom", value=round(risk.sizing_headroom(goals.confidence, rg.residuals[0]), 4), unit="x",
            source=f"planner.cost.risk.sizing_headroom at goals.confidence {goals.confidence}",
            used_for="GPU-hour cap the size is derived from"))
    plan = assemble_plan(goals, rg, sized.model, sized.num_tokens, sized.binding, pins, first)
    plan = inference.with_serving(continuation.with_tokens_seen(plan), rg.catalog)
    return risk.finish_plan(plan, sized.useful_compute_flops, rg.gpu)


def _layout(goals: Goals, rg: ResolvedGoals, model: ModelShape, chain, gbs: int, warnings: list[str],
            pins: dict | None = None):
    """The chain's layout (the fastest that fits, planner.compute.layout), or the fastest one matching `pins`."""
    if not pins:
        if chain.layout is None:
            result = search_layouts(model, rg.gpu, chain.estimate.num_gpus, global_batch_size=gbs,
                                    seq_length=goals.seq_len, gpus_per_node=rg.gpus_per_node,
                                    precision=rg.precision, top_k=0, step_model=rg.throughput.step_model)
            warnings.append(f"no parallel layout fits: {no_fit_message(result)}")
        return chain.layout
    space = SearchSpace(sequence_parallel=bool(pins.get("sequence_parallel", True)))
    result = search_layouts(model, rg.gpu, chain.estimate.num_gpus, global_batch_size=gbs, seq_length=goals.seq_len,
                            gpus_per_node=rg.gpus_per_node, precision=rg.precision, top_k=1000, space=space,
                            step_model=rg.throughput.step_model)
    if result.best is None:
        warnings.append(f"no parallel layout fits: {no_fit_message(result)}")
        return None
    # the search keeps one of each layout regardless of the optimizer flag, which with DP=1 changes nothing
    match = {k: v for k, v in pins.items() if k != "use_distributed_optimizer"}
    for candidate in [result.best, *(alt.plan for alt in result.alternatives)]:
        if all(getattr(candidate.layout, key) == value for key, value in match.items()):
            layout = candidate.layout.model_copy(update=pins)
            return candidate.model_copy(update={"layout": layout})
    raise PlanInputError("the pinned layout does not fit or does not divide the run",
                         [f"layout.{key}: {value}" for key, value in pins.items()])


def _recipe(goals: Goals, rg: ResolvedGoals, model: ModelShape, num_tokens: float, total_flops: float, gbs: int,
            warnings, layout=None):
    granularity = 1
    if layout is not None:  # a ramped batch must stay a multiple of micro-batch x data-parallel size
        granularity = layout.layout.micro_batch_size * layout.layout.data_parallel_size
    recipe = derive_recipe(model, num_tokens, total_flops, gbs, goals, gpu=rg.gpu,
                           schedule=goals.training.lr_schedule, batch_rampup=goals.training.batch_rampup,
                           batch_granularity=granularity)
    if recipe.precision != rg.precision and not (recipe.precision == "fp8"):
        warnings.append(f"recipe precision {recipe.precision} replaced by {rg.precision}: "
                        f"{rg.gpu.name} has no fast {recipe.precision}")
        recipe = recipe.model_copy(update={"precision": rg.precision})
    return recipe


def _reliability_assumptions(rg: ResolvedGoals, chain) -> list[Assumption]:
    """The checkpoint storage and failure rate of the chain's failure plan (planner.chain: Daly's
    model on the failure-free hours), as resolved (planner.resolve); none without a failure plan."""
    if chain.reliability is None:
        return []
    return [rg.assumption("checkpoint_storage"), rg.assumption("failures_per_gpu_hour")]


def _sizing_assumptions(rg: ResolvedGoals, binding: str) -> list[Assumption]:
    names = ["objective", "loss_fit", "tokens_per_param_rule", "inference_tokens"]
    return [Assumption(name="binding_constraint", value=binding, source="planner.derive.size_run",
                       used_for="model size and tokens"),
            *(rg.assumption(name) for name in names if rg.has(name))]


def _apply_pins(recipe, reliability, pins: dict) -> tuple:
    """Recipe and reliability values a preset pins (presets/pins.yaml), and the assumptions naming them."""
    recipe = recipe.model_copy(update=pins.get("recipe", {}))
    steps = pins.get("reliability", {}).get("checkpoint_interval_steps")
    if steps is not None and reliability is not None:
        per_step_s = reliability.checkpoint_interval_s / reliability.checkpoint_interval_steps
        reliability = reliability.model_copy(update={
            "checkpoint_interval_steps": steps, "checkpoint_interval_s": steps * per_step_s})
    notes = [Assumption(name=f"pinned.{section}.{key}", value=value, source=f"presets/pins.yaml: {pins.get('reason', '')}")
             for section in ("layout", "recipe", "reliability") for key, value in pins.get(section, {}).items()]
    return recipe, reliability, notes


def plan_warnings(goals: Goals, rg: ResolvedGoals, model: ModelShape, num_tokens: float, estimate) -> list[str]:
    """What a reader of the plan should know before trusting it."""
    warnings = []
    if goals.unique_tokens_available is not None:
        epochs_note = sizing.epochs_warning(num_tokens, goals.unique_tokens_available)
        warnings += [epochs_note] if epochs_note else []
    if model.num_params < 7e7:
        warnings.append(f"{model.num_params:,} parameters is below the smallest model of the loss fits "
                        "(~70M, Hoffmann et al. 2022): predicted_loss is an extrapolation")
    uniform = sizing.uniform_guess_loss(goals.vocab_size)
    if not sizing.beats_uniform_guess(estimate.predicted_loss, goals.vocab_size):
        warnings.append(f"predicted_loss {estimate.predicted_loss:.3g} nats is above ln(vocab_size) = {uniform:.3g}, "
                        "the loss of a uniform guess over the vocabulary: the loss law does not hold this far "
                        "outside its range; fit your own (`llmplan ladder`) and plan with --scaling-law")
    days = rg.run_days
    if goals.num_gpus is None and estimate.wallclock_days > days * 1.001:
        warnings.append(f"finishing in {days:g} days needs more than {rg.max_gpus:,} GPUs (the planner's cap); "
                        f"on {estimate.num_gpus:,} the run takes {estimate.wallclock_days:,.1f} days")
    if goals.data.tokenizer.vocab_size != goals.vocab_size:
        warnings.append(f"vocab_size ({goals.vocab_size}) differs from data.tokenizer.vocab_size "
                        f"({goals.data.tokenizer.vocab_size}); the model is sized for vocab_size")
    return warnings


def assemble_plan(goals: Goals, rg: ResolvedGoals, model: ModelShape, num_tokens: float, binding: str,
                  pins: dict | None = None, first: list[Assumption] | None = None) -> RunPlan:
    """Batch, layout, recipe, estimate, reliability and ranges around a sized model; `first` are
    assumptions the sizing adds ahead of the estimate's."""
    tokens = token_budget(goals, model, num_tokens)
    total_flops = flops.training_flops(model, num_tokens, goals.seq_len)
    gbs = choose_global_batch_size(total_flops, num_tokens, goals.seq_len)
    chain = estimate_chain(goals, rg, model, num_tokens, unique_tokens=goals.unique_tokens_available,
                           global_batch_size=gbs)
    warnings = plan_warnings(goals, rg, model, num_tokens, chain.estimate)
    pins = pins or {}
    layout = _layout(goals, rg, model, chain, gbs, warnings, pins.get("layout"))
    if layout is not None and layout is not chain.layout:  # a pinned layout: price that one
        chain = estimate_chain(goals, rg, model, num_tokens, unique_tokens=goals.unique_tokens_available,
                               global_batch_size=gbs, layout=layout)
    estimate = chain.estimate
    recipe = _recipe(goals, rg, model, num_tokens, total_flops, gbs, warnings, layout)
    reliability, pinned = chain.reliability, []
    if pins:
        recipe, reliability, pinned = _apply_pins(recipe, reliability, pins)
    assumptions = _ordered([*(first or []), *estimate_assumptions(rg, estimate), *_reliability_assumptions(rg, chain),
                            *pinned, *_sizing_assumptions(rg, binding)])
    plan = RunPlan(
        schema_version=SCHEMA_VERSION, name=goals.name, description=goals.description,
        llmplan_version=LLMPLAN_VERSION, goals=goals, binding_constraint=binding, model=model,
        tokens=tokens, estimate=estimate, layout=layout, recipe=recipe, reliability=reliability,
        data=goals.data, evaluation=goals.evaluation, assumptions=assumptions, warnings=warnings,
    )
    ranges = plan_ranges(plan, rg.residuals, rg.reliability)
    return apply_user_law(plan.model_copy(update={"ranges": ranges}))  # goals.scaling_law, if any


def _ordered(assumptions: list[Assumption]) -> list[Assumption]:
    """One assumption per name, the last one given for it, where it was last given."""
    last = {a.name: i for i, a in enumerate(assumptions)}
    return [a for i, a in enumerate(assumptions) if last[a.name] == i]


__all__ = ["Limit", "Sizing", "assemble_plan", "compute_limits", "derive_plan", "size_run", "token_budget"]


def plan_problems(plan: RunPlan) -> list[str]:
    """Arithmetic a valid plan must satisfy, as `field: message` lines (empty when consistent)."""
    problems = []
    exact = architecture.shape_params(plan.model)
    if exact != plan.model.num_params:
        problems.append(f"model.num_params: {plan.model.num_params:,} but the shape holds {exact:,}")
    e = plan.estimate
    expected = flops.model_flops_per_token(plan.model, plan.goals.seq_len) * plan.tokens.num_tokens
    if abs(e.model_flops / expected - 1) > 1e-6:
        problems.append(f"estimate.model_flops: {e.model_flops:.6g} but shape x tokens gives {expected:.6g}")
    if abs(e.gpu_hours / (e.wallclock_days * 24 * e.num_gpus) - 1) > 1e-6:
        problems.append(f"estimate.wallclock_days: {e.wallclock_days:.6g} x 24 x {e.num_gpus} GPUs != "
                        f"gpu_hours {e.gpu_hours:.6g}")
    if plan.layout is not None and plan.layout.layout.num_gpus != e.num_gpus:
        problems.append(f"layout: uses {plan.layout.layout.num_gpus} GPUs but estimate.num_gpus is {e.num_gpus}")
    trained = plan.recipe.train_steps * plan.recipe.global_batch_tokens
    if trained < plan.tokens.num_tokens * (1 - 1e-9):
        problems.append(f"recipe.train_steps: {plan.recipe.train_steps} steps x {plan.recipe.global_batch_tokens:,.0f} "
                        f"tokens < tokens.num_tokens {plan.tokens.num_tokens:,.0f}")
    return problems

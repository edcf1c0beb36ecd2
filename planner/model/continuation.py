"""Continued pretraining (goals.continue_from): a fixed shape and the tokens it has already seen.

The objective's token count for the checkpoint's N is a *total* (Hoffmann et al. 2022, Table 3: 20·N;
compute-optimal: D_opt(N) of eq. 4; inference-optimal: Sardana & Frankle 2024 eq. 2), of which
`tokens_seen` are already trained: this run trains D_total − tokens_seen, or what a budget buys when
that is less (planner.derive._size_continued). The predicted loss counts both: L(N, tokens_seen + D),
with the seen tokens taken as distinct from this run's data (unique += tokens_seen).
Pure functions: `llmplan plan --continue-from DIR` (executor.hf.shape) reads the checkpoint.
"""

from __future__ import annotations

from planner.model import architecture, sizing
from planner.errors import PlanInputError
from planner.schema import Goals, ModelShape, RunPlan
from planner.model.user_law import loss_fit

PARAMS_TOLERANCE = 0.02
"""target_params within 2% of the checkpoint's N agrees with it (derive_shape's own tolerance)."""


def fixed_shape(goals: Goals) -> ModelShape:
    """The checkpoint's shape at goals.seq_len; PlanInputError when it is missing, inconsistent, or
    target_params states another size."""
    cont = goals.continue_from
    if cont.shape is None:
        raise PlanInputError("continue_from needs the checkpoint's shape", [
            f"continue_from.shape: missing for {cont.checkpoint!r}; plan with `llmplan plan --continue-from DIR`, "
            "which reads it from the checkpoint's config"])
    exact = architecture.shape_params(cont.shape)
    if exact != cont.shape.num_params:
        raise PlanInputError("continue_from.shape is inconsistent", [
            f"continue_from.shape.num_params: {cont.shape.num_params:,} but the shape holds {exact:,}; "
            "take the shape from `llmplan plan --continue-from DIR`"])
    if goals.vocab_size != cont.shape.vocab_size:
        raise PlanInputError("vocab_size conflicts with the checkpoint's shape", [
            f"vocab_size: {goals.vocab_size:,}",
            f"continue_from.shape.vocab_size: {cont.shape.vocab_size:,}; a continued model keeps its vocabulary",
            "omit vocab_size (it follows the checkpoint)"])
    model = cont.shape.model_copy(update={"seq_length": goals.seq_len})
    model = model.model_copy(update={"num_params": architecture.shape_params(model)})
    if goals.target_params is not None and abs(goals.target_params / model.num_params - 1) > PARAMS_TOLERANCE:
        raise PlanInputError("target_params conflicts with the checkpoint's shape", [
            f"target_params: {goals.target_params:,.0f}",
            f"continue_from.shape.num_params: {model.num_params:,} ({cont.checkpoint}); continued pretraining keeps "
            "the shape",
            "drop target_params (--params), or start a new model without continue_from"])
    return model


def remaining_tokens(goals: Goals, model: ModelShape, total_tokens: float) -> float:
    """The objective's total minus tokens_seen; PlanInputError with the numbers when nothing is left."""
    seen = goals.continue_from.tokens_seen
    left = total_tokens - seen
    if left >= goals.seq_len:
        return left
    raise PlanInputError("the checkpoint has already seen the tokens the objective would train", [
        f"continue_from.tokens_seen: {seen:,.0f} tokens ({goals.continue_from.checkpoint})",
        f"objective {goals.objective}: {total_tokens:,.0f} tokens in all for {model.num_params:,} parameters "
        f"({total_tokens / model.num_params:.1f} per parameter); {max(left, 0):,.0f} left",
        "to train it further: objective fixed-size with a budget (--objective fixed-size --budget-usd / "
        "--budget-gpu-hours: tokens from the budget), or state the tokens of this run (--tokens)"])


def with_tokens_seen(plan: RunPlan) -> RunPlan:
    """The plan's predicted loss at L(N, tokens_seen + D) (unchanged for a plan without continue_from)."""
    cont = plan.goals.continue_from
    if cont is None or plan.estimate.predicted_loss is None:
        return plan
    unique = plan.goals.unique_tokens_available
    total = cont.tokens_seen + plan.tokens.num_tokens
    loss = sizing.predicted_loss(plan.model.num_params, total, None if unique is None else unique + cont.tokens_seen,
                                 loss_fit(plan.goals))
    return plan.model_copy(update={"estimate": plan.estimate.model_copy(update={"predicted_loss": loss})})


__all__ = ["fixed_shape", "remaining_tokens", "with_tokens_seen"]

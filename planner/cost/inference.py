"""Serving cost: FLOPs, GPU-hours and dollars of the tokens a model will serve, and the total cost of
ownership (training + serving).

- Forward FLOPs per token: C_forward = 2·N + 2·n_layer·n_ctx·d_attn (Kaplan et al. 2020, Table 1),
  N the non-embedding parameters plus the output layer (whose matmul every token pays), n_ctx the
  average context a served token attends to (ServingSpec.context_tokens, default seq_len / 2: a
  token generated at position t attends to t earlier ones), d_attn = hidden_size.
- Sardana & Frankle 2024 ("Beyond Chinchilla-Optimal: Accounting for Inference in Language Model
  Scaling Laws", eq. 2) count inference as 2·N·D_inf and size the model to minimise training plus
  serving FLOPs at a target loss; planner.model.sizing.inference_optimal_* implement that sizing and this
  module prices the serving side of it.
- GPU-hours = serving FLOPs / (peak FLOP/s x utilisation) / 3600; the utilisation is an assumption
  (ServingSpec.utilisation, default 0.3: Pope et al. 2022, "Efficiently Scaling Transformer
  Inference", reach 76% MFU in large-batch prefill and much less in decode), as is the price (the
  serving GPU preset's typical rental price unless stated). Serving energy is not counted.
"""

from __future__ import annotations

from planner.compute import throughput
from planner.schema import Assumption, Goals, GpuSpec, ModelShape, ServingEstimate
from planner.schema.catalog import Catalog


def serving_flops_per_token(model: ModelShape, context_tokens: int) -> float:
    """2·N + 2·n_layer·n_ctx·d_attn (Kaplan et al. 2020, Table 1), N without the input embedding."""
    input_embedding = model.vocab_size * model.hidden_size
    dense = model.num_params - input_embedding
    if model.tied_embeddings:  # the shared matrix is also the output layer
        dense += input_embedding
    return 2.0 * dense + 2.0 * model.num_layers * context_tokens * model.hidden_size


def context_for(goals: Goals) -> int:
    return goals.serving.context_tokens or max(1, goals.seq_len // 2)


def serving_estimate(goals: Goals, model: ModelShape, gpu: GpuSpec, precision: str,
                     training_cost_usd: float) -> ServingEstimate | None:
    """The serving section of a plan for goals.inference_tokens on `gpu` (None without inference)."""
    if goals.inference_tokens <= 0:
        return None
    spec, context = goals.serving, context_for(goals)
    per_token = serving_flops_per_token(model, context)
    total = per_token * goals.inference_tokens
    hours = total / (throughput.peak_flops(gpu, precision) * spec.utilisation) / 3600.0
    price = spec.price_per_gpu_hour_usd if spec.price_per_gpu_hour_usd is not None else gpu.price_per_hour_usd
    cost = hours * price
    tco = training_cost_usd + cost
    return ServingEstimate(
        inference_tokens=goals.inference_tokens, gpu=gpu.name, utilisation=spec.utilisation,
        context_tokens=context, flops_per_token=per_token, serving_flops=total, gpu_hours=hours,
        price_per_gpu_hour_usd=price, cost_usd=cost, training_cost_usd=training_cost_usd,
        total_cost_of_ownership_usd=tco, serving_share=cost / tco if tco > 0 else 0.0,
    )


def serving_assumptions(goals: Goals, estimate: ServingEstimate) -> list[tuple[str, object, str, str, str]]:
    """(name, value, unit, source, used_for) of each serving assumption, for RunPlan.assumptions."""
    spec = goals.serving
    return [
        ("serving_gpu", estimate.gpu, "", "goals.serving.gpu" if spec.gpu else "the training GPU (goals.serving.gpu unset)",
         "serving GPU-hours"),
        ("serving_utilisation", estimate.utilisation, "fraction", "goals.serving.utilisation (default 0.3: Pope et al. "
         "2022 report 76% MFU for large-batch prefill, far less for decode)", "serving GPU-hours"),
        ("serving_context_tokens", estimate.context_tokens, "tokens",
         "goals.serving.context_tokens" if spec.context_tokens else "seq_len / 2", "attention FLOPs per served token"),
        ("serving_price_per_gpu_hour_usd", estimate.price_per_gpu_hour_usd, "USD/GPU-hour",
         "goals.serving.price_per_gpu_hour_usd" if spec.price_per_gpu_hour_usd else "serving GPU preset typical price",
         "serving cost_usd"),
        ("serving_flops_rule", "2N + 2 n_layer n_ctx d_attn", "FLOPs/token",
         "Kaplan et al. 2020 Table 1; inference-aware sizing: Sardana & Frankle 2024 eq. 2", "serving_flops"),
    ]


def with_serving(plan, catalog: Catalog):
    """`plan` with its serving section and the serving assumptions (unchanged without inference tokens);
    the serving GPU is looked up in `catalog`."""
    goals = plan.goals
    if goals.inference_tokens <= 0:
        return plan
    gpu = catalog.gpu(goals.serving.gpu or goals.gpu, "serving.gpu")
    serving = serving_estimate(goals, plan.model, gpu, throughput.default_precision(gpu), plan.estimate.total_cost_usd)
    notes = [Assumption(name=n, value=v, unit=u, source=s, used_for=f) for n, v, u, s, f in serving_assumptions(goals, serving)]
    return plan.model_copy(update={"serving": serving, "assumptions": [*plan.assumptions, *notes]})

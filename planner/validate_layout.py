"""Check a plan's parallel layout: every Megatron divisibility rule and the memory fit.

Each problem is one `field: message` line naming the rule, the numbers and the nearest valid values,
e.g. `layout.layout.tensor_model_parallel_size: tensor_model_parallel_size (8) must divide
num_attention_heads (12); try 1, 2, 3, 4, 6 or 12`. `llmplan validate` prints them.
"""

from __future__ import annotations

from planner.memory import per_rank_memory, stage_num_layers
from planner.schema import ModelShape, ParallelLayout, RunPlan

FIELD = "layout.layout"
GIB = 1024**3


def _choices(values: list[int]) -> str:
    values = sorted(set(values))[:12]
    if len(values) == 1:
        return str(values[0])
    return ", ".join(str(v) for v in values[:-1]) + f" or {values[-1]}"


def _divisors(n: int) -> list[int]:
    return [k for k in range(1, n + 1) if n % k == 0]


def _tensor_rules(model: ModelShape, lay: ParallelLayout, gpus_per_node: int) -> list[str]:
    t, out = lay.tensor_model_parallel_size, []
    for name in ("num_attention_heads", "num_query_groups", "ffn_hidden_size"):
        value = getattr(model, name)
        if value % t:
            fits = [k for k in _divisors(value) if k <= max(gpus_per_node, t)] if value > 64 else _divisors(value)
            out.append(f"{FIELD}.tensor_model_parallel_size: tensor_model_parallel_size ({t}) must divide "
                       f"{name} ({value}); try {_choices(fits)}")
    if t > gpus_per_node or gpus_per_node % t:
        out.append(f"{FIELD}.tensor_model_parallel_size: tensor_model_parallel_size ({t}) must divide "
                   f"gpus_per_node ({gpus_per_node}) so TP groups stay inside a node; "
                   f"try {_choices(_divisors(gpus_per_node))}")
    if lay.sequence_parallel and t == 1:
        out.append(f"{FIELD}.sequence_parallel: sequence_parallel needs tensor_model_parallel_size > 1 (got 1); "
                   "set it to false")
    return out


def _pipeline_rules(model: ModelShape, lay: ParallelLayout) -> list[str]:
    p, v, L = lay.pipeline_model_parallel_size, lay.virtual_pipeline_model_parallel_size, model.num_layers
    out = []
    try:
        layers = stage_num_layers(L, lay)
    except ValueError as exc:
        fits = [k for k in _divisors(L) if k > 1 or p == 1]
        return [f"{FIELD}.pipeline_model_parallel_size: {exc}; try {_choices(fits)}"]
    if v > 1:
        if p == 1:
            out.append(f"{FIELD}.virtual_pipeline_model_parallel_size: virtual stages ({v}) need "
                       "pipeline_model_parallel_size > 1; set it to 1")
        slots = layers[1] if p > 2 else layers[0]
        if lay.num_layers_in_first_pipeline_stage is None and L % (p * v):
            out.append(f"{FIELD}.virtual_pipeline_model_parallel_size: pipeline_model_parallel_size x "
                       f"virtual stages ({p} x {v} = {p * v}) must divide num_layers ({L}); "
                       f"try virtual stages {_choices(_divisors(slots))}")
        m = lay.num_microbatches
        if m % p:
            out.append(f"{FIELD}.global_batch_size: the interleaved schedule needs num_microbatches ({m}) to be a "
                       f"multiple of pipeline_model_parallel_size ({p}); try global_batch_size "
                       f"{_nearest_multiples(lay.global_batch_size, lay.micro_batch_size * lay.data_parallel_size * p)}")
    return out


def _nearest_multiples(value: int, step: int) -> str:
    """The multiples of `step` nearest `value` (below and above), as "a or b"."""
    below = value // step * step
    if below == value:
        return str(value)
    return _choices([below, below + step] if below else [step])


def _size_rules(plan: RunPlan, lay: ParallelLayout) -> list[str]:
    out, model = [], plan.model
    num_gpus = plan.estimate.num_gpus
    t, p, cp, d = (lay.tensor_model_parallel_size, lay.pipeline_model_parallel_size,
                   lay.context_parallel_size, lay.data_parallel_size)
    if t * p * cp * d != num_gpus:
        rest = t * p * cp
        hint = (f"try data_parallel_size {num_gpus // rest}" if num_gpus % rest == 0 else
                f"try num_gpus {_nearest_multiples(num_gpus, rest)}")
        out.append(f"{FIELD}.data_parallel_size: tensor ({t}) x pipeline ({p}) x context ({cp}) x data ({d}) "
                   f"parallel sizes = {t * p * cp * d} GPUs but the plan has {num_gpus}; {hint}")
    if lay.global_batch_size % (lay.micro_batch_size * d):
        per_rank = lay.global_batch_size // d if lay.global_batch_size % d == 0 else 0
        micro = [b for b in _divisors(per_rank) if b <= 16] if per_rank else []
        hint = (f"try micro_batch_size {_choices(micro)} or " if micro else "try ") + \
            f"global_batch_size {_nearest_multiples(lay.global_batch_size, lay.micro_batch_size * d)}"
        out.append(f"{FIELD}.global_batch_size: micro_batch_size ({lay.micro_batch_size}) x data_parallel_size "
                   f"({d}) = {lay.micro_batch_size * d} must divide global_batch_size ({lay.global_batch_size}); {hint}")
    if cp > 1 and model.seq_length % (2 * cp):
        fits = [c for c in _divisors(model.seq_length // 2) if c <= 64]
        out.append(f"{FIELD}.context_parallel_size: 2 x context_parallel_size ({2 * cp}) must divide "
                   f"seq_length ({model.seq_length}); try {_choices(fits)}")
    tokens = lay.global_batch_size * model.seq_length
    if abs(tokens - plan.recipe.global_batch_tokens) > 0.5:
        out.append(f"{FIELD}.global_batch_size: {lay.global_batch_size} sequences x {model.seq_length} tokens = "
                   f"{tokens:,} tokens but recipe.global_batch_tokens is {plan.recipe.global_batch_tokens:,.0f}")
    return out


def _memory_rule(plan: RunPlan) -> list[str]:
    layout_plan = plan.layout
    lay, mem = layout_plan.layout, layout_plan.memory
    mem_now = per_rank_memory(plan.model, lay, precision=plan.recipe.precision, overhead_bytes=mem.overhead_bytes)
    usable = mem.capacity_bytes * (1 - mem.headroom_fraction)
    if mem_now.total_bytes <= usable:
        return []
    parts = (f"weights {mem_now.weights_bytes / GIB:.1f}, gradients {mem_now.gradients_bytes / GIB:.1f}, "
             f"optimizer {mem_now.optimizer_bytes / GIB:.1f}, activations {mem_now.activations_bytes / GIB:.1f}, "
             f"overhead {mem_now.overhead_bytes / GIB:.1f}")
    hints = []
    if lay.recompute != "full":
        hints.append("recompute full")
    if not lay.use_distributed_optimizer and lay.data_parallel_size > 1:
        hints.append("use_distributed_optimizer true")
    hints.append("a larger pipeline_model_parallel_size or tensor_model_parallel_size")
    hints.append("`llmplan layout` for the fastest layout that fits")
    return [f"layout.memory: the layout needs {mem_now.total_bytes / GIB:.1f} GiB per GPU ({parts}) on pipeline "
            f"stage {mem_now.pp_rank}, {(mem_now.total_bytes - usable) / GIB:.1f} GiB more than the "
            f"{usable / GIB:.1f} GiB usable ({mem.capacity_bytes / GIB:.0f} GiB less "
            f"{mem.headroom_fraction:.0%} headroom); try {', '.join(hints)}"]


def validate_plan_layout(plan: RunPlan) -> list[str]:
    """Problems of `plan.layout` as `field: message` lines; empty when the layout is valid and fits."""
    if plan.layout is None:
        return []
    lay = plan.layout.layout
    problems = _tensor_rules(plan.model, lay, plan.layout.gpus_per_node)
    problems += _pipeline_rules(plan.model, lay)
    problems += _size_rules(plan, lay)
    if problems:
        return problems
    return _memory_rule(plan)


def pinned_violations(model: ModelShape, num_gpus: int, gpus_per_node: int, global_batch_size: int, *,
                      tp: int | None = None, pp: int | None = None, cp: int | None = None,
                      vpp: int | None = None, mbs: int | None = None) -> list[str]:
    """Rules that the sizes a user pins (`llmplan layout --tp/--pp/--cp/--vpp/--mbs`) break on their
    own, before any search: each line names the option, the rule and the nearest valid values."""
    out = []
    if tp is not None:
        for name, value in (("num_gpus", num_gpus), ("gpus_per_node", gpus_per_node),
                            ("num_attention_heads", model.num_attention_heads),
                            ("num_query_groups", model.num_query_groups), ("ffn_hidden_size", model.ffn_hidden_size)):
            if value % tp:
                fits = [k for k in _divisors(value) if k <= gpus_per_node and num_gpus % k == 0]
                out.append(f"--tp: tensor_model_parallel_size ({tp}) must divide {name} ({value}); try {_choices(fits)}")
    tp_ok = tp if tp is not None and not out else 1
    if pp is not None:
        if num_gpus % (pp * tp_ok):
            fits = [k for k in _divisors(num_gpus // tp_ok) if k <= model.num_layers]
            out.append(f"--pp: pipeline_model_parallel_size ({pp}) x tensor ({tp_ok}) must divide num_gpus "
                       f"({num_gpus}); try {_choices(fits)}")
        elif pp > model.num_layers:
            out.append(f"--pp: pipeline_model_parallel_size ({pp}) exceeds num_layers ({model.num_layers}); "
                       f"try {_choices([k for k in _divisors(model.num_layers) if num_gpus % k == 0])}")
    if vpp is not None and vpp > 1:
        if (pp or 1) == 1:
            out.append(f"--vpp: virtual stages ({vpp}) need --pp > 1")
        elif model.num_layers % ((pp or 1) * vpp) and (model.num_layers + 2) % ((pp or 1) * vpp):
            per_stage = model.num_layers // (pp or 1)
            out.append(f"--vpp: pipeline ({pp}) x virtual stages ({vpp}) must divide num_layers ({model.num_layers}); "
                       f"try {_choices(_divisors(per_stage) if per_stage else [1])}")
    if cp is not None and cp > 1:
        if model.seq_length % (2 * cp):
            fits = [c for c in _divisors(model.seq_length // 2) if c <= 64]
            out.append(f"--cp: 2 x context_parallel_size ({2 * cp}) must divide seq_length ({model.seq_length}); "
                       f"try {_choices(fits)}")
        if num_gpus % (cp * (tp or 1) * (pp or 1)):
            out.append(f"--cp: context ({cp}) x tensor ({tp or 1}) x pipeline ({pp or 1}) parallel sizes must "
                       f"divide num_gpus ({num_gpus})")
    if None not in (tp, pp, cp) and not out:
        dp = num_gpus // (tp * pp * cp)
        step = (mbs or 1) * dp
        if global_batch_size % step:
            micro = [b for b in _divisors(global_batch_size // dp) if b <= 16] if global_batch_size % dp == 0 else []
            hint = (f"try --mbs {_choices(micro)} or " if micro and mbs else "try ") + \
                f"--global-batch-size {_nearest_multiples(global_batch_size, step)}"
            out.append(f"--global-batch-size: micro_batch_size ({mbs or 1}) x data_parallel_size ({dp}) = {step} "
                       f"must divide global_batch_size ({global_batch_size}); {hint}")
    return out

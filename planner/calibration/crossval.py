"""Fit the chain's coefficients on public ground truth and measure its error out of sample.

Two datasets (presets/, copied from ../shared/calibration and extended; docs/planner.md lists the rows):
- **throughput rows**: steady-state tokens/s per GPU with the parallel layout (Narayanan et al. 2021
  Table 1; Llama Team 2024 Table 4; torchtitan and Megatron-Bridge benchmark tables). They fit the
  step-time model's kernel efficiency per framework and its fp8 efficiency (planner.compute.step_time).
- **whole-run rows**: GPU-hours of whole published pretraining runs. Given the step-time model, they
  fit the operational efficiency per GPU generation (planner.compute.throughput.ThroughputModel).

Out of sample: every prediction in `cross_validate_*` comes from coefficients fitted without the
row's group: leave-one-group-out, a group being the rows that share a model family and a source
(torchtitan's six Llama-3-8B rows, Llama 2's four sizes, ...). A framework or GPU generation left
with no rows falls back to the Megatron-Core kernel efficiency or the pooled operational efficiency,
as a plan for an unseen setting would.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass, field, replace

from planner.model.architecture import derive_shape, make_shape
from planner.chain import estimate_chain
from planner.compute.cluster import cluster_from_gpu
from planner.model.flops import model_flops_per_token
from planner.compute.layout import SearchSpace, search_layouts
from planner.compute.memory import per_rank_memory
from planner.cost.reliability import Z90
from planner.resolve import resolve
from planner.schema import Goals, GpuSpec, ModelShape, ParallelLayout
from planner.schema.catalog import Catalog
from planner.compute.throughput import ThroughputModel
from planner.cost.uncertainty import Residuals
from planner.compute.step_time import DEFAULT_STEP_MODEL, MEGATRON_2021, StepTimeModel, step_time

MEGATRON_CORE = "Megatron-Core"
"""The framework a plan is timed for (llmplan's trainer): Megatron-Bridge's rows measure it."""
FRAMEWORKS = {"Megatron-Bridge": MEGATRON_CORE, "torchtitan": "torchtitan", "Narayanan": "Megatron-LM 2021",
              "Llama Team": "Llama 3 (Meta)"}
EXCLUDED_THROUGHPUT = {
    "Llama-3-405B-16384gpu-cp16": "131k-token context: the source's FLOP convention for long-context "
                                  "attention is not stated (a 25% swing at this length)",
}
"""Throughput rows not used, with the reason (rows whose layout the source does not state are skipped too)."""


@dataclass(frozen=True)
class ThroughputRow:
    name: str
    group: str
    framework: str
    model: ModelShape
    gpu: GpuSpec
    num_gpus: int
    precision: str
    global_batch_size: int
    pins: dict
    reported_tokens_per_s_per_gpu: float
    source: str


def _int(value: str, default: int | None = None) -> int | None:
    value = (value or "").strip()
    return int(float(value)) if value else default


def _framework(source: str, framework: str = "") -> str:
    for key, name in FRAMEWORKS.items():
        if (framework or source).startswith(key) or key in framework:
            return name
    return framework or source


def throughput_rows(catalog: Catalog) -> list[ThroughputRow]:
    """The throughput rows with a stated layout (see the module docstring): the kind=throughput rows
    of the published runs, then the throughput benchmarks, from the catalog."""
    find_gpu, find_model = catalog.gpu, catalog.model
    rows = []
    for r in catalog.published_runs:
        if r["kind"] != "throughput" or r["name"] in EXCLUDED_THROUGHPUT:
            continue
        notes, gpu = r["notes"], find_gpu(r["gpu"])
        layout = re.search(r"TP(\d+) PP(\d+)(?: CP(\d+))?", notes)
        if not layout or not r["n_gpus"]:
            continue
        tp, pp, cp = int(layout[1]), int(layout[2]), int(layout[3] or 1)
        seq = int(r["seq_len"])
        if r["source"].startswith("Narayanan"):
            def num(key: str) -> int:
                return int(re.search(key + r" (\d+)", notes).group(1))
            h, L, heads, vocab = num("hidden"), num("layers"), num("heads"), num("vocab")
            model = make_shape(num_layers=L, hidden_size=h, num_attention_heads=heads, num_query_groups=heads,
                               ffn_hidden_size=4 * h, vocab_size=vocab, seq_length=seq, activation="gelu",
                               position_embedding="learned", normalization="LayerNorm", tied_embeddings=True,
                               add_bias_linear=True)
            gbs = num("batch")
            # Narayanan eq. 3 counts hardware FLOPs with full recompute: 96 B s L h^2 (1 + s/6h + V/16Lh)
            eq3 = 96 * gbs * seq * L * h * h * (1 + seq / (6 * h) + vocab / (16 * L * h))
            reported = float(r["tflops_per_gpu"]) * 1e12 * int(r["n_gpus"]) / eq3 * gbs * seq / int(r["n_gpus"])
            pins = dict(tp=tp, pp=pp, cp=1, vpp=1, recompute="full", sequence_parallel=False,
                        distributed_optimizer=False)
            group = r["name"]
        else:
            model = find_model("Llama-3-405B").model_copy(update={"seq_length": seq})
            tokens_per_batch = 16 * 1024 * 1024
            gbs = tokens_per_batch // seq
            reported = float(r["mfu"]) * gpu.peak_bf16_flops / model_flops_per_token(model)
            pins = dict(tp=tp, pp=pp, cp=cp)
            group = "Llama-3-405B (Llama Team 2024)"
        rows.append(ThroughputRow(r["name"], group, _framework(r["source"]), model, gpu, int(r["n_gpus"]),
                                  "bf16", gbs, pins, reported, r["source"]))
    for r in catalog.throughput_benchmarks:
        framework = _framework(r["source"], r["framework"])
        model = find_model(r["model"]).model_copy(update={"seq_length": int(r["seq_len"])})
        tp, pp, cp = _int(r["tp"], 1), _int(r["pp"], 1), _int(r["cp"], 1)
        gbs, mbs = int(r["global_batch_size"]), int(r["micro_batch_size"])
        dp = int(r["n_gpus"]) // (tp * pp * cp)
        if framework == "torchtitan" and pp > 1:
            # torchtitan (2024-12) splits each rank's local batch into as many micro-batches as stages
            mbs = max(1, gbs // dp // pp)
        pins = dict(tp=tp, pp=pp, cp=cp, mbs=mbs)
        if r["vpp"]:
            pins["vpp"] = int(r["vpp"])
        elif "1F1B schedule" in r["notes"] and "interleaved" not in r["notes"]:
            pins["vpp"] = 1  # plain 1F1B: no virtual stages
        if r["recompute"]:
            pins["recompute"] = r["recompute"]
        rows.append(ThroughputRow(r["name"], f"{r['model']} ({framework})", framework, model,
                                  find_gpu(r["gpu"]), int(r["n_gpus"]), r["precision"], gbs, pins,
                                  float(r["tokens_per_s_per_gpu"]), r["source"]))
    return rows


def overlaps_for(framework: str) -> StepTimeModel:
    """The communication overlap of the framework: none for the software of 2021 (MEGATRON_2021)."""
    return MEGATRON_2021 if framework == "Megatron-LM 2021" else DEFAULT_STEP_MODEL


_LAYOUTS: dict[str, ParallelLayout] = {}
_PARAMS: dict[str, int] = {}


def resolved_layout(row: ThroughputRow) -> ParallelLayout:
    """The row's layout (cached by row name)"""
    if row.name not in _LAYOUTS:
        _LAYOUTS[row.name] = _resolve_layout(row)
    return _LAYOUTS[row.name]


def _resolve_layout(row: ThroughputRow) -> ParallelLayout:
    """The row's layout: exactly as stated, the unstated parts (micro-batch, virtual stages,
    recompute) chosen by the layout search with the default step model, once. An unstated recompute
    is chosen too. Rows run with FSDP are searched under the distributed optimizer's memory (ZeRO-1),
    as llmplan's trainer would run them."""
    p = row.pins
    space = SearchSpace(tensor_parallel_sizes=(p["tp"],), pipeline_parallel_sizes=(p["pp"],),
                        context_parallel_sizes=(p.get("cp", 1),),
                        virtual_stage_counts=(p["vpp"],) if "vpp" in p else None,
                        micro_batch_sizes=(p["mbs"],) if "mbs" in p else SearchSpace.micro_batch_sizes,
                        recompute_modes=(p["recompute"],) if "recompute" in p else SearchSpace.recompute_modes,
                        distributed_optimizer=(p.get("distributed_optimizer", True),),
                        sequence_parallel=p.get("sequence_parallel", True), max_context_parallel=64)
    found = search_layouts(row.model, row.gpu, row.num_gpus, global_batch_size=row.global_batch_size,
                           seq_length=row.model.seq_length, gpus_per_node=row.gpu.gpus_per_node,
                           precision=row.precision, top_k=0, space=space,
                           step_model=overlaps_for(row.framework)).best
    if found is not None:
        return found.layout
    # it ran, so it fit: the framework shards more than the distributed optimizer (FSDP); time it as stated
    t, pp, cp = p["tp"], p["pp"], p.get("cp", 1)
    L, v = row.model.num_layers, p.get("vpp", 1)
    first = last = None
    if L % (pp * v):
        first = last = (L + 2) // pp - 1
    return ParallelLayout(tensor_model_parallel_size=t, pipeline_model_parallel_size=pp,
                          virtual_pipeline_model_parallel_size=v, context_parallel_size=cp,
                          data_parallel_size=row.num_gpus // (t * pp * cp), micro_batch_size=p.get("mbs", 1),
                          global_batch_size=row.global_batch_size, recompute=p.get("recompute", "full"),
                          sequence_parallel=t > 1, use_distributed_optimizer=True,
                          num_layers_in_first_pipeline_stage=first, num_layers_in_last_pipeline_stage=last)


def _params_per_gpu(row: ThroughputRow) -> int:
    if row.name not in _PARAMS:
        _PARAMS[row.name] = per_rank_memory(row.model, resolved_layout(row), precision=row.precision).num_parameters
    return _PARAMS[row.name]


def predict_tokens_per_s(row: ThroughputRow, step_model: StepTimeModel) -> float:
    """Steady-state tokens/s per GPU of the row's layout under `step_model` (planner.compute.step_time)."""
    layout = resolved_layout(row)
    timing = step_time(row.model, layout, row.gpu, cluster_from_gpu(row.gpu), precision=row.precision,
                       params_per_gpu=_params_per_gpu(row), step_model=step_model)
    return layout.global_batch_size * row.model.seq_length / timing.step_time_s / row.num_gpus


@dataclass(frozen=True)
class StepFit:
    """Kernel efficiency per framework and the fp8 efficiency (planner.compute.step_time.StepTimeModel)."""

    kernel_efficiency: dict[str, float]
    fp8_efficiency: float
    dp_overlap_fraction: float = DEFAULT_STEP_MODEL.dp_overlap_fraction
    """Share of data-parallel traffic hidden under compute by today's frameworks (the software of
    2021 had none: MEGATRON_2021)."""

    def step_model(self, framework: str = MEGATRON_CORE) -> StepTimeModel:
        ke = self.kernel_efficiency.get(framework, self.kernel_efficiency.get(MEGATRON_CORE, 0.65))
        base = overlaps_for(framework)
        if base is not MEGATRON_2021:
            base = replace(base, dp_overlap_fraction=self.dp_overlap_fraction)
        return replace(base, kernel_efficiency=ke, fp8_efficiency=self.fp8_efficiency)


OWN_EFFICIENCY = {"torchtitan"}
"""Frameworks with a kernel efficiency of their own: torchtitan's table ran on 96 GB H100s capped at
500 W (../shared/calibration/README.md), slower hardware than any preset. Every other row shares
one kernel efficiency: Megatron-LM, Megatron-Core and Meta's Llama 3 stack run the same cuBLAS and
flash-attention kernels."""


def fit_step_model(rows: list[ThroughputRow], fit_dp_overlap: bool = False) -> StepFit:
    """Least squares on log tokens/s (scipy.optimize.least_squares): one shared kernel efficiency
    (plus one per framework in OWN_EFFICIENCY present in `rows`) and one fp8 efficiency (identified
    by frameworks with both bf16 and fp8 rows; the prior 0.75 holds otherwise)."""
    import numpy as np  # deferred: numpy and scipy cost ~0.3 s, paid only by `llmplan calibrate`
    from scipy.optimize import least_squares  # deferred: as numpy

    own = sorted({r.framework for r in rows} & OWN_EFFICIENCY)
    keys = [MEGATRON_CORE, *own]
    has_fp8 = any(r.precision == "fp8" for r in rows) and any(
        r.precision != "fp8" and r.framework in {x.framework for x in rows if x.precision == "fp8"} for r in rows)

    def unpack(x) -> StepFit:
        kes = {f: 1 / (1 + math.exp(-x[i])) for i, f in enumerate(keys)}
        fp8 = 1 / (1 + math.exp(-x[len(keys)])) if has_fp8 else 0.75
        dp = 1 / (1 + math.exp(-x[-1])) if fit_dp_overlap else DEFAULT_STEP_MODEL.dp_overlap_fraction
        return StepFit(kes, fp8, dp)

    def residuals(x):
        fit = unpack(x)
        return np.array([math.log(predict_tokens_per_s(r, fit.step_model(r.framework)) / r.reported_tokens_per_s_per_gpu)
                         for r in rows])

    x0 = [0.6] * len(keys) + ([1.1] if has_fp8 else []) + ([0.0] if fit_dp_overlap else [])
    result = least_squares(residuals, x0, diff_step=1e-3, xtol=1e-6, ftol=1e-8)
    fit = unpack(result.x)
    return StepFit({k: round(v, 4) for k, v in fit.kernel_efficiency.items()}, round(fit.fp8_efficiency, 4),
                   round(fit.dp_overlap_fraction, 4))


def cross_validate_throughput(rows: list[ThroughputRow]) -> list[dict]:
    """Each row predicted by the step model fitted without its group (leave-one-group-out)."""
    out = []
    for group in sorted({r.group for r in rows}):
        held = [r for r in rows if r.group == group]
        fit = fit_step_model([r for r in rows if r.group != group])
        for r in held:
            predicted = predict_tokens_per_s(r, fit.step_model(r.framework))
            out.append({"name": r.name, "group": group, "framework": r.framework, "gpu": r.gpu.name,
                        "precision": r.precision, "layout": _layout_text(resolved_layout(r)),
                        "predicted": predicted, "reported": r.reported_tokens_per_s_per_gpu,
                        "error": predicted / r.reported_tokens_per_s_per_gpu - 1,
                        "framework_seen": r.framework not in OWN_EFFICIENCY or r.framework in fit.kernel_efficiency})
    return sorted(out, key=lambda d: [r.name for r in rows].index(d["name"]))


def _layout_text(lay: ParallelLayout) -> str:
    return (f"TP{lay.tensor_model_parallel_size} PP{lay.pipeline_model_parallel_size}"
            f"{f' VPP{lay.virtual_pipeline_model_parallel_size}' if lay.virtual_pipeline_model_parallel_size > 1 else ''}"
            f" CP{lay.context_parallel_size} DP{lay.data_parallel_size} mbs{lay.micro_batch_size} {lay.recompute}")


def add_ranges(rows: list[dict], key: str = "group") -> dict:
    """p10-p90 of each row from the log residuals of the *other* groups' out-of-sample predictions
    (mean and sample spread, widened for a new run by Student's t: planner.cost.uncertainty), the
    in-range flag, and the summary: median |error|, coverage, sigma over all rows."""
    logs = {id(r): math.log(r["reported"] / r["predicted"]) for r in rows}
    for r in rows:
        others = [logs[id(o)] for o in rows if o[key] != r[key]]
        res = Residuals(statistics.fmean(others), statistics.stdev(others), len(others), "")
        s = res.sigma * res.prediction_factor
        r["p10"] = r["predicted"] * math.exp(res.mu - Z90 * s)
        r["p90"] = r["predicted"] * math.exp(res.mu + Z90 * s)
        r["in_range"] = r["p10"] <= r["reported"] <= r["p90"]
    all_logs = list(logs.values())
    return {"n": len(rows), "median_abs_error": statistics.median(abs(r["error"]) for r in rows),
            "coverage": sum(r["in_range"] for r in rows) / len(rows),
            "mu": statistics.fmean(all_logs), "sigma": statistics.stdev(all_logs)}


@dataclass
class RunRow:
    name: str
    family: str
    gpu: str
    params: float
    tokens: float
    seq_len: int
    num_gpus: int | None
    global_batch_tokens: float | None
    reported_gpu_hours: float
    pue: float
    extra: dict = field(default_factory=dict)


RUN_BATCH_TOKENS = {
    **dict.fromkeys(("LLaMA-7B", "LLaMA-13B", "LLaMA-33B", "LLaMA-65B"), 4 * 1024**2),  # Touvron 2023a, Table 2: 4M
    **dict.fromkeys(("Llama-2-7B", "Llama-2-13B", "Llama-2-34B", "Llama-2-70B"), 4 * 1024**2),  # Touvron 2023b, §2.2: 4M
    "BLOOM-176B": 2048 * 2048,  # BigScience 2022, Table 3: 2048 sequences of 2048
    "GPT-3-175B": 1536 * 2048,  # Brown et al. 2020, Table 2.1: 3.2M tokens
    **dict.fromkeys(("Pythia-70M", "Pythia-410M", "Pythia-1.4B", "Pythia-6.9B"), 1024 * 2048),  # Biderman 2023: 2M
    "DeepSeek-LLM-67B": 4608 * 4096,  # DeepSeek-AI 2024 (arXiv 2401.02954), Table 2: batch 4608
}
"""Global batch (tokens) of the shared file's runs, from their papers; the added rows carry theirs."""


def run_rows(catalog: Catalog) -> list[RunRow]:
    """The kind=run rows with reported GPU-hours (or days x GPUs) of both published-run tables."""
    return _run_rows(catalog.published_runs) + _run_rows(catalog.published_runs_added)


def _run_rows(rows) -> list[RunRow]:
    out = []
    for r in rows:
        if r["kind"] != "run":
            continue
        hours = _float(r["gpu_hours"])
        if hours is None and _float(r["wallclock_days"]) and _float(r["n_gpus"]):
            hours = _float(r["wallclock_days"]) * 24 * _float(r["n_gpus"])
        if hours is None:
            continue
        out.append(RunRow(r["name"], r["name"].rsplit("-", 1)[0], r["gpu"], float(r["params"]), float(r["tokens"]),
                          int(r["seq_len"]), _int(r["n_gpus"]),
                          _float(r.get("global_batch_tokens", "")) or RUN_BATCH_TOKENS.get(r["name"]), hours,
                          _float(r["pue"]) or 1.1, {"source": r["source"]}))
    return out


def _float(value: str | None) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def predict_run(row: RunRow, throughput_model, catalog: Catalog):
    """The chain's estimate (planner.chain.estimate_chain) of a published run from scratch: its
    reference shape (presets/models.yaml) or a derived one, tokens, sequence length, GPU, the GPU
    count and batch when the source states them (else the planner's choice)."""
    goals = Goals(name="calibration", gpu=row.gpu, seq_len=row.seq_len, num_gpus=row.num_gpus, pue=row.pue)
    rg = replace(resolve(goals, catalog), throughput=throughput_model)
    key = RUN_SHAPES.get(row.name, row.name)
    model = catalog.model_shapes().get(key) or derive_shape(row.params, vocab_size=32000, seq_length=row.seq_len)
    gbs = round(row.global_batch_tokens / row.seq_len) if row.global_batch_tokens else None
    return published_run_chain(goals, rg, model, row.tokens, gbs), rg.gpu


def published_run_chain(goals, rg, model: ModelShape, tokens: float, global_batch_size: int | None):
    """planner.chain.estimate_chain for a published run. When no layout divides the stated GPU count
    exactly (GPT-3's "10,000 V100s" is Patterson's round figure), the run is timed on the largest
    power-of-two number of nodes within it: GPU-hours depend on the count only through the
    layout's efficiency."""
    chain = estimate_chain(goals, rg, model, tokens, global_batch_size=global_batch_size)
    if chain.layout is None and goals.num_gpus:
        nodes = 2 ** int(math.log2(goals.num_gpus / rg.gpus_per_node))
        chain = estimate_chain(goals.model_copy(update={"num_gpus": nodes * rg.gpus_per_node}), rg, model, tokens,
                               global_batch_size=global_batch_size)
    return chain


RUN_SHAPES = {"OLMo-7B-Twin-2T": "OLMo-7B", "Llama-3.1-8B": "Llama-3-8B", "Llama-3.1-70B": "Llama-3-70B",
              "Llama-3.1-405B": "Llama-3-405B"}
"""Runs whose reference shape is listed under another name in presets/models.yaml."""


PRIOR_FAMILIES = 1.0
"""Weight, in families, of the pooled efficiency in each generation's estimate (shrinkage)."""


def fit_operational_efficiency(rows: list[RunRow], throughput_model, catalog: Catalog) -> tuple[dict[str, float], float]:
    """(operational efficiency per GPU generation, pooled), in log space:

    - each run gives r = log(predicted-at-efficiency-1 / reported GPU-hours) (GPU-hours scale as
      1/efficiency); each model family counts once, by the median of its runs' r (one team's
      infrastructure; the median so one odd size does not move it), so a family with four sizes
      does not outvote one with one;
    - pooled = the mean over all families (each family an independent draw of how efficiently a
      team operates, averaged in log space: a geometric mean);
    - a generation with k families: (k x mean of its families + PRIOR_FAMILIES x pooled) / (k +
      PRIOR_FAMILIES), the pooled value shrinking a generation seen through few families (James &
      Stein's idea). docs/planner.md lists the out-of-sample error of the other choices.
    Two passes, since the fleet the planner picks for a run without a stated GPU count depends on
    the efficiency."""
    model = throughput_model
    for _ in range(2):
        families: dict[tuple[str, str], list[float]] = {}
        for row in rows:
            chain, gpu = predict_run(row, model, catalog)
            eta, _ = model.operational_efficiency_for(gpu)
            families.setdefault((gpu.generation, row.family), []).append(
                math.log(chain.estimate.gpu_hours * eta / row.reported_gpu_hours))
        medians = {key: statistics.median(v) for key, v in families.items()}
        pooled = statistics.fmean(medians.values())
        per_gen = {}
        for gen in sorted({g for g, _ in medians}):
            own = [v for (g, _), v in medians.items() if g == gen]
            per_gen[gen] = (len(own) * statistics.fmean(own) + PRIOR_FAMILIES * pooled) / (len(own) + PRIOR_FAMILIES)
        model = replace(model, operational_efficiency={g: min(1.0, math.exp(v)) for g, v in per_gen.items()},
                        pooled_operational_efficiency=min(1.0, math.exp(pooled)))
    return ({g: round(v, 4) for g, v in model.operational_efficiency.items()},
            round(model.pooled_operational_efficiency, 4))


def cross_validate_runs(rows: list[RunRow], throughput_model, catalog: Catalog) -> list[dict]:
    """Each run predicted with the operational efficiencies fitted without its family."""
    out = []
    for family in sorted({r.family for r in rows}):
        per_gen, pooled = fit_operational_efficiency([r for r in rows if r.family != family], throughput_model, catalog)
        model = replace(throughput_model, operational_efficiency=per_gen, pooled_operational_efficiency=pooled)
        for row in (r for r in rows if r.family == family):
            chain, gpu = predict_run(row, model, catalog)
            e = chain.estimate
            out.append({"name": row.name, "group": family, "gpu": gpu.name, "generation": gpu.generation,
                        "num_gpus": e.num_gpus, "step_mfu": e.step_mfu, "end_to_end_mfu": e.end_to_end_mfu,
                        "generation_seen": gpu.generation in per_gen,
                        "predicted": e.gpu_hours, "reported": row.reported_gpu_hours,
                        "error": e.gpu_hours / row.reported_gpu_hours - 1})
    order = [r.name for r in rows]
    return sorted(out, key=lambda d: order.index(d["name"]))


def fit_all(catalog: Catalog) -> dict:
    """The coefficients `llmplan calibrate --fit` prints (presets/mfu_model.yaml holds them):
    the step model on every throughput row, then the operational efficiencies on every whole run."""
    step = fit_step_model(throughput_rows(catalog))
    base = replace(ThroughputModel.from_preset(catalog.mfu_model), step_model=step.step_model())
    per_gen, pooled = fit_operational_efficiency(run_rows(catalog), base, catalog)
    return {"step_model": {"kernel_efficiency": step.kernel_efficiency[MEGATRON_CORE],
                           "fp8_efficiency": step.fp8_efficiency},
            "framework_kernel_efficiency": {k: v for k, v in step.kernel_efficiency.items() if k != MEGATRON_CORE},
            "operational_efficiency": {"pooled": pooled, **dict(sorted(per_gen.items()))}}


def cross_validation(catalog: Catalog) -> dict:
    """Leave-one-group-out predictions of every throughput row and every whole run, with p10-p90
    ranges from the other groups' residuals and the summaries (`llmplan calibrate --cv`)."""
    tp = cross_validate_throughput(throughput_rows(catalog))
    tp_summary = add_ranges(tp)
    runs = cross_validation_of_runs(catalog)
    runs_summary = add_ranges(runs)
    return {"throughput": {"rows": tp, "summary": tp_summary, "excluded": EXCLUDED_THROUGHPUT},
            "runs": {"rows": runs, "summary": runs_summary}}


def cv_markdown(result: dict) -> str:
    """The tables of docs/planner.md's cross-validation section (a test regenerates and compares)."""
    def pct(x: float) -> str:
        return f"{x:+.1%}"

    tp, runs = result["throughput"], result["runs"]
    s1, s2 = tp["summary"], runs["summary"]
    lines = [
        f"Throughput rows (steady-state tokens/s per GPU), leave-one-group-out: median |error| "
        f"{s1['median_abs_error']:.1%} over {s1['n']} rows; p10-p90 coverage {s1['coverage']:.0%}.", "",
        "| row | framework | GPU | precision | layout | predicted | reported | error | in p10-p90 |",
        "|---|---|---|---|---|---:|---:|---:|---|",
    ]
    for r in tp["rows"]:
        lines.append(f"| {r['name']} | {r['framework']} | {r['gpu']} | {r['precision']} | {r['layout']} | "
                     f"{r['predicted']:,.0f} | {r['reported']:,.0f} | {pct(r['error'])} | {'yes' if r['in_range'] else 'no'} |")
    lines += ["", "Not used: " + "; ".join(f"{k} ({v})" for k, v in tp["excluded"].items()) + ".", "",
              f"Whole runs (GPU-hours) through the chain (planner.chain), leave-one-family-out: median |error| "
              f"{s2['median_abs_error']:.1%} over {s2['n']} runs; p10-p90 coverage {s2['coverage']:.0%}.", "",
              "| run | GPU | GPUs | step MFU | end-to-end MFU | predicted GPU-h | reported GPU-h | error | in p10-p90 |",
              "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in runs["rows"]:
        lines.append(f"| {r['name']} | {r['gpu']} | {r['num_gpus']:,} | {r['step_mfu']:.1%} | {r['end_to_end_mfu']:.1%} | "
                     f"{r['predicted']:,.0f} | {r['reported']:,.0f} | {pct(r['error'])} | {'yes' if r['in_range'] else 'no'} |")
    return "\n".join(lines) + "\n"


def cross_validation_of_runs(catalog: Catalog) -> list[dict]:
    """The chain's leave-one-family-out predictions of every whole run (planner.calibration.calibrate's residuals)."""
    return cross_validate_runs(run_rows(catalog), ThroughputModel.from_preset(catalog.mfu_model), catalog)

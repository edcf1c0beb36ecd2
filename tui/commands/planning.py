"""Planning commands: plan, estimate, validate, show, export, schema, presets, calibrate.

pandas (the `presets` and `calibrate` tables) is imported inside the functions that print a table;
everything else here is light (click, pydantic, yaml, the planner, presets and the executor's
renderers), so `llmplan estimate` answers in well under half a second (benchmarks/bench_estimate.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

import presets
from executor.hf.shape import continue_from, tokenizer_spec
from planner.calibration.calibrate import calibration_table, fit_mfu_model, residuals_yaml, summary
from planner.calibration.crossval import cross_validation, cv_markdown, fit_all
from planner.compute.layout import validate_plan_layout
from planner.cost.risk import feasibility_problems
from planner.cost.uncertainty import estimate_ranges
from planner.derive import derive_plan, plan_problems
from planner.errors import PlanInputError
from planner.estimate import estimate_run
from planner.io import atomic_write_text, read_goals, read_plan, to_yaml, validate_as, write_model
from planner.model.architecture import derive_shape
from planner.model.data_sources import goals_with_sources
from planner.reports.report_basic import render_text
from planner.reports.schema_export import schema_texts
from planner.resolve import resolve
from planner.schema import Goals, TrainingSpec
from planner.units import format_count, format_scientific
from presets import find_gpu, load_catalog
from presets.loader import read_csv
from tui.cli_numbers import COUNT, NUMBER, Number, parse_count, schema_choice
from tui.commands.ladder_law import read_scaling_law
from tui.commands.planning_presets import calibration_text, preset_rows
from tui.exporters import EXPORTERS



def _goals_from_flags(base: dict, flags: dict, source: str):
    data = dict(base)
    training = {k: v for k, v in flags.pop("training", {}).items() if v is not None}
    data.update({k: v for k, v in flags.items() if v is not None})
    if training:
        data["training"] = {**data.get("training", {}), **training}
    return validate_as(Goals, data, source)


def _flag_goals(params, tokens, **flags) -> dict:
    out = dict(flags)
    out["target_params"] = parse_count(params, "--params") if params is not None else None
    out["target_tokens"] = parse_count(tokens, "--tokens") if tokens is not None else None
    return out


def _echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2))


def _scaling_law(ctx, param, value):  # noqa: ARG001 - click callback: fit.json -> goals.scaling_law data
    return None if value is None else read_scaling_law(value).model_dump(mode="json")


@click.command()
@click.option("--goals", "goals_file", type=click.Path(dir_okay=False), help="Goals file (YAML or JSON).")
@click.option("--preset", help="Goals preset: default, tiny-cpu.")
@click.option("--params", type=Number("target_params"), help="Model parameters (7e9, 7B).")
@click.option("--tokens", type=Number("target_tokens"), help="Training tokens (2e12, 2T).")
@click.option("--objective", type=schema_choice(Goals, "objective"))
@click.option("--budget-usd", type=Number("budget_usd"))
@click.option("--budget-gpu-hours", type=Number("budget_gpu_hours"))
@click.option("--deadline-days", type=Number("deadline_days"))
@click.option("--gpu", help="GPU name or alias (see `llmplan presets gpus`).")
@click.option("--gpus", "num_gpus", type=COUNT)
@click.option("--gpus-per-node", type=COUNT, help="Default: the GPU preset's node size.")
@click.option("--seq-len", type=COUNT)
@click.option("--unique-tokens", type=Number("unique_tokens_available"), help="Unique tokens in the corpus (1e12, 1T).")
@click.option("--inference-tokens", type=Number("inference_tokens"), help="Tokens to be served over the model's life.")
@click.option("--price", "price_per_gpu_hour_usd", type=Number("price_per_gpu_hour_usd"), help="USD per GPU-hour.")
@click.option("--ownership", type=schema_choice(Goals, "ownership"))
@click.option("--purchase", "gpu_purchase_usd", type=Number("gpu_purchase_usd"), help="Owned GPUs: USD per GPU incl. its server share.")
@click.option("--region")
@click.option("--name")
@click.option("--lr-schedule", type=schema_choice(TrainingSpec, "lr_schedule"), help="goals.training.lr_schedule (default cosine).")
@click.option("--batch-rampup/--no-batch-rampup", default=None, help="goals.training.batch_rampup: ramp the batch up (GPT-3).")
@click.option("--checkpoint-storage", help="goals.training.checkpoint_storage: a storage preset (presets/reliability.yaml).")
@click.option("--failure-model", help="goals.training.failure_model: a failure-rate preset (presets/reliability.yaml).")
@click.option("--failures-per-gpu-hour", type=NUMBER, help="goals.training.failures_per_gpu_hour: override the rate.")
@click.option("--confidence", type=schema_choice(Goals, "confidence"),
              help="goals.confidence: quantile at which budget and deadline must hold, failures included (default p80).")
@click.option("--allow-infeasible", is_flag=True, default=None,
              help="Keep a plan that cannot run (no layout fits, too long), marked infeasible; approve refuses it.")
@click.option("--serving-gpu", help="goals.serving.gpu: GPU that serves --inference-tokens (default: the training GPU).")
@click.option("--serving-utilisation", type=float, help="goals.serving.utilisation: serving MFU (default 0.3).")
@click.option("--data", "data_specs", multiple=True, metavar="PATH[,format=F][,weight=W][,name=N]",
              help="A training data source, repeatable; replaces data.sources (default: the demo corpus builtin:pydoc).")
@click.option("--scaling-law", type=click.Path(dir_okay=False), callback=_scaling_law,
              help="fit.json from `llmplan ladder fit`: size and predict loss with your own law (goals.scaling_law).")
@click.option("--continue-from", "continue_dir", type=click.Path(file_okay=False),
              help="Continue pretraining this checkpoint (llmplan run dir or Transformers dir): its shape is kept, "
                   "only the tokens still to train are planned (goals.continue_from).")
@click.option("--tokens-seen", type=Number(maximum=1e17, negative=False),
              help="Tokens the --continue-from checkpoint already saw (default: what an llmplan checkpoint records).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the plan here (.yaml or .json).")
def plan(goals_file, preset, params, tokens, unique_tokens, inference_tokens, output, lr_schedule, batch_rampup,
         checkpoint_storage, failure_model, failures_per_gpu_hour, confidence, allow_infeasible, serving_gpu,
         serving_utilisation, continue_dir, tokens_seen, **flags) -> None:
    """Derive a run plan from goals: a file, a preset, or flags (alone, or overriding the file/preset).

    With nothing given, plans the `default` preset. Flags alone start from the Goals defaults, except
    the goals.training flags (--lr-schedule ... --failures-per-gpu-hour), which alone apply to the
    `default` preset.
    """
    if goals_file and preset:
        raise PlanInputError("--goals and --preset: give one of them, not both")
    pins, base = None, {}
    data_specs = flags.pop("data_specs")
    extra = _flag_goals(params, tokens, **flags)
    extra["unique_tokens_available"] = parse_count(unique_tokens, "--unique-tokens") if unique_tokens else None
    extra["inference_tokens"] = parse_count(inference_tokens, "--inference-tokens") if inference_tokens else None
    training = {"lr_schedule": lr_schedule, "batch_rampup": batch_rampup, "checkpoint_storage": checkpoint_storage,
                "failure_model": failure_model, "failures_per_gpu_hour": failures_per_gpu_hour}
    if goals_file:
        base = read_goals(goals_file).model_dump(mode="json", exclude_unset=True)
    elif preset or not (continue_dir or any(v is not None for v in extra.values())):  # no flags: the default goals
        name = preset or "default"
        base = presets.load_goals_preset(name).model_dump(mode="json", exclude_unset=True)
        pins = presets.load_pins(name)
    serving = {k: v for k, v in (("gpu", serving_gpu), ("utilisation", serving_utilisation)) if v is not None}
    extra.update(confidence=confidence, allow_infeasible=allow_infeasible,
                 serving={**base.get("serving", {}), **serving} if serving else None)
    if continue_dir is not None or tokens_seen is not None:
        if preset or not goals_file:  # a preset's vocabulary and context are generic; the checkpoint's hold
            base = {k: v for k, v in base.items() if k not in ("vocab_size", "seq_len")}
        _continue_from(base, extra, continue_dir, tokens_seen)
    goals = _goals_from_flags(base, {**extra, "training": training}, goals_file or "flags")
    if data_specs:  # --data PATH,format=F,weight=W replaces the goals' sources (planner.model.data_sources)
        goals = goals_with_sources(goals, data_specs)
    result = derive_plan(resolve(goals, presets.load_catalog()), pins=pins)
    if output:
        write_model(result, output)
        click.echo(render_text(result) + f"written to {output}")
    else:
        click.echo(to_yaml(result), nl=False)


def _continue_from(base: dict, extra: dict, directory: str | None, tokens_seen: float | None) -> None:
    """goals.continue_from from the checkpoint DIR (executor.hf.shape), and its tokenizer when the goals
    leave the tokenizer to be trained; --tokens-seen alone updates a goals file's continue_from."""
    if directory is None:
        if not base.get("continue_from"):
            raise PlanInputError("--tokens-seen needs --continue-from DIR (or goals with continue_from)")
        extra["continue_from"] = {**base["continue_from"], "tokens_seen": tokens_seen}
        return
    extra["continue_from"] = cont = continue_from(directory, tokens_seen)
    data = base.get("data", {})
    if data.get("tokenizer", {}).get("kind", "train-bpe") == "train-bpe":
        spec = tokenizer_spec(directory, cont["shape"]["vocab_size"])
        if spec is not None:
            extra["data"] = {**data, "tokenizer": {**data.get("tokenizer", {}), **spec}}


def estimate_figures(goals, model, num_tokens: float) -> dict:
    """The `llmplan estimate --json` mapping for a shape and token count under goals."""
    ctx = resolve(goals, load_catalog())
    est = estimate_run(ctx, model, num_tokens, unique_tokens=goals.unique_tokens_available)
    ranges = {name: r.model_dump() for name, r in estimate_ranges(est, ctx.residuals).items()}
    return {
        "params": model.num_params, "tokens": num_tokens, "flops": est.model_flops,
        "flops_per_token": est.flops_per_token, "hardware_flops": est.hardware_flops,
        "gpu": est.gpu, "num_gpus": est.num_gpus, "gpu_hours": est.gpu_hours,
        "wallclock_days": est.wallclock_days, "mfu": est.mfu, "tokens_per_s": est.tokens_per_s,
        "cost_usd": est.cost_usd, "energy_kwh": est.energy_kwh, "energy_cost_usd": est.energy_cost_usd,
        "co2_kg": est.co2_kg, "total_cost_usd": est.total_cost_usd, "predicted_loss": est.predicted_loss,
        "price_per_gpu_hour_usd": next((a.value for a in ctx.assumptions if a.name == "price_per_gpu_hour_usd"), None),
        "shape": model.model_dump(),
        "step_mfu": est.step_mfu, "end_to_end_mfu": est.end_to_end_mfu, "step_time_s": est.step_time_s,
        "overheads": [o.model_dump() for o in est.overheads],
        "ranges": ranges,
    }


@click.command()
@click.option("--params", type=Number("target_params"), help="Model parameters (7e9, 7B); a shape within 2% is derived.")
@click.option("--model", "model_name", help="A reference model instead of --params (see `llmplan presets models`).")
@click.option("--tokens", required=True, type=Number("target_tokens"), help="Training tokens (2e12, 2T).")
@click.option("--gpu", required=True, help="GPU name or alias.")
@click.option("--gpus", "num_gpus", type=COUNT, help="GPU count (default: a fleet finishing in about 30 days).")
@click.option("--gpus-per-node", type=COUNT, help="Default: the GPU preset's node size.")
@click.option("--seq-len", type=COUNT, default=4096, show_default=True)
@click.option("--vocab-size", type=COUNT, default=32000, show_default=True)
@click.option("--price", "price_per_gpu_hour_usd", type=Number("price_per_gpu_hour_usd"), help="USD per GPU-hour (default: the GPU preset's).")
@click.option("--ownership", type=schema_choice(Goals, "ownership"), help="owned: amortised purchase + electricity.")
@click.option("--purchase", "gpu_purchase_usd", type=Number("gpu_purchase_usd"), help="Owned GPUs: USD per GPU incl. its server share.")
@click.option("--electricity-price", "electricity_price_usd_per_kwh", type=Number("electricity_price_usd_per_kwh"), help="USD per kWh.")
@click.option("--pue", type=NUMBER)
@click.option("--region")
@click.option("--mfu", type=NUMBER, help="Override the calibrated MFU model.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def estimate(params, model_name, tokens, as_json, **flags) -> None:
    """GPU-hours, days, dollars, energy and CO2 of training a model on a number of tokens."""
    if (params is None) == (model_name is None):
        raise PlanInputError("estimate needs exactly one of --params and --model")
    num_params = parse_count(params, "--params") if params is not None else None
    goals = _goals_from_flags({"name": "estimate"}, _flag_goals(params, tokens, **flags), "flags")
    if model_name:
        model = presets.find_model(model_name).model_copy(update={"seq_length": goals.seq_len})
    else:
        try:
            model = derive_shape(num_params, vocab_size=goals.vocab_size, seq_length=goals.seq_len)
        except ValueError as exc:
            raise PlanInputError(f"--params: {exc}") from None
    figures = estimate_figures(goals, model, goals.target_tokens)
    if as_json:
        _echo_json(figures)
        return
    r = figures["ranges"]
    click.echo(
        f"{figures['params']:,} parameters x {format_count(figures['tokens'])} tokens = "
        f"{format_scientific(figures['flops'])} FLOPs\n"
        f"{figures['num_gpus']} x {figures['gpu']} at end-to-end MFU {figures['mfu']:.1%}: "
        f"{figures['gpu_hours']:,.0f} GPU-hours, {figures['wallclock_days']:.1f} days\n"
        f"{_mfu_line(figures)}"
        f"cost ${figures['cost_usd']:,.0f} ({_pricing(goals, figures)}); energy "
        f"{figures['energy_kwh']:,.0f} kWh = ${figures['energy_cost_usd']:,.0f}; CO2 {figures['co2_kg'] / 1000:,.1f} t\n"
        f"p10-p90: {r['gpu_hours']['p10']:,.0f}-{r['gpu_hours']['p90']:,.0f} GPU-hours, "
        f"{r['wallclock_days']['p10']:.1f}-{r['wallclock_days']['p90']:.1f} days, "
        f"${r['cost_usd']['p10']:,.0f}-${r['cost_usd']['p90']:,.0f}, "
        f"{r['energy_kwh']['p10']:,.0f}-{r['energy_kwh']['p90']:,.0f} kWh "
        f"(out-of-sample spread of the chain over published whole runs, `llmplan calibrate --cv`)"
    )


def _mfu_line(figures: dict) -> str:
    """The MFU chain: the layout's steady-state step MFU times the named overheads (planner.chain)."""
    if figures["step_mfu"] is None:
        return ""
    factors = " x ".join(f"{o['name'].replace('_', ' ')} {o['fraction']:.3f}" for o in figures["overheads"])
    return f"MFU: step {figures['step_mfu']:.1%} x {factors} = end-to-end {figures['end_to_end_mfu']:.1%}\n"


def _pricing(goals, figures: dict) -> str:
    if goals.ownership == "owned":
        return f"owned: ${figures['cost_usd'] / figures['gpu_hours']:.3g}/GPU-hour amortised; total with power " \
               f"${figures['total_cost_usd']:,.0f}"
    return f"at ${figures['price_per_gpu_hour_usd']}/GPU-hour"


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
def validate(file) -> None:
    """Check a plan file: schema, exact parameter count and the arithmetic of its estimate."""
    result = read_plan(file)
    problems = plan_problems(result) + validate_plan_layout(result)  # layout rules and memory fit
    gpu = find_gpu(result.estimate.gpu, "estimate.gpu")
    unmarked = [p for p in feasibility_problems(result, gpu) if p not in result.infeasible]
    if problems or unmarked:
        raise PlanInputError("plan is inconsistent" if problems else "plan cannot run as planned", problems + unmarked, file)
    if result.infeasible:  # kept by --allow-infeasible: a valid file, not a runnable plan
        click.echo(f"ok: {file} is a valid plan '{result.name}' but INFEASIBLE (approve refuses it): "
                   + "; ".join(result.infeasible))
        return
    click.echo(f"ok: {file} is a valid plan '{result.name}' (schema_version {result.schema_version})")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
def show(file) -> None:
    """Print the headline figures of a plan file."""
    click.echo(render_text(read_plan(file)), nl=False)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(sorted(EXPORTERS)), default="yaml", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of stdout.")
@click.option("--site", "site_file", type=click.Path(dir_okay=False), default=None,
              help="sbatch: site profile YAML (default: the site: section of ~/.config/llmplan/site.yaml).")
def export(file, fmt, output, site_file) -> None:
    """Export a plan as YAML, JSON, Markdown, Megatron arguments or an sbatch bundle."""
    exporter = EXPORTERS[fmt]  # the wizard's Export dialog writes through the same registry
    plan = read_plan(file)
    exporter.check(plan, file)
    options = {}
    if exporter.takes_site:
        from executor.backends.site import read_site  # deferred: executor.backends loads both backends (~55 ms)

        options["site"] = read_site(site_file)[0]
    if output:
        beside = exporter.write(plan, output, **options)[1:]
        charts = f" (charts {beside[0].name} and {beside[1].name} beside it)" if len(beside) == 2 else ""
        click.echo(f"written to {output}{charts}")
    else:
        click.echo(exporter.render(plan, **options), nl=False)


@click.command()
@click.argument("which", type=click.Choice(["runplan", "goals"]), default="runplan")
@click.option("--out-dir", type=click.Path(file_okay=False), help="Write runplan.schema.json and goals.schema.json here.")
def schema(which, out_dir) -> None:
    """Print the JSON Schema of a plan (or of goals); --out-dir writes both files."""
    texts = schema_texts()
    if out_dir:
        for name, text in texts.items():
            atomic_write_text(Path(out_dir) / f"{name}.schema.json", text)
        click.echo(f"written to {out_dir}")
    else:
        click.echo(texts[which], nl=False)


@click.command(name="presets")
@click.argument("kind", type=click.Choice(["gpus", "models", "regions", "runs", "goals"]), default="gpus")
@click.option("--json", "as_json", is_flag=True)
def presets_cmd(kind, as_json) -> None:
    """List the presets: GPUs (with aliases), reference models, grid regions, published runs, goals."""
    rows = preset_rows(kind)
    if as_json:
        _echo_json(rows)
        return
    import pandas as pd  # deferred: pandas (~0.35 s to import) only for the printed table, not --json

    with pd.option_context("display.width", 200, "display.max_colwidth", 60, "display.max_rows", 500):
        click.echo(pd.DataFrame(rows).to_string(index=False))


@click.command()
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, exists=True), help="Published runs CSV.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--fit", is_flag=True, help="Refit the chain (step-time efficiencies on the throughput benchmarks, operational "
              "efficiency on the whole runs) and the sizing prior to it; presets/mfu_model.yaml holds the committed values.")
@click.option("--residuals", "residuals_out", type=click.Path(dir_okay=False),
              help="Write the residuals the p10-p90 ranges use (presets/calibration_residuals.yaml).")
@click.option("--cv", "cross_validate", is_flag=True,
              help="Leave-one-group-out table of the step-time model (throughput rows) and the layout-to-dollars "
                   "chain (whole runs): predicted, reported, error, inside p10-p90.")
@click.option("--markdown", "markdown_out", type=click.Path(dir_okay=False),
              help="With --cv: also write the tables as Markdown (docs/planner.md holds them).")
def calibrate(csv_path, as_json, fit, residuals_out, cross_validate, markdown_out) -> None:
    """Predicted vs reported GPU-hours, energy and CO2 of every published run."""
    catalog = load_catalog()
    if cross_validate:
        _cross_validate(catalog, as_json, markdown_out)
        return
    if residuals_out:
        atomic_write_text(Path(residuals_out), residuals_yaml(catalog))
        click.echo(f"written to {residuals_out}")
        return
    if fit:
        fitted = {"sizing_prior": fit_mfu_model(catalog), "chain": fit_all(catalog)}
        if as_json:
            _echo_json(fitted)
        else:
            click.echo("refit (presets/mfu_model.yaml holds the committed values):")
            for part, values in fitted.items():
                click.echo(f"{part}:" + "".join(f"\n  {key}: {value}" for key, value in values.items()))
        return

    try:
        rows = calibration_table(catalog, read_csv(csv_path) if csv_path else None)
    except (KeyError, ValueError) as exc:
        raise PlanInputError(f"--csv: cannot read the runs table: {exc.__class__.__name__}: {exc}", source=csv_path or "") from None
    stats = summary(rows)
    if as_json:
        _echo_json({"rows": rows, "summary": stats})
        return
    click.echo(calibration_text(rows, stats))


def _cross_validate(catalog, as_json: bool, markdown_out: str | None) -> None:
    result = cross_validation(catalog)
    if markdown_out:
        atomic_write_text(Path(markdown_out), cv_markdown(result))
    if as_json:
        _echo_json(result)
        return
    click.echo(cv_markdown(result), nl=False)


COMMANDS: list[click.Command] = [plan, estimate, validate, show, export, schema, presets_cmd, calibrate]

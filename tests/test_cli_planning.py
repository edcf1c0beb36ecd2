"""The planning commands of `llmplan` (tui/commands/planning.py): outputs and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tui.cli import main

ROOT = Path(__file__).resolve().parents[1]
ESTIMATE_KEYS = {"params", "tokens", "flops", "gpu_hours", "wallclock_days", "mfu", "cost_usd",
                 "energy_kwh", "energy_cost_usd", "co2_kg"}


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("flag,value,reported", [
    ("--model", "Llama-2-7B", 184_320), ("--model", "Llama-2-70B", 1_720_320), ("--params", "7B", 184_320),
])
def test_estimate_json_hits_the_llama2_anchors_with_numeric_keys(capsys, flag, value, reported):
    code, out, _ = run(capsys, "estimate", flag, value, "--tokens", "2T", "--seq-len", "4096",
                       "--gpu", "A100-80GB", "--json")
    assert code == 0
    data = json.loads(out)
    assert ESTIMATE_KEYS <= set(data)
    assert all(isinstance(data[k], int | float) for k in ESTIMATE_KEYS)
    assert data["gpu_hours"] == pytest.approx(reported, rel=0.15)
    # The p10-p90 range (planner.cost.uncertainty.estimate_ranges: lognormal over the calibration residuals)
    # holds the published figure and brackets the point estimate.
    r = data["ranges"]["gpu_hours"]
    assert r["p10"] < data["gpu_hours"] < r["p90"] and r["p10"] <= reported <= r["p90"]
    assert r["p90"] / r["p10"] < 1.6 ** 2  # as wide as the chain's out-of-sample error (docs/planner.md)


def test_estimate_for_owned_gpus_adds_electricity_to_the_amortised_cost(capsys):
    code, out, _ = run(capsys, "estimate", "--params", "1B", "--tokens", "20B", "--gpu", "H100", "--gpus", "8",
                       "--ownership", "owned", "--purchase", "35040", "--json")
    data = json.loads(out)
    assert code == 0 and data["cost_usd"] == pytest.approx(data["gpu_hours"] * 35_040 / (4 * 8760))
    assert data["total_cost_usd"] == pytest.approx(data["cost_usd"] + data["energy_cost_usd"])


def test_estimate_prints_a_readable_summary(capsys):
    code, out, _ = run(capsys, "estimate", "--params", "1.4e9", "--tokens", "3e11", "--gpu", "a100-40gb", "--gpus", "64")
    assert code == 0 and "64 x A100-SXM4-40GB" in out and "GPU-hours" in out
    ranges = json.loads(run(capsys, "estimate", "--params", "1.4e9", "--tokens", "3e11", "--gpu", "a100-40gb",
                            "--gpus", "64", "--json")[1])["ranges"]
    r = ranges["gpu_hours"]
    assert f"p10-p90: {r['p10']:,.0f}-{r['p90']:,.0f} GPU-hours" in out


@pytest.mark.parametrize("argv,needle", [
    (["estimate", "--params", "7B", "--tokens", "2T", "--gpu", "RTX-9090"], "unknown GPU 'RTX-9090'"),
    (["estimate", "--params", "7B", "--tokens", "2T", "--gpu", "A100", "--price", "-1"], "price_per_gpu_hour_usd"),
    (["estimate", "--params", "7B", "--tokens", "inf", "--gpu", "A100"], "--tokens"),
    (["estimate", "--params", "seven", "--tokens", "2T", "--gpu", "A100"], "--params: 'seven' is not a number"),
    (["plan", "--budget-usd", "0"], "budget_usd"),
    (["plan", "--budget-usd", "-5"], "budget_usd"),
    (["plan", "--budget-usd", "nan"], "budget_usd"),
    (["plan", "--params", "70B", "--budget-usd", "10000", "--gpu", "H100"], "conflicting goals"),
    (["plan", "--preset", "nope"], "unknown goals preset 'nope'"),
])
def test_bad_input_exits_2_with_one_message_and_no_traceback(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert needle in err and "Traceback" not in err and err.startswith("error:")


def test_malformed_yaml_non_finite_numbers_and_a_newer_schema_exit_2(capsys, tmp_path):
    bad = tmp_path / "goals.yaml"
    bad.write_text("budget_usd: [1, 2\n", encoding="utf-8")
    code, _, err = run(capsys, "plan", "--goals", str(bad))
    assert code == 2 and "malformed YAML at line" in err
    for text, field in (("budget_usd: .nan\n", "budget_usd"), ("target_params: .inf\n", "target_params"),
                        ("gpu: H100\nnum_gpus: 0\n", "num_gpus")):
        bad.write_text(text, encoding="utf-8")
        code, _, err = run(capsys, "plan", "--goals", str(bad))
        assert code == 2 and f"{field}:" in err and "Traceback" not in err
    newer = tmp_path / "plan.yaml"
    newer.write_text("schema_version: 99\nname: x\n", encoding="utf-8")
    code, _, err = run(capsys, "validate", str(newer))
    assert code == 2 and "schema_version: 99 is newer" in err


def test_plan_writes_a_file_that_validate_show_and_export_read(capsys, tmp_path):
    path = tmp_path / "tiny.yaml"
    code, out, _ = run(capsys, "plan", "--preset", "tiny-cpu", "-o", str(path))
    assert code == 0 and f"written to {path}" in out
    assert run(capsys, "validate", str(path))[0] == 0
    code, out, _ = run(capsys, "show", str(path))
    assert code == 0 and "TP 2 PP 1 CP 1 DP 1" in out
    # Every headline figure is shown with its p10-p90 range from the plan, and the failure plan too.
    plan = yaml.safe_load(path.read_text(encoding="utf-8"))
    gpu_hours = plan["ranges"]["gpu_hours"]
    assert gpu_hours["p90"] < 100  # figures under 100 are shown to three significant digits
    assert f"GPU-hours           {plan['estimate']['gpu_hours']:.3g} (p10-p90 {gpu_hours['p10']:.3g}-{gpu_hours['p90']:.3g})" in out
    assert out.count("(p10-p90 ") == 6  # GPU-hours, days, cost, energy, CO2, interruptions
    steps = plan["reliability"]["checkpoint_interval_steps"]
    assert f"checkpoint every {steps:,} steps" in out and "interruptions expected" in out
    code, out, _ = run(capsys, "export", str(path), "--format", "json")
    assert code == 0 and json.loads(out)["model"]["num_params"] == 1_787_008
    code, out, _ = run(capsys, "export", str(path), "--format", "markdown")
    assert code == 0 and out.startswith("# Plan `tiny-cpu`") and "## Assumptions" in out
    out_yaml = tmp_path / "copy.yaml"
    assert run(capsys, "export", str(path), "--format", "yaml", "-o", str(out_yaml))[0] == 0
    assert out_yaml.read_text(encoding="utf-8") == path.read_text(encoding="utf-8")


def test_plan_from_flags_prints_yaml_with_the_binding_constraint(capsys):
    code, out, _ = run(capsys, "plan", "--budget-gpu-hours", "20000", "--gpu", "H100", "--objective", "compute-optimal")
    assert code == 0
    assert yaml.safe_load(out)["binding_constraint"] == "budget_gpu_hours (compute-optimal)"


def test_validate_rejects_an_inconsistent_plan(capsys, tmp_path, tiny_plan_path):
    data = yaml.safe_load(tiny_plan_path.read_text(encoding="utf-8"))
    data["estimate"]["gpu_hours"] *= 3
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    code, _, err = run(capsys, "validate", str(path))
    assert code == 2 and "estimate.wallclock_days" in err


def test_schema_prints_the_plan_json_schema(capsys, tmp_path):
    code, out, _ = run(capsys, "schema")
    assert code == 0 and json.loads(out)["title"] == "RunPlan"
    code, out, _ = run(capsys, "schema", "goals")
    assert json.loads(out)["title"] == "Goals"


def test_presets_list_gpus_with_aliases_and_models(capsys):
    code, out, _ = run(capsys, "presets", "gpus")
    assert code == 0 and "H100-SXM-80GB" in out and "h100" in out.lower()
    code, out, _ = run(capsys, "presets", "models", "--json")
    assert any(row["name"] == "Llama-2-70B" and row["num_params"] == 68_976_648_192 for row in json.loads(out))


def test_calibrate_prints_the_table_and_json_summary(capsys):
    code, out, _ = run(capsys, "calibrate")
    assert code == 0 and "Llama-2-70B" in out and "GPU-hours: median |error|" in out
    code, out, _ = run(capsys, "calibrate", "--json")
    assert json.loads(out)["summary"]["gpu_hours"]["median_abs_rel_error"] <= 0.15


def test_the_installed_command_exits_2_on_an_unknown_gpu():
    out = subprocess.run([sys.executable, "-m", "tui.cli", "estimate", "--params", "7B", "--tokens", "2T",
                          "--gpu", "Z80"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "unknown GPU 'Z80'" in out.stderr and "Traceback" not in out.stderr


def test_the_lazy_command_table_lists_every_command_module_with_exactly_its_commands():
    """tui/cli.py imports only the module of the command being run, from COMMAND_MODULES; it must
    name every tui/commands module that defines COMMANDS, with the same command names."""
    import importlib

    from tui.cli import COMMAND_MODULES

    defined = {}
    for path in sorted((ROOT / "tui" / "commands").glob("*.py")):
        module = importlib.import_module(f"tui.commands.{path.stem}")
        if hasattr(module, "COMMANDS"):
            defined[module.__name__] = tuple(c.name for c in module.COMMANDS)
    assert COMMAND_MODULES == defined


def test_estimate_imports_no_other_command_module_and_no_heavy_library():
    """Of the modules in tui/cli.py's COMMAND_MODULES only planning's is loaded (its helpers
    planning_presets and ladder_law define no commands), and no heavy library."""
    script = ("import sys; from tui.cli import COMMAND_MODULES, main; main(['estimate', '--params', '1B', '--tokens', "
              "'20B', '--gpu', 'H100', '--json']); print(sorted(m for m in sys.modules if m in COMMAND_MODULES "
              "or m.split('.')[0] in ('torch', 'pandas', 'textual', 'megatron', 'lm_eval', 'datasets')))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip().splitlines()[-1] == "['tui.commands.planning']"


def test_plan_continue_from_a_transformers_dir_keeps_its_shape_and_refuses_one_that_has_seen_too_much(capsys, tmp_path):
    """`llmplan plan --continue-from DIR --tokens-seen N` (issue 16): shape from config.json, the
    tokens of this run = 20 N - N_seen; a checkpoint past the objective's total exits 2 with the numbers."""
    config = {"model_type": "llama", "vocab_size": 4096, "hidden_size": 128, "intermediate_size": 352,
              "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
              "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "hidden_act": "silu"}
    (tmp_path / "config.json").write_text(json.dumps(config))
    out_path = tmp_path / "plan.yaml"
    code, _, err = run(capsys, "plan", "--continue-from", str(tmp_path), "--tokens-seen", "10M", "--gpu", "CPU",
                       "--gpus", "2", "--price", "0.05", "-o", str(out_path))
    assert code == 0, err
    plan = yaml.safe_load(out_path.read_text())
    assert plan["model"]["num_params"] == 1_787_008 and plan["model"]["seq_length"] == 256
    assert plan["tokens"]["tokens_seen"] == 10e6
    assert plan["tokens"]["num_tokens"] == pytest.approx(20 * 1_787_008 - 10e6)
    assert plan["goals"]["continue_from"]["checkpoint"] == str(tmp_path.resolve())
    code, out, err = run(capsys, "plan", "--continue-from", str(tmp_path), "--tokens-seen", "50M", "--gpu", "CPU")
    assert code == 2
    assert "continue_from.tokens_seen: 50,000,000" in err and "35,740,160 tokens in all" in err
    code, out, err = run(capsys, "plan", "--continue-from", str(tmp_path), "--tokens-seen", "1M", "--params", "7B")
    assert code == 2 and "target_params: 7,000,000,000" in err and "num_params: 1,787,008" in err

"""planner.ladder (a ladder of small runs below a target plan) and goals.scaling_law in the planner
(`llmplan plan --scaling-law fit.json`)."""

from __future__ import annotations

import json
import math

import pytest

from planner.model import architecture, sizing
from planner.derive import derive_plan
from planner.errors import PlanInputError
from planner.estimate import estimate_run
from planner.io import parse_text, to_json, to_yaml, validate_as
from planner.ladder import plan_ladder, rung_goals, rung_plan
from planner.reports.ladder_report import ladder_markdown
from planner.resolve import resolve
from planner.schema import Goals
from planner.schema.ladder import LadderPlan
from planner.schema.scaling_law import ScalingLaw
from presets import load_catalog
from tests.planner.plan_helpers import derive_preset
from tui.cli import main

USER_LAW = {"name": "our-data", "source": "tests: a law unlike the published one", "E": 2.1, "A": 300.0,
            "B": 900.0, "alpha": 0.32, "beta": 0.30,
            "covariance": [[0.04 if i == j else 0.0 for j in range(5)] for i in range(5)],
            "num_points": 15, "max_compute_flops": 1e18}


@pytest.fixture(scope="module")
def target():
    return derive_preset("default")


@pytest.fixture(scope="module")
def ladder(target):
    return plan_ladder(target, load_catalog())


def test_rung_sizes_are_log_uniform_over_about_two_decades_below_the_target(ladder, target):
    sizes = sorted({r.num_params for r in ladder.rungs})
    assert len(sizes) == 5
    steps = [math.log10(b / a) for a, b in zip(sizes, sizes[1:])]
    assert all(s == pytest.approx(1.75 / 4, abs=0.06) for s in steps), steps
    assert 1.5 <= math.log10(sizes[-1] / sizes[0]) <= 2.0
    assert sizes[-1] < target.model.num_params / 10


def test_every_size_is_trained_at_each_ratio_so_the_data_term_is_identified(ladder):
    by_size: dict[int, set] = {}
    for r in ladder.rungs:
        by_size.setdefault(r.num_params, set()).add(r.tokens_per_param)
        assert r.num_tokens == pytest.approx(r.tokens_per_param * r.num_params)
    assert all(ratios == {10.0, 20.0, 40.0} for ratios in by_size.values())


def test_the_ladder_spends_at_most_two_percent_of_the_targets_compute(ladder, target):
    t = ladder.totals
    assert 0.015 < t.compute_fraction <= 0.02
    assert t.model_flops == pytest.approx(sum(r.model_flops for r in ladder.rungs))
    assert t.cost_usd == pytest.approx(sum(r.cost_usd for r in ladder.rungs))
    assert t.gpu_hours < 0.03 * target.estimate.gpu_hours


def test_each_rung_has_the_shape_rules_and_the_estimate_of_any_plan(ladder):
    rung = ladder.rungs[4]
    assert rung.model == architecture.derive_shape(rung.num_params, vocab_size=ladder.goals.vocab_size,
                                                   seq_length=ladder.goals.seq_len)
    goals = rung_goals(ladder.goals, rung.name, rung.num_params, rung.num_tokens)
    est = estimate_run(resolve(goals, load_catalog()), rung.model, rung.num_tokens)
    assert rung.gpu_hours == pytest.approx(est.gpu_hours, rel=0.02)  # the layout's recompute may differ
    assert rung.wallclock_days == pytest.approx(rung.gpu_hours / 24 / rung.num_gpus, rel=1e-9)
    assert rung.layout is not None and rung.layout.global_batch_size == rung.global_batch_size


def test_a_rung_plan_derives_again_to_the_same_run(ladder):
    rung = ladder.rungs[-1]
    plan = rung_plan(ladder, rung, load_catalog())
    assert (plan.model.num_params, plan.recipe.train_steps) == (rung.num_params, rung.train_steps)
    assert plan.goals.budget_usd is None and plan.goals.deadline_days is None


def test_ladder_yaml_and_json_round_trip_and_the_markdown_lists_every_rung(ladder):
    for text in (to_yaml(ladder), to_json(ladder)):
        assert validate_as(LadderPlan, parse_text(text)) == ladder
    md = ladder_markdown(ladder)
    assert all(f"| {r.name} |" in md for r in ladder.rungs) and "of the target's" in md


def test_a_holdout_rung_sits_one_step_above_the_fitted_sizes(target):
    lad = plan_ladder(target, load_catalog(), holdout=True)
    fit_max = max(r.num_params for r in lad.rungs if r.role == "fit")
    (hold,) = [r for r in lad.rungs if r.role == "holdout"]
    assert math.log10(hold.num_params / fit_max) == pytest.approx(1.75 / 4, abs=0.06)
    assert lad.totals.compute_fraction <= 0.02


@pytest.mark.parametrize("kwargs, field", [
    ({"num_sizes": 0}, "--rungs"), ({"ratios": (20.0, 20.0)}, "--ratios"), ({"span_decades": 5}, "--span-decades"),
    ({"budget_fraction": 0.0}, "--budget-fraction"), ({"budget_fraction": 1e-12}, "no model shape"),
])
def test_ladders_that_cannot_exist_are_refused_naming_the_option(target, kwargs, field):
    with pytest.raises(PlanInputError, match=field):
        plan_ladder(target, load_catalog(), **kwargs)


def _goals(**extra) -> Goals:
    return Goals.model_validate({"gpu": "H100", "budget_gpu_hours": 1e5, "objective": "compute-optimal", **extra})


def test_a_user_law_sets_the_compute_optimal_size_and_the_predicted_loss():
    published = derive_plan(resolve(_goals(), load_catalog()))
    ours = derive_plan(resolve(_goals(scaling_law=USER_LAW), load_catalog()))
    law = sizing.LossFit("x", 2.1, 300.0, 900.0, 0.32, 0.30, "")
    # compute-optimal split on the user's law (Hoffmann eq. 4): N_opt(C) with a = beta/(alpha+beta)
    n_opt, _ = sizing.compute_optimal(ours.estimate.model_flops, law)
    assert ours.model.num_params == pytest.approx(n_opt, rel=0.1)
    assert ours.model.num_params < 0.6 * published.model.num_params
    assert ours.estimate.predicted_loss == pytest.approx(law.loss(ours.model.num_params, ours.tokens.num_tokens))
    assert published.estimate.predicted_loss == pytest.approx(
        sizing.BESIROGLU_2024.loss(published.model.num_params, published.tokens.num_tokens))


def test_the_plan_records_the_law_it_used_and_the_loss_range_from_its_covariance():
    plan = derive_plan(resolve(_goals(scaling_law=USER_LAW), load_catalog()))
    note = next(a for a in plan.assumptions if a.name == "loss_fit")
    assert note.value.startswith("our-data") and "goals.scaling_law" in note.source
    assert plan.goals.scaling_law == ScalingLaw.model_validate(USER_LAW)
    r = plan.ranges["predicted_loss"]
    assert r.p10 < plan.estimate.predicted_loss == r.p50 < r.p90
    assert any("largest ladder rung" in w for w in plan.warnings)
    assert "predicted_loss" not in derive_plan(resolve(_goals(), load_catalog())).ranges


def _write_fit(tmp_path, **changes) -> str:
    from planner.model.scaling_fit import fit_ladder
    from planner.schema.scaling_law import FitPoint

    law = sizing.LossFit("x", 2.1, 300.0, 900.0, 0.32, 0.30, "")
    ratios = changes.pop("ratios", (10.0, 20.0, 40.0))
    points = [FitPoint(num_params=n, num_tokens=n * r, loss=law.loss(n, n * r))
              for n in (1e7, 3e7, 1e8, 3e8, 1e9) for r in ratios]
    path = tmp_path / "fit.json"
    path.write_text(fit_ladder(points, num_bootstrap=10).model_dump_json(), encoding="utf-8")
    return str(path)


def test_plan_with_scaling_law_changes_the_size_and_the_loss(tmp_path, capsys):
    fit = _write_fit(tmp_path)
    args = ["plan", "--gpu", "H100", "--budget-gpu-hours", "1e5", "--objective", "compute-optimal"]
    assert main([*args, "-o", str(tmp_path / "a.json")]) == 0
    assert main([*args, "--scaling-law", fit, "-o", str(tmp_path / "b.json")]) == 0
    a, b = (json.loads((tmp_path / n).read_text()) for n in ("a.json", "b.json"))
    assert b["model"]["num_params"] < 0.6 * a["model"]["num_params"]
    assert b["estimate"]["predicted_loss"] > a["estimate"]["predicted_loss"] + 0.2
    assert b["goals"]["scaling_law"]["alpha"] == pytest.approx(0.32, rel=1e-3)


def test_a_fit_with_one_ratio_is_refused_with_exit_2_naming_the_missing_terms(tmp_path, capsys):
    fit = _write_fit(tmp_path, ratios=(20.0,))
    assert main(["plan", "--gpu", "H100", "--params", "7B", "--scaling-law", fit]) == 2
    err = capsys.readouterr().err
    assert "does not identify" in err and "identified.beta: false" in err and "ratio" in err


def test_a_malformed_fit_is_refused_with_exit_2(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text('{"kind": "llmplan-scaling-fit", "params": {"E": 1.7}}', encoding="utf-8")
    assert main(["plan", "--gpu", "H100", "--params", "7B", "--scaling-law", str(path)]) == 2
    assert "invalid ScalingFit" in capsys.readouterr().err


def test_ladder_plan_cli_writes_a_valid_ladder(tmp_path, capsys):
    plan_path, out = tmp_path / "plan.yaml", tmp_path / "ladder.yaml"
    assert main(["plan", "--preset", "default", "-o", str(plan_path)]) == 0
    assert main(["ladder", "plan", str(plan_path), "--rungs", "4", "--ratios", "10,40", "-o", str(out)]) == 0
    lad = validate_as(LadderPlan, parse_text(out.read_text()))
    assert len(lad.rungs) == 8 and lad.totals.compute_fraction <= 0.02
    assert main(["ladder", "plan", str(plan_path), "--ratios", "ten"]) == 2


def test_ladder_fit_cli_fits_a_csv_and_predicts_the_target(tmp_path, capsys):
    law = sizing.LossFit("x", 2.1, 300.0, 900.0, 0.32, 0.30, "")
    rows = ["name,num_params,num_tokens,loss"] + [
        f"n{n:g}r{r:g},{n},{n * r},{law.loss(n, n * r)}" for n in (1e7, 3e7, 1e8, 3e8, 1e9) for r in (10, 20, 40)]
    csv = tmp_path / "points.csv"
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    plan_path = tmp_path / "plan.yaml"
    assert main(["plan", "--preset", "default", "-o", str(plan_path)]) == 0
    capsys.readouterr()
    assert main(["ladder", "fit", str(csv), "--bootstrap", "20", "--target", str(plan_path)]) == 0
    out = capsys.readouterr().out
    fit = json.loads((tmp_path / "points.fit.json").read_text())
    assert fit["params"]["alpha"] == pytest.approx(0.32, rel=1e-3) and "80% interval" in out
    (pred,) = fit["extrapolations"]
    assert pred["predicted_loss"] == pytest.approx(law.loss(pred["num_params"], pred["num_tokens"]), rel=1e-3)
    assert f"predict {pred['name']}" in out


CPU_TARGET_GOALS = "tests/fixtures/ladder_cpu_goals.yaml"


def _cpu_target():
    from pathlib import Path

    from planner.io import read_goals

    goals = read_goals(Path(__file__).resolve().parents[2] / CPU_TARGET_GOALS)
    return derive_plan(resolve(goals, load_catalog()))


def test_cpu_rungs_get_layouts_the_cpu_trainer_runs():
    """The CPU trainer refuses PP > 1 and CP > 1 (executor/train/cpu_compat.py): the search on the CPU
    pseudo-device keeps both at 1, so no rung is priced with a layout that cannot start."""
    rungs = plan_ladder(_cpu_target(), load_catalog(), num_sizes=3, ratios=(0.2,), span_decades=0.6,
                        budget_fraction=0.05).rungs
    assert [r.layout is not None for r in rungs] == [True] * 3
    assert {(r.layout.pipeline_model_parallel_size, r.layout.context_parallel_size) for r in rungs} == {(1, 1)}


def test_a_ladder_with_a_rung_no_layout_runs_is_refused_naming_the_rung():
    """At 0.1 tokens per parameter the smallest CPU rung has a batch of one sequence and two heads on two
    processes: nothing runs it (CP, the only split left, is CUDA-only), so the ladder is refused."""
    with pytest.raises(PlanInputError) as info:
        plan_ladder(_cpu_target(), load_catalog(), num_sizes=3, ratios=(0.1,), span_decades=0.6, budget_fraction=0.05)
    text = str(info.value)
    assert "no parallel layout runs a ladder rung" in text and "rung s1-r0.1" in text and "global batch 1" in text


def test_a_published_law_worse_than_a_uniform_guess_is_flagged_not_printed():
    """Below ~1M parameters the Besiroglu et al. 2024 law (Table 1) predicts tens of nats, more than
    ln(vocab_size), which a uniform guess over the vocabulary achieves: the plan warns and the ladder
    prints n/a instead of that number; a 1B plan at vocab 32000 is left alone."""
    tiny = derive_preset("tiny-cpu")
    assert tiny.estimate.predicted_loss > math.log(tiny.model.vocab_size)
    assert any("above ln(vocab_size)" in w for w in tiny.warnings)
    assert not any("above ln(vocab_size)" in w for w in derive_preset("default").warnings)
    ladder = plan_ladder(_cpu_target(), load_catalog(), num_sizes=3, ratios=(0.2,), span_decades=0.6,
                         budget_fraction=0.05)
    table = ladder_markdown(ladder)
    rows = [line for line in table.splitlines() if line.startswith("| s")]
    assert rows and all(line.rstrip(" |").endswith("n/a") for line in rows)
    assert "n/a: the law predicts more than ln(vocab_size)" in table


def test_ladder_fit_on_a_run_directory_predicts_the_holdout_rung_out_of_sample(tmp_path, capsys):
    """`ladder fit RUN_DIR` fits the rungs' result.json (role fit), predicts the holdout rung it left out,
    and says whether the measured loss lies in the predicted p10-p90 (the LOO-widened interval)."""
    law = sizing.LossFit("x", 2.1, 300.0, 900.0, 0.32, 0.30, "")
    rungs = [(f"n{n:g}-r{r:g}", "fit", n, r) for n in (1e7, 3e7, 1e8, 3e8) for r in (10, 40)] + [("holdout", "holdout", 1e9, 20)]
    for i, (name, role, n, r) in enumerate(rungs):
        d = tmp_path / "rungs" / name
        d.mkdir(parents=True)
        loss = law.loss(n, n * r) * (1.0 + (0.004 * (-1) ** i if role == "fit" else 0.0))
        d.joinpath("result.json").write_text(json.dumps(
            {"name": name, "role": role, "num_params": n, "num_tokens": n * r, "step": 10, "val_loss": loss}))
    assert main(["ladder", "fit", str(tmp_path), "--bootstrap", "10"]) == 0
    out = capsys.readouterr().out
    fit = json.loads((tmp_path / "fit.json").read_text())
    assert len(fit["points"]) == 8 and [e["name"] for e in fit["extrapolations"]] == ["holdout"]
    assert all(p["loo_residual_log"] is not None for p in fit["points"]) and fit["loo_rms_log_error"] > 0
    measured = law.loss(1e9, 2e10)
    line = next(x for x in out.splitlines() if x.startswith("holdout holdout: "))
    assert f"measured {measured:.4f}" in line and "p10-p90 [" in line and line.endswith("holds it")
    assert "out-of-sample error (leave-one-out" in out


CPU_LADDER = "tests/fixtures/ladder_cpu_5_20.csv"


def test_ladder_fit_reads_holdout_rows_of_a_csv_and_refuses_an_unknown_role(tmp_path, capsys):
    """A CSV's `role` column (fit, the default, or holdout): the CPU ladder's losses (benchmarks/bench_ladder.py,
    recorded in tests/fixtures/ladder_cpu_5_20.csv) with its held-out rung, which is predicted, not fitted."""
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / CPU_LADDER
    out_json = tmp_path / "fit.json"
    assert main(["ladder", "fit", str(src), "--bootstrap", "10", "-o", str(out_json)]) == 0
    out = capsys.readouterr().out
    fit = json.loads(out_json.read_text())
    assert len(fit["points"]) == 8 and "holdout-r10" not in {p["name"] for p in fit["points"]}
    assert [e["name"] for e in fit["extrapolations"]] == ["holdout-r10"]
    assert "holdout holdout-r10: measured 2.6448, predicted" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("num_params,num_tokens,loss,role\n1e6,1e7,3.0,test\n", encoding="utf-8")
    assert main(["ladder", "fit", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.csv:2: role is 'test'; allowed: fit, holdout" in err


@pytest.mark.parametrize(("text", "message"), [
    ("num_params,num_tokens,loss\n1e6,1e7,0\n", "loss: Input should be greater than 0 (got '0')"),
    ("num_params,num_tokens,loss\n1e6,1e7,nan\n", "loss: Input should be a finite number (got 'nan')"),
    ("x,y\n1,2\n", "no num_params, num_tokens, loss; each row needs"),
])
def test_a_bad_points_csv_gets_one_message_naming_the_line_and_field(tmp_path, capsys, text, message):
    bad = tmp_path / "points.csv"
    bad.write_text(text, encoding="utf-8")
    assert main(["ladder", "fit", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "points.csv:2" in err and message in err and "Traceback" not in err


def test_a_points_csv_that_is_not_text_exits_2(tmp_path, capsys):
    bad = tmp_path / "points.csv"
    bad.write_bytes(b"\xff\xfe\x00bad")
    assert main(["ladder", "fit", str(bad)]) == 2
    assert "cannot read" in capsys.readouterr().err and not (tmp_path / "points.fit.json").exists()

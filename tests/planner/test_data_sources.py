"""Data sources named: a plan on the demo corpus says so in `show` and the report, `approve` asks for
--allow-demo-data when the plan draws more than the corpus holds, and `plan --data` names real data."""

from __future__ import annotations

import pytest

from planner.model.data_sources import (
    DEMO_CORPUS_TOKENS,
    data_markdown,
    data_rows,
    demo_data_refusal,
    parse_data_spec,
)
from planner.derive import derive_plan
from planner.io import read_plan
from planner.reports.report_basic import render_text
from planner.resolve import resolve
from presets import load_catalog
from presets import load_goals_preset
from tui.cli import main


@pytest.fixture(scope="module")
def tiny():
    return derive_plan(resolve(load_goals_preset("tiny-cpu"), load_catalog()))


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_a_plan_on_the_demo_corpus_says_so_in_show_and_the_report(tiny):
    text = render_text(tiny)
    assert "pydoc: builtin:pydoc (auto, weight 1 = 100%) - the DEMO corpus, ~110k tokens" in text
    assert "this plan trains on the demo corpus builtin:pydoc" in text and "3.72 passes" in text
    report = data_markdown(tiny)
    assert report.startswith("## Data") and "**Demo data:**" in report


def test_the_demo_corpus_refuses_approval_only_past_its_size(tiny):
    assert "draws 410k training tokens" in demo_data_refusal(tiny)
    small = tiny.model_copy(update={"tokens": tiny.tokens.model_copy(update={"num_tokens": DEMO_CORPUS_TOKENS})})
    assert demo_data_refusal(small) is None and data_rows(small)[-1][0] == "demo data"  # still named


@pytest.mark.parametrize("spec,expected", [
    ("data/web.jsonl,weight=0.7", {"path": "data/web.jsonl", "weight": 0.7, "name": "web"}),
    ("org/fineweb,format=hub,name=fw", {"path": "org/fineweb", "format": "hub", "name": "fw"}),
    ("/x/my corpus.txt,weight=2k", {"path": "/x/my corpus.txt", "weight": 2000.0, "name": "my-corpus"}),
])
def test_data_specs_parse_path_format_weight_and_name(spec, expected):
    assert parse_data_spec(spec) == expected


def test_plan_data_flags_replace_the_demo_corpus_and_approve_needs_no_flag(capsys, tmp_path):
    out_file = tmp_path / "plan.yaml"
    code, out = run(capsys, "plan", "--preset", "tiny-cpu", "--data", "web.jsonl,format=jsonl,weight=3",
                    "--data", "web.jsonl,weight=1", "-o", str(out_file))
    assert code == 0, out
    plan = read_plan(out_file)
    assert [(s.name, s.path, s.format, s.weight) for s in plan.data.sources] == [
        ("web", "web.jsonl", "jsonl", 3.0), ("web-2", "web.jsonl", "auto", 1.0)]
    assert plan.data.tokenizer.vocab_size == 4096  # the preset's other data settings are kept
    assert "DEMO" not in out and "web: web.jsonl (jsonl, weight 3 = 75%)" in out
    code, out = run(capsys, "approve", str(out_file), "--by", "Ada")
    assert code == 0, out


@pytest.mark.parametrize("spec,needle", [
    ("web.jsonl,weight=nan", "--data weight: 'nan' is not a finite number"),
    ("web.jsonl,format=xml", "format 'xml' is not one of"),
    ("web.jsonl,colour=red", "'colour=red' is not KEY=VALUE"),
    ("web.jsonl,weight=0", "data.sources[0].weight"),
])
def test_bad_data_flags_exit_2_naming_the_flag(capsys, spec, needle):
    code, out = run(capsys, "plan", "--preset", "tiny-cpu", "--data", spec)
    assert code == 2 and needle in out and "Traceback" not in out


def test_approve_refuses_the_demo_plan_without_allow_demo_data(capsys, tmp_path, tiny):
    from planner.io import write_model

    path = tmp_path / "tiny.yaml"
    write_model(tiny, path)
    code, out = run(capsys, "approve", str(path), "--by", "Ada")
    assert code == 2 and "--allow-demo-data" in out and read_plan(path).approval is None
    code, out = run(capsys, "approve", str(path), "--by", "Ada", "--allow-demo-data")
    assert code == 0 and read_plan(path).approval.note == "[--allow-demo-data]"

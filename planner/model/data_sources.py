"""What a plan trains on, said where the plan is shown: each source with its format and weight, and
the demo corpus named as such.

Every Goals starts with one source, the embedded demo corpus `builtin:pydoc` (CPython's
`pydoc_data.topics`, executor/prepare/corpus.py). A plan that leaves it there says so in `show`,
the report and the wizard, and `llmplan approve` asks for `--allow-demo-data` when the plan draws
more tokens from it than it holds (`demo_data_refusal`).
"""

from __future__ import annotations

import re
from pathlib import PurePath

from planner.errors import PlanInputError
from planner.io import validate_as
from planner.schema import Goals, RunPlan
from planner.schema.data import BUILTIN_CORPUS, DataSource, DataSpec
from planner.units import format_count, parse_number

DEMO_CORPUS_TOKENS = 110_000
"""Tokens in the demo corpus before filtering: pydoc topics, ~465k characters at ~4 characters per
token (presets/goals/tiny-cpu.yaml). The default filters keep 14,428 of them (docs/data.md)."""
DEMO_CORPUS_FILTERED_TOKENS = 14_428
"""Tokens the default filters and dedup keep, with the tiny plan's BPE (docs/data.md, measured)."""


def is_demo(source: DataSource) -> bool:
    return source.path == BUILTIN_CORPUS or source.path.startswith("builtin:")


def uses_demo_corpus(data: DataSpec) -> bool:
    return any(is_demo(s) for s in data.sources)


def demo_tokens_drawn(plan: RunPlan) -> float:
    """Training tokens drawn from demo sources: the plan's tokens times their share of the weights."""
    total = sum(s.weight for s in plan.data.sources)
    return plan.tokens.num_tokens * sum(s.weight for s in plan.data.sources if is_demo(s)) / total


def source_text(source: DataSource, total_weight: float) -> str:
    """`pydoc: builtin:pydoc (builtin, weight 1 = 100%) - the demo corpus, ~110k tokens`."""
    share = source.weight / total_weight
    text = f"{source.name}: {source.path} ({source.format}, weight {source.weight:g} = {share:.0%})"
    if is_demo(source):
        text += f" - the DEMO corpus, ~{format_count(DEMO_CORPUS_TOKENS)} tokens"
    return text


def data_rows(plan: RunPlan) -> list[tuple[str, str]]:
    """(label, value) rows for `show`, the report and the wizard: the sources, and a demo-data note."""
    total = sum(s.weight for s in plan.data.sources)
    rows = [("data", "; ".join(source_text(s, total) for s in plan.data.sources))]
    note = demo_data_note(plan)
    if note:
        rows.append(("demo data", note))
    return rows


def demo_data_note(plan: RunPlan) -> str | None:
    """Why the demo corpus is not training data, with how much of it the plan would repeat."""
    if not uses_demo_corpus(plan.data):
        return None
    drawn = demo_tokens_drawn(plan)
    passes = drawn / DEMO_CORPUS_TOKENS
    return (f"this plan trains on the demo corpus {BUILTIN_CORPUS} (~{format_count(DEMO_CORPUS_TOKENS)} tokens, "
            f"{format_count(DEMO_CORPUS_FILTERED_TOKENS)} after the default filters): {format_count(drawn)} "
            f"tokens drawn from it = {format_count(passes)} passes; name your data with "
            "`llmplan plan --data PATH` (or data.sources in the goals file)")


def demo_data_refusal(plan: RunPlan) -> str | None:
    """The reason `approve` wants --allow-demo-data, or None: demo sources asked for more tokens than they hold."""
    if not uses_demo_corpus(plan.data) or demo_tokens_drawn(plan) <= DEMO_CORPUS_TOKENS:
        return None
    return (f"plan '{plan.name}' draws {format_count(demo_tokens_drawn(plan))} training tokens from the demo corpus "
            f"{BUILTIN_CORPUS}, which holds ~{format_count(DEMO_CORPUS_TOKENS)}; give real data "
            "(`llmplan plan --data PATH`) or approve with --allow-demo-data")


def data_markdown(plan: RunPlan) -> str:
    """The report's `## Data` section."""
    total = sum(s.weight for s in plan.data.sources)
    lines = ["## Data", "", *(f"- {source_text(s, total)}" for s in plan.data.sources)]
    note = demo_data_note(plan)
    if note:
        lines += ["", f"**Demo data:** {note}."]
    return "\n".join(lines)


DATA_FORMATS = ("auto", "jsonl", "json", "parquet", "csv", "text", "txtdir", "hub", "builtin")


def parse_data_spec(text: str) -> dict:
    """`PATH[,format=F][,weight=W][,name=N][,text_field=T]` (the `--data` flag) -> a DataSource mapping.

    `data/web.jsonl,weight=0.7` -> {"path": "data/web.jsonl", "weight": 0.7, "name": "web"}; the name
    defaults to the file's stem with characters outside [A-Za-z0-9._-] replaced by `-`.
    """
    path, *options = [part.strip() for part in text.split(",")]
    if not path:
        raise ValueError(f"--data {text!r}: give a path first, then ,format=F ,weight=W ,name=N")
    out: dict = {"path": path}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or key not in ("format", "weight", "name", "text_field", "split", "max_docs"):
            raise ValueError(f"--data {text!r}: {option!r} is not KEY=VALUE with KEY one of format, weight, name, "
                             "text_field, split, max_docs")
        if key == "format" and value not in DATA_FORMATS:
            raise ValueError(f"--data {text!r}: format {value!r} is not one of {', '.join(DATA_FORMATS)}")
        out[key] = parse_number(value, f"--data {key}") if key in ("weight", "max_docs") else value
    if "name" not in out:
        stem = PurePath(path.removeprefix("builtin:")).stem or "data"
        out["name"] = re.sub(r"[^A-Za-z0-9._-]", "-", stem)[:64]
    return out


def data_sources_from_flags(specs: tuple[str, ...] | list[str]) -> list[dict]:
    """Every `--data` flag as a DataSource mapping; repeated names get `-2`, `-3` ... so prefixes differ."""
    sources, seen = [], set()
    for spec in specs:
        source = parse_data_spec(spec)
        name, n = source["name"], 2
        while source["name"] in seen:
            source["name"], n = f"{name}-{n}", n + 1
        seen.add(source["name"])
        sources.append(source)
    return sources


def goals_with_sources(goals, specs: tuple[str, ...] | list[str]):
    """Goals whose data.sources are the `--data` flags (validated; PlanInputError naming the flag)."""
    try:
        sources = data_sources_from_flags(specs)
    except ValueError as exc:
        raise PlanInputError(str(exc)) from None
    data = {**goals.data.model_dump(mode="json"), "sources": sources}
    return validate_as(Goals, {**goals.model_dump(mode="json", exclude_unset=True), "data": data}, "--data")


def source_spec(source: DataSource) -> str:
    """The `--data` text of a source (`parse_data_spec(source_spec(s))` gives it back)."""
    default = DataSource(path=source.path, name=parse_data_spec(source.path)["name"])
    parts = [source.path]
    for key in ("format", "weight", "name", "text_field", "split", "max_docs"):
        value = getattr(source, key)
        if value != getattr(default, key):
            parts.append(f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}")
    return ",".join(parts)


def sources_text(data: DataSpec) -> str:
    """The wizard's data field: every source's `--data` text, separated by `; `."""
    return "; ".join(source_spec(s) for s in data.sources)


def sources_from_text(text: str) -> list[dict]:
    """The wizard's data field back to DataSource mappings; empty means the demo corpus."""
    specs = [part for part in text.split(";") if part.strip()]
    return data_sources_from_flags(specs) if specs else [DataSource().model_dump(mode="json")]


DEMO_NOTE_MARK = "[--allow-demo-data]"


def approval_note(plan: RunPlan, note: str, allow_demo_data: bool) -> str:
    """The approval note, or PlanInputError when the plan overdraws the demo corpus and that was not
    allowed; an allowed overdraw is kept in the note (`llmplan approve`, the wizard's Approve)."""
    demo = demo_data_refusal(plan)
    if demo is None:
        return note
    if not allow_demo_data:
        raise PlanInputError(f"refusing to approve plan '{plan.name}'", [demo])
    return f"{note} {DEMO_NOTE_MARK}".strip()

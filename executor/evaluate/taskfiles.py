"""Which lm-eval task definitions a run uses, and a clear error for tasks that cannot run offline.

Task files live in three places:
- `tasks/samples/`: offline SAMPLES of `arc_easy`, `arc_challenge`, `hellaswag`, `mmlu` (2 subjects),
  `truthfulqa_mc1`, `truthfulqa_mc2`, in lm-eval's formats with a few items each (see each YAML).
- `tasks/llmplan/`: llmplan's own tasks (`facts`).
- the plan's `evaluation.task_dir` (or `--task-dir`): a person's own YAMLs, e.g. full local copies.

Offline (the default): lm-eval's built-in task list is left out (its tasks load from the hub),
the three places are searched, later ones overriding earlier ones. Online: lm-eval's built-in tasks
plus `tasks/llmplan/` and the task_dir. In every YAML, `@TASK_DIR@` stands for the directory the
YAML is in (lm-eval reads `data_files` relative to the working directory): the files are copied
to a staging directory with that placeholder replaced before lm-eval indexes them.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from planner.errors import PlanInputError

TASKS_ROOT = Path(__file__).resolve().parent / "tasks"
SAMPLES_DIR = TASKS_ROOT / "samples"
LLMPLAN_DIR = TASKS_ROOT / "llmplan"
PLACEHOLDER = "@TASK_DIR@"
YAML_NAMES = (".yaml", ".yml", "_yaml")


def stage_task_dir(source: Path, dest: Path) -> Path:
    """Copy the task files of `source` (not the data) to `dest`, `@TASK_DIR@` -> `source`."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.rglob("*")):
        if not path.is_file() or path.suffix in (".jsonl", ".json", ".parquet", ".csv", ".arrow"):
            continue
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.name.endswith(YAML_NAMES):
            text = path.read_text(encoding="utf-8")
            target.write_text(text.replace(PLACEHOLDER, str(path.parent.resolve())), encoding="utf-8")
        elif path.suffix == ".py":
            shutil.copyfile(path, target)
    return dest


def task_sources(offline: bool, task_dir: str | None) -> list[Path]:
    """The task directories searched, in override order (later wins)."""
    sources = [SAMPLES_DIR, LLMPLAN_DIR] if offline else [LLMPLAN_DIR]
    if task_dir:
        path = Path(task_dir)
        if not path.is_dir():
            raise PlanInputError(f"evaluation.task_dir: {task_dir!r} is not a directory of lm-eval task YAMLs")
        sources.append(path)
    return sources


def task_manager(offline: bool, task_dir: str | None, staging: Path):
    """An lm-eval `TaskManager` over the staged task directories (and the built-ins when online)."""
    from lm_eval.tasks import TaskManager  # deferred: lm_eval imports torch and datasets (offline flags first)

    staged = [stage_task_dir(src, staging / f"{i}_{src.name}")
              for i, src in enumerate(task_sources(offline, task_dir))]
    return TaskManager(include_path=[str(p) for p in staged], include_defaults=not offline)


def bundled_sample_tasks() -> list[str]:
    """Names (task: and group:) defined by the bundled samples and llmplan's own tasks."""
    names = []
    for directory in (SAMPLES_DIR, LLMPLAN_DIR):
        for path in sorted(directory.glob("*.yaml")):
            match = re.search(r"^(?:task|group):\s*(\S+)\s*$", path.read_text(encoding="utf-8"), re.M)
            if match:
                names.append(match.group(1))
    return names


def lm_eval_dataset_of(name: str) -> str | None:
    """The hub dataset lm-eval's own definition of `name` loads, by a text scan of its YAMLs
    (building lm-eval's full task index takes tens of seconds); None if lm-eval has no such task."""
    try:
        import lm_eval  # deferred: lm_eval imports torch and datasets (offline flags first)
    except ImportError:
        return None
    root = Path(lm_eval.__file__).resolve().parent / "tasks"
    pattern = re.compile(rf"^\s*\"?(?:task|group)\"?:\s*\"?{re.escape(name)}\"?\s*$", re.M)
    for path in root.rglob("*.yaml"):
        text = path.read_text(encoding="utf-8", errors="replace")
        if pattern.search(text):
            return _dataset_path(path, text) or "its subtasks' datasets"
    return None


def _dataset_path(path: Path, text: str) -> str | None:
    for _ in range(4):  # follow `include:` a few levels
        match = re.search(r"^\s*\"?dataset_path\"?:\s*\"?([^\"\n]+)\"?\s*$", text, re.M)
        if match:
            return match.group(1).strip()
        include = re.search(r"^\s*\"?include\"?:\s*\"?([^\"\n]+)\"?\s*$", text, re.M)
        if not include:
            return None
        path = path.parent / include.group(1).strip()
        if not path.is_file():
            return None
        text = path.read_text(encoding="utf-8", errors="replace")
    return None


def unavailable_task_error(missing: list[str], offline: bool, task_dir: str | None) -> PlanInputError:
    """One line per task: which, why it cannot run, and how to run it offline."""
    lines = []
    for name in missing:
        dataset = lm_eval_dataset_of(name)
        if dataset is None:
            lines.append(f"tasks: {name!r} is neither a bundled task nor an lm-eval task name")
        elif offline:
            lines.append(f"tasks: {name!r} needs the Hugging Face hub (lm-eval loads it from {dataset}) "
                         "and this evaluation is offline")
        else:
            lines.append(f"tasks: {name!r} is not in lm-eval's task list")
    where = f"task_dir {task_dir}" if task_dir else "--task-dir (none given)"
    lines += [
        f"available offline: {', '.join(bundled_sample_tasks())} (bundled) and the YAMLs in {where}",
        "to run a hub task offline: download its data once, write a task YAML with `dataset_path: json` "
        "and local `data_files` (see docs/evaluation.md) into a directory, and pass "
        "`--task-dir DIR` (plan field evaluation.task_dir); or evaluate online with `--online`",
    ]
    return PlanInputError(f"{len(missing)} task(s) cannot be evaluated", lines)


def check_tasks(names: list[str], manager, offline: bool, task_dir: str | None) -> None:
    """Raise `unavailable_task_error` unless every name is a task, group or tag `manager` knows."""
    known = set(manager.all_tasks)
    missing = [n for n in names if n not in known]
    if missing:
        raise unavailable_task_error(missing, offline, task_dir)

"""Validation of every value a backend places in a command line or a script.

Names (job names, stage names, partitions) match `^[A-Za-z0-9._-]{1,64}$`. Paths are absolute,
normalised, made of ordinary characters only (no shell metacharacters, spaces, quotes or newlines:
`#SBATCH` lines are read by sbatch, not by a shell, so quoting cannot protect them) and, for run
paths, inside the run directory. Free text never needs to pass: it is only ever shell-quoted.
"""

from __future__ import annotations

import os
import re

from planner.errors import PlanInputError

NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
PATH_RE = re.compile(r"^/[A-Za-z0-9._/+@=,-]*$")


def check_name(value: str, field: str) -> str:
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise PlanInputError(
            "unsafe name", [f"{field}: {value!r} must match ^[A-Za-z0-9._-]{{1,64}}$"]
        )
    return value


def check_path(value: str, field: str) -> str:
    """An absolute path of ordinary characters, with no `..` component."""
    text = str(value)
    parts = text.split("/")
    if not PATH_RE.fullmatch(text) or ".." in parts or len(text) > 4096:
        raise PlanInputError(
            "unsafe path",
            [f"{field}: {text!r} must be an absolute path of letters, digits and ._/+@=,- "
             "(no spaces, quotes, shell metacharacters or '..')"],
        )
    return os.path.normpath(text)


def check_inside(value: str, root: str, field: str) -> str:
    """`check_path`, and the path lies inside `root` (the run directory)."""
    path, base = check_path(value, field), check_path(root, "run_dir")
    if path != base and not path.startswith(base.rstrip("/") + "/"):
        raise PlanInputError("path outside the run directory", [f"{field}: {path!r} is not inside {base!r}"])
    return path


def check_int(value: int, field: str, low: int = 0, high: int = 10**9) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PlanInputError("bad number", [f"{field}: {value!r} must be an integer in [{low}, {high}]"])
    return value

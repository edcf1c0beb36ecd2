"""Errors a person can act on: one headline and `field.path: message` lines (planner.errors re-exports them)."""

from __future__ import annotations

from pydantic import ValidationError


class PlanInputError(ValueError):
    """Bad input (a goals or plan file, a flag): the CLI exits 2 and prints `str(self)`.

    `lines` are `field.path: message` strings; `source` names the file or flag it came from.
    """

    def __init__(self, headline: str, lines: list[str] | None = None, source: str = "") -> None:
        self.headline = headline
        self.lines = list(lines or [])
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        head = f"{self.source}: {self.headline}" if self.source else self.headline
        return "\n".join([head, *(f"  {line}" for line in self.lines)])


def field_path(loc: tuple) -> str:
    """`('goals', 'data', 'sources', 0, 'path')` -> `goals.data.sources[0].path`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(root)"


def describe_validation_error(err: ValidationError) -> list[str]:
    """One line per pydantic error: `field.path: message (got VALUE)`."""
    lines = []
    for e in err.errors(include_url=False):
        path = field_path(tuple(e.get("loc", ())))
        msg = e.get("msg", "invalid").removeprefix("Value error, ")
        value = e.get("input")
        shown = "" if isinstance(value, dict | list) or value is None else f" (got {value!r})"
        lines.append(f"{path}: {msg}{shown}")
    return lines


def from_validation_error(err: ValidationError, headline: str, source: str = "") -> PlanInputError:
    return PlanInputError(headline, describe_validation_error(err), source)

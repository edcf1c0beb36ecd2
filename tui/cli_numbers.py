"""Click's side of planner.units: every numeric flag is read by the parser goals files and the wizard use.

`--budget-usd 1.5M`, `--budget-usd '$1,000,000'`, `--params 7B`, `--tokens 2T`, `--gpus 256`; NaN,
infinity, overflow and values past the goal's limit (planner.schema.goals.NUMBER_LIMITS) are a
PlanInputError naming the flag and the goal, so the CLI exits 2 with one `error:` line. Negative
values pass on to the Goals model, whose message names the rule (`must be greater than 0`).

Choices (`--objective`, `--ownership`, ...) are read from the schema's `Literal` types
(`schema_choice`), so a value the schema gains is a value the CLI accepts, with no list to copy.
"""

from __future__ import annotations

from typing import Literal, get_args, get_origin

import click
from pydantic import BaseModel

from planner.errors import PlanInputError
from planner.schema.goals import NUMBER_LIMITS
from planner.units import UnitError, parse_number


def parse_count(text: str | float, field: str, *, maximum: float | None = None, negative: bool = False,
                goal: str | None = None) -> float:
    """`7e9`, `7B`, `2T`, `1.5M`, `$1,000,000` -> a number (planner.units), or PlanInputError naming
    `field` (and the goal it sets)."""
    try:
        return parse_number(text, field, maximum=maximum, allow_negative=negative)
    except UnitError as exc:
        raise PlanInputError(f"{exc}" + (f" (goal {goal})" if goal else "")) from None


def literal_values(model: type[BaseModel], field: str) -> tuple[str, ...]:
    """The values of a schema field typed `Literal[...]` (or `Literal[...] | None`), in schema order."""
    annotation = model.model_fields[field].annotation
    for candidate in (annotation, *get_args(annotation)):
        if get_origin(candidate) is Literal:
            return get_args(candidate)
    raise TypeError(f"{model.__name__}.{field} is not a Literal field")


def schema_choice(model: type[BaseModel], field: str) -> click.Choice:
    """A click.Choice of the values the schema allows for `model.field`."""
    return click.Choice(literal_values(model, field))


class Number(click.ParamType):
    """A number as people type it; `integer=True` for counts (`--gpus 1k` is 1000, `--gpus 8.5` an error)."""

    name = "number"

    def __init__(self, goal: str | None = None, *, integer: bool = False, maximum: float | None = None,
                 negative: bool = True) -> None:
        """`negative=False`: a negative value is an error here (a flag that is no goal has no schema rule)."""
        self.goal, self.integer, self.maximum, self.negative = goal, integer, maximum, negative

    def convert(self, value, param, ctx) -> float | int:
        flag = param.opts[0] if param is not None and param.opts else "value"
        number = parse_count(value, flag, maximum=self._maximum(), negative=self.negative, goal=self.goal)
        if not self.integer:
            return number
        if not number.is_integer():
            raise PlanInputError(f"{flag}: {value!r} must be a whole number")
        return int(number)

    def _maximum(self) -> float | None:
        if self.maximum is None and self.goal:
            return NUMBER_LIMITS.get(self.goal)
        return self.maximum

    def __repr__(self) -> str:
        return "INTEGER" if self.integer else "NUMBER"


NUMBER = Number()
COUNT = Number(integer=True)
SECONDS = Number(negative=False)

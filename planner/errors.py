"""Errors a person can act on (re-exported from planner.schema.errors, where the schema and the
presets package, which imports only the schema, can reach them)."""

from planner.schema.errors import PlanInputError, describe_validation_error, field_path, from_validation_error

__all__ = ["PlanInputError", "describe_validation_error", "field_path", "from_validation_error"]

"""The llmplan schema: Goals (inputs) and RunPlan (output), pydantic v2, versioned."""

from planner.schema.approval import Approval
from planner.schema.continuation import ContinueFrom
from planner.schema.base import SCHEMA_VERSION, Assumption, Range, StrictModel
from planner.schema.data import DataSource, DataSpec, DedupSpec, PIISpec, QualityFilters, TokenizerSpec
from planner.schema.evaluation import EvalSpec
from planner.schema.goals import Goals, Objective, TrainingSpec
from planner.schema.hardware import GpuSpec, RegionSpec
from planner.schema.layout import LayoutPlan, MemoryBreakdown, ParallelLayout
from planner.schema.model import ModelShape, TokenBudget
from planner.schema.plan import Estimate, Overhead, RunPlan
from planner.schema.recipe import Choice, Recipe, ReliabilityPlan
from planner.schema.serving import BudgetUse, ServingEstimate, ServingSpec

__all__ = [
    "SCHEMA_VERSION", "Approval", "Assumption", "Choice", "ContinueFrom", "DataSource", "DataSpec", "DedupSpec",
    "Estimate", "Overhead", "EvalSpec", "Goals", "GpuSpec", "RegionSpec", "LayoutPlan", "MemoryBreakdown", "ModelShape", "Objective",
    "PIISpec", "ParallelLayout", "QualityFilters", "Range", "Recipe", "ReliabilityPlan", "RunPlan",
    "StrictModel", "TokenBudget", "TokenizerSpec", "TrainingSpec", "BudgetUse", "ServingEstimate", "ServingSpec",
]

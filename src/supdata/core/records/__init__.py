"""The record types that flow through every stage, and their Arrow/parquet form."""

from supdata.core.records.annotation import StepAnnotation
from supdata.core.records.labels import LabelSet
from supdata.core.records.problem import Problem
from supdata.core.records.trace import ORIGINS, VERIFY_STATUSES, Trace

__all__ = ["ORIGINS", "VERIFY_STATUSES", "LabelSet", "Problem", "StepAnnotation", "Trace"]

"""Problem sources: the ``source:`` section of a recipe."""

from supdata.sources.config import (
    SOURCE_KINDS,
    FileSource,
    Filters,
    HfSource,
    ReasoningGymSource,
    Source,
)
from supdata.sources.load import load_problems
from supdata.sources.normalize import NORMALIZERS, SkipRow

__all__ = [
    "NORMALIZERS",
    "SOURCE_KINDS",
    "FileSource",
    "Filters",
    "HfSource",
    "ReasoningGymSource",
    "SkipRow",
    "Source",
    "load_problems",
]

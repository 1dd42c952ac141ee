"""Problem sources: the ``source:`` section of a recipe."""

from supdata.sources.config import (
    SOURCE_KINDS,
    FileSource,
    Filters,
    HfSource,
    ReasoningGymSource,
    Source,
)
from supdata.sources.inputs import check_source, input_fingerprint, source_problems
from supdata.sources.load import load_problems
from supdata.sources.normalize import NORMALIZERS, SkipRow
from supdata.sources.rows import SourceError, SourceRow

__all__ = [
    "NORMALIZERS",
    "SOURCE_KINDS",
    "FileSource",
    "Filters",
    "HfSource",
    "ReasoningGymSource",
    "SkipRow",
    "Source",
    "SourceError",
    "SourceRow",
    "check_source",
    "input_fingerprint",
    "load_problems",
    "source_problems",
]

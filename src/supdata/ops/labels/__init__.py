"""Step-label sources: Monte-Carlo rollouts, binary search for the first error, an
annotator model, consensus; each writes a ``LabelSet`` with its provenance."""

from supdata.core.records.labels import LabelSet, first_error, labels_from_first_error
from supdata.ops.labels.agreement import agreement
from supdata.ops.labels.rollouts import RolloutCost, RolloutSettings
from supdata.ops.labels.sources import (
    AnnotatorSource,
    BinarySearchSource,
    ConsensusSource,
    LabelSource,
    McSource,
    run_sources,
    source_errors,
)

__all__ = [
    "AnnotatorSource",
    "BinarySearchSource",
    "ConsensusSource",
    "LabelSet",
    "LabelSource",
    "McSource",
    "RolloutCost",
    "RolloutSettings",
    "agreement",
    "first_error",
    "labels_from_first_error",
    "run_sources",
    "source_errors",
]

"""Row model of the ``label`` builder's config."""

from __future__ import annotations

from typing import Literal

from supdata.core.records.models import LabelSetRow, TraceRow


class LabelledRow(TraceRow):
    """A solution that came with the source, with every label set (``given`` first)."""

    origin: Literal["given"]
    label_sets: list[LabelSetRow]

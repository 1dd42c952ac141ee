"""The ``label`` builder's recipe section."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from supdata.builders.spec import BuilderParams
from supdata.ops.labels.sources import LabelSource
from supdata.sources.normalize import GIVEN_SOLUTIONS


class LabelBuilder(BuilderParams):
    """Label solutions that arrive with the source (ProcessBench, Math-Shepherd, PRM800K):
    the ``labelled`` config, one row per solution with every label set."""

    kind: Literal["label"]
    labels: list[LabelSource] = Field(
        default_factory=list,
        description="label sources (mc, binary_search, annotator, consensus); none: only "
        "the labels the source brought (label set 'given')",
    )
    use_labels: str | None = Field(
        None,
        description="the label set whose hard labels become each row's annotation "
        "(default: the source's own labels)",
    )
    references: list[str] = Field(
        default_factory=list,
        description="files with reference answers (GSM8K / MATH jsonl), matched by "
        "problem text, for sources that ship none (ProcessBench, Math-Shepherd)",
    )
    references_normalizer: str = Field(
        "auto", description="row shape of the reference files (auto: gsm8k or math)"
    )

    def configs(self) -> tuple[str, ...]:
        return ("labelled",)

    def source_errors(self, source: Any) -> list[tuple[tuple, str]]:
        if source.normalizer in GIVEN_SOLUTIONS:
            return []
        return [
            (
                ("kind",),
                f"the label builder labels the solutions a source comes with, and normalizer "
                f"{source.normalizer!r} gives none: its config would have no steps to label "
                f"(use {', '.join(GIVEN_SOLUTIONS)}; to label model samples, put labels: "
                "on a sampling builder)",
            )
        ]

    def label_errors(self) -> list[tuple[tuple, str]]:
        errors = super().label_errors()
        if self.use_labels == "given":
            errors = [e for e in errors if e[0] != ("use_labels",)]
        if "given" in [s.label_name for s in self.labels]:
            errors.append((("labels",), "'given' names the source's own labels; pick another"))
        return errors

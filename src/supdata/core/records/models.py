"""Row models of the shared records: traces (solutions) and problems.

Config-specific refinements (``samples`` are sampled, with a model and a seed; ``perturbed``
rows carry labels known by construction) are subclasses, so every config's contract is
one model. The invariants a JSON Schema cannot state (steps join back to the text,
labels align with steps, ``correct`` agrees with ``status``) are checked here too.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from supdata.core.records.labels import LABEL_KINDS, check_aligned, first_error
from supdata.core.records.problem import Problem
from supdata.core.records.sampling import SamplingRow
from supdata.core.records.trace import ORIGINS, VERIFY_STATUSES, Trace
from supdata.core.rows import Int32, Row, Text
from supdata.verify.extract import RULES

Origin = Literal[ORIGINS]  # type: ignore[valid-type]
Status = Literal[VERIFY_STATUSES]  # type: ignore[valid-type]
Extraction = Literal[RULES]  # type: ignore[valid-type]


class AnnotationRow(Row):
    """Per-step labels: True right, False wrong, None not judged; ``source`` says who."""

    labels: list[bool | None]
    first_error_step: Annotated[Int32, Field(ge=-1)]
    error_types: list[str | None] | None
    source: Text

    @model_validator(mode="after")
    def _aligned(self) -> AnnotationRow:
        first = next((i for i, x in enumerate(self.labels) if x is False), -1)
        if self.first_error_step != first:
            raise ValueError(
                f"first_error_step {self.first_error_step} disagrees with the labels "
                f"(earliest wrong step is {first})"
            )
        if self.error_types is not None and len(self.error_types) != len(self.labels):
            raise ValueError("error_types must align one-to-one with labels")
        return self


class LabelProvenanceRow(Row):
    """Where a label set came from; null where a field does not apply to its kind."""

    source: Annotated[
        str | None,
        Field(description="given: who labelled (human:<dataset>, a dataset's own method)"),
    ]
    engine: Annotated[str | None, Field(description="engine fingerprint (model + revision)")]
    prompt: str | None
    rollouts: Annotated[Int32 | None, Field(ge=1, description="rollouts per step prefix (N)")]
    seed: int | None
    temperature: float | None
    top_p: float | None
    max_tokens: Int32 | None
    of: Annotated[list[str] | None, Field(description="consensus: the label sets it combines")]


class LabelSetRow(Row):
    """One label source's step labels of a trace (docs: step-label sources)."""

    name: Annotated[Text, Field(description="the set's name in the recipe's labels: list")]
    kind: Literal[LABEL_KINDS]  # type: ignore[valid-type]
    labels: list[bool | None]
    soft: Annotated[
        list[Annotated[float, Field(ge=0, le=1)] | None] | None,
        Field(description="Monte-Carlo value of the prefix ending at each step"),
    ]
    first_error_step: Annotated[
        Int32 | None, Field(ge=-1, description="earliest wrong step, -1 none, null undecided")
    ]
    provenance: LabelProvenanceRow

    @model_validator(mode="after")
    def _aligned(self) -> LabelSetRow:
        if self.soft is not None and len(self.soft) != len(self.labels):
            raise ValueError("soft labels must align one-to-one with labels")
        if self.first_error_step != first_error(self.labels):
            raise ValueError(
                f"first_error_step {self.first_error_step} disagrees with the labels "
                f"({first_error(self.labels)})"
            )
        return self


class TraceRow(Row):
    """One reasoning trace. The steps concatenate to the text exactly; labels, when
    present, align one-to-one with the steps."""

    id: Text
    problem_id: Text
    text: str
    steps: list[Text]
    origin: Origin
    final_answer: str | None
    status: Status | None
    extraction: Annotated[
        Extraction | None,
        Field(description="the verifier's rule that found final_answer (docs/verification.md)"),
    ]
    correct: bool | None
    model: str | None
    sampling: SamplingRow
    seed: int | None
    parent_id: str | None
    annotation: AnnotationRow | None
    label_sets: Annotated[
        list[LabelSetRow] | None,
        Field(description="every label source's step labels (the recipe's labels: list)"),
    ]

    @model_validator(mode="after")
    def _invariants(self) -> TraceRow:
        if "".join(self.steps) != self.text:
            raise ValueError("steps do not join back to the text")
        if self.annotation is not None and len(self.annotation.labels) != len(self.steps):
            raise ValueError(
                f"{len(self.annotation.labels)} labels for {len(self.steps)} steps: labels "
                "must align one-to-one with steps"
            )
        check_aligned(self.label_sets or [], len(self.steps))
        expected = {"correct": True, "incorrect": False, "no_answer": False}.get(self.status)
        if self.correct is not expected:
            raise ValueError(f"correct={self.correct} contradicts status {self.status!r}")
        return self

    @classmethod
    def encode(cls, record: Trace) -> dict[str, Any]:
        return record.to_row()

    @classmethod
    def decode(cls, row: dict[str, Any]) -> Trace:
        return Trace.from_row(row)


class ReferenceRow(TraceRow):
    """A reference solution split into steps and verified against its own answer."""

    origin: Literal["reference"]


class SampleRow(TraceRow):
    """A model-sampled solution: segmented, verified, with its model, sampling and seed."""

    origin: Literal["sampled"]
    status: Status
    model: Text
    seed: Annotated[int, Field(ge=0)]


class ConstructionLabels(AnnotationRow):
    """Labels of a perturbed solution: only erroneous steps are Wrong (False).

    ``first_error_step`` is the first error (0-based), where the error was put on
    purpose; SWER (wrong / all steps) is counted on ``labels``, never derived from it.
    ``error_types`` names the injected type on the first error and on the later steps
    its value was carried into (null on Correct steps and on steps Wrong for another
    reason)."""

    first_error_step: Annotated[Int32, Field(ge=0)]
    error_types: list[str | None]
    source: Annotated[
        str,
        Field(
            pattern=r"^construction(\+chain|\+annotator:.+)?$",
            description="construction: a rule edit, Wrong = the steps it changed (the edited "
            "step and the steps its carried value changed); construction+chain: a model "
            "rewrite, Wrong = the rewritten step and later steps that use a value it "
            "produced, state false arithmetic or a final answer other than the base's; "
            "construction+annotator:<model>: the rewritten step, and later steps as that "
            "annotator labelled them",
        ),
    ]


class PerturbedRow(TraceRow):
    """A correct solution with step errors injected; only erroneous steps labelled Wrong."""

    origin: Literal["perturbed"]
    parent_id: Text
    annotation: ConstructionLabels


class ProblemRow(Row):
    """A normalized source problem with its reference solution and answer."""

    id: Text
    question: Text
    reference_solution: str
    reference_answer: str | None
    source: str
    level: Int32 | None
    subject: str | None
    meta: Annotated[str, Field(description="source columns no field took, as a JSON object")]
    solutions: list[TraceRow]

    @model_validator(mode="after")
    def _meta_is_json(self) -> ProblemRow:
        if not isinstance(json.loads(self.meta), dict):
            raise ValueError("meta must be a JSON object")
        return self

    @classmethod
    def encode(cls, record: Problem) -> dict[str, Any]:
        return record.to_row()

    @classmethod
    def decode(cls, row: dict[str, Any]) -> Problem:
        return Problem.from_row(row)


class SubtaskRow(ProblemRow):
    """A self-contained subproblem of a hard problem, its solution from the reference."""

    id: Annotated[str, Field(pattern=r"/sub-[0-9]+$")]
    reference_answer: Text
    meta: Annotated[str, Field(pattern='"parent_id"')]

"""A solution attempt, split into steps that join back to its exact text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from supdata.core.records.annotation import StepAnnotation
from supdata.core.records.labels import LabelSet, check_aligned
from supdata.core.records.sampling import sampling_from_row, sampling_to_row

ORIGINS = ("sampled", "continued", "perturbed", "rephrased", "reference", "given")
VERIFY_STATUSES = ("correct", "incorrect", "no_answer", "bad_reference", "timeout")


@dataclass(slots=True)
class Trace:
    """One reasoning trace.

    ``steps`` always concatenate to ``text`` (separators stay attached to the step they
    follow), so no character is lost when a trace is split, labelled and re-joined.
    ``status`` is the verifier's verdict; ``correct`` is its boolean view, None when the
    trace could not be judged.
    """

    id: str
    problem_id: str
    text: str
    steps: list[str]
    origin: str
    final_answer: str | None = None
    status: str | None = None
    extraction: str | None = None  # the verifier's rule that found final_answer
    model: str | None = None
    sampling: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    parent_id: str | None = None
    annotation: StepAnnotation | None = None
    label_sets: list[LabelSet] = field(default_factory=list)  # every label source's, by name

    def __post_init__(self) -> None:
        if self.origin not in ORIGINS:
            raise ValueError(f"trace {self.id!r}: origin {self.origin!r} is not one of {ORIGINS}")
        if self.status is not None and self.status not in VERIFY_STATUSES:
            raise ValueError(
                f"trace {self.id!r}: status {self.status!r} is not one of {VERIFY_STATUSES}"
            )
        if "".join(self.steps) != self.text:
            raise ValueError(f"trace {self.id!r}: steps do not join back to the text")
        if self.annotation is not None and len(self.annotation.labels) != len(self.steps):
            raise ValueError(
                f"trace {self.id!r}: {len(self.annotation.labels)} labels for "
                f"{len(self.steps)} steps; labels must align one-to-one with steps"
            )
        try:
            check_aligned(self.label_sets, len(self.steps))
        except ValueError as exc:
            raise ValueError(f"trace {self.id!r}: {exc}") from None

    @property
    def correct(self) -> bool | None:
        if self.status == "correct":
            return True
        if self.status in ("incorrect", "no_answer"):
            return False
        return None

    def to_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "problem_id": self.problem_id,
            "text": self.text,
            "steps": list(self.steps),
            "origin": self.origin,
            "final_answer": self.final_answer,
            "status": self.status,
            "extraction": self.extraction,
            "correct": self.correct,
            "model": self.model,
            "sampling": sampling_to_row(self.id, self.sampling),
            "seed": self.seed,
            "parent_id": self.parent_id,
            "annotation": None if self.annotation is None else self.annotation.to_row(),
            "label_sets": [ls.to_row() for ls in self.label_sets] or None,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Trace:
        ann = row.get("annotation")
        trace = cls(
            id=row["id"],
            problem_id=row["problem_id"],
            text=row["text"],
            steps=list(row["steps"]),
            origin=row["origin"],
            final_answer=row["final_answer"],
            status=row["status"],
            extraction=row.get("extraction"),
            model=row["model"],
            sampling=sampling_from_row(row.get("sampling")),
            seed=row["seed"],
            parent_id=row["parent_id"],
            annotation=None if ann is None else StepAnnotation.from_row(ann),
            label_sets=[LabelSet.from_row(x) for x in row.get("label_sets") or []],
        )
        if row.get("correct") != trace.correct:
            raise ValueError(
                f"trace {trace.id!r}: 'correct' disagrees with status {trace.status!r}"
            )
        return trace

"""A problem with its reference solution, as every source yields it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from supdata.core.records.trace import Trace


@dataclass(slots=True)
class Problem:
    """One task to solve.

    ``solutions`` holds solutions that arrive with the source itself (ProcessBench's
    model solutions with human step labels); builders add their own traces separately.
    """

    id: str
    question: str
    reference_solution: str = ""
    reference_answer: str | None = None
    source: str = ""
    level: int | None = None
    subject: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    solutions: list[Trace] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a problem needs a non-empty id")
        if not isinstance(self.question, str) or not self.question.strip():
            raise ValueError(f"problem {self.id!r} has an empty question")

    def to_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "reference_solution": self.reference_solution,
            "reference_answer": self.reference_answer,
            "source": self.source,
            "level": self.level,
            "subject": self.subject,
            "meta": json.dumps(self.meta, ensure_ascii=False),
            "solutions": [t.to_row() for t in self.solutions],
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Problem:
        return cls(
            id=row["id"],
            question=row["question"],
            reference_solution=row["reference_solution"],
            reference_answer=row["reference_answer"],
            source=row["source"],
            level=row["level"],
            subject=row["subject"],
            meta=json.loads(row["meta"]),
            solutions=[Trace.from_row(t) for t in row.get("solutions") or []],
        )

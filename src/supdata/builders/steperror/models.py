"""Row models of the steperror configs: preference pairs, exact-ER mixtures and the
teachers' samples."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from supdata.core.records import Trace
from supdata.core.records.models import SampleRow
from supdata.core.rows import Row, Text


class PairRow(Row):
    """One preference pair per problem (DPO-ready): chosen = a correct sample, or the
    reference restyled by the model (flagged); rejected = a wrong sample."""

    id: Text
    problem_id: Text
    prompt: Text
    chosen: Text
    rejected: Text
    chosen_origin: Literal["sampled", "restyled"]
    chosen_trace_id: Text
    rejected_trace_id: Text
    reference_answer: str


class RephrasedRow(PairRow):
    """A pair whose task, chosen and rejected were paraphrased, answers kept."""

    original_prompt: Text


class SubNegative(Row):
    """A subproblem's synthetic negative that a composed negative was built from."""

    subtask_id: Text
    error_kind: Literal["computation", "wrong_method"]
    negative: Text


class NegativeRow(PairRow):
    """A pair whose rejected solution is a synthetic negative: the chosen (correct)
    solution rewritten as a whole with a computation error or a wrong method, or (kind
    ``composed``) the paper's full negative composed from its subproblems' negatives."""

    error_kind: Annotated[
        Literal["computation", "wrong_method", "composed"],
        Field(
            description="computation / wrong_method: a whole-solution rewrite; composed: "
            "written by the composer from the subproblems' negatives (sub_negatives)"
        ),
    ]
    sub_negatives: Annotated[
        list[SubNegative],
        Field(
            description="composed: every subproblem negative the composer was given, in "
            "subproblem order (it may use one or more of them); empty for rewrites"
        ),
    ]


class TeacherSampleRow(SampleRow):
    """A teacher's sampled solution (the same problems and prompt as the actor's), split
    into steps, verified and, with an annotator, labelled step by step. Records are
    (teacher, trace) pairs."""

    teacher: Annotated[
        str,
        Field(min_length=1, description="the recipe engine (teachers[].engine) that sampled it"),
    ]

    @classmethod
    def encode(cls, record: tuple[str, Trace]) -> dict[str, Any]:
        teacher, trace = record
        return {**trace.to_row(), "teacher": teacher}

    @classmethod
    def decode(cls, row: dict[str, Any]) -> tuple[str, Trace]:
        row = dict(row)
        teacher = row.pop("teacher")
        return teacher, Trace.from_row(row)

"""Row models of the steperror configs: preference pairs and exact-ER mixtures."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

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


class NegativeRow(PairRow):
    """A pair whose rejected solution is a synthetic negative: the chosen (correct)
    solution rewritten as a whole with a computation error or a wrong method."""

    error_kind: Literal["computation", "wrong_method"]


class MixRow(Row):
    """One solution per problem of a pool; exactly round(ER x M) of the M rows take the
    wrong (rejected) solution."""

    id: Text
    problem_id: Text
    prompt: Text
    completion: Text
    correct: bool
    taken: Literal["chosen", "rejected"]
    er_target: Annotated[float, Field(ge=0, le=1)]
    reference_answer: str
    part: Annotated[
        str,
        Field(
            min_length=1,
            description="the pool (and for named mixtures the POOL@ER) the row came from",
        ),
    ]

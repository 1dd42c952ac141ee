"""Row models of the critique configs: step-level critiques and SFT conversations."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from supdata.core.records.labels import check_aligned
from supdata.core.records.models import LabelSetRow
from supdata.core.rows import Completion, Int32, Messages, Row, Text
from supdata.ops.verdict import VERDICT_WORDS


class CritiqueRow(Row):
    """A flawed path with a step-level critique that passed the consistency and
    refinement filters."""

    id: Text
    problem_id: Text
    question: Text
    response: Text
    steps: Annotated[list[str], Field(min_length=1)]
    critique: Annotated[
        str, Field(pattern=f"Correctness of the final answer: ({'|'.join(VERDICT_WORDS)})")
    ]
    labels: Annotated[list[bool], Field(min_length=1)]
    first_error_step: Annotated[Int32, Field(ge=-1)]
    final_verdict: Literal["Correct", "Wrong"]
    final_correct: bool
    method: Literal["rg1", "rg2", "rg3"]
    known_error_step: Annotated[Int32, Field(ge=-1)]
    error_type: str | None
    refine_success_rate: Annotated[float, Field(ge=0, le=1)]
    refinement: str | None
    reference_answer: str
    actor: Text
    critic: Text
    critique_format: Literal["json", "text"]
    prompt_set: Text  # the prompts: preset (supdata@1, mathcritique)
    prompt_ref: Text  # the critic's template: id@version or file:<name>@<sha256 prefix>
    label_sets: Annotated[
        list[LabelSetRow] | None,
        Field(description="the recipe's labels: sources on the flawed path (docs/labels.md)"),
    ]

    @model_validator(mode="after")
    def _label_sets_align(self) -> CritiqueRow:
        check_aligned(self.label_sets or [], len(self.steps))
        return self


class SftRow(Row):
    """A chat prompt and the assistant completion to train on (TRL's conversational
    prompt-completion format)."""

    id: Text
    problem_id: Text
    prompt: Messages
    completion: Completion
    source: Text
    prompt_set: Text  # the prompts: preset (supdata@1, mathcritique)
    prompt_ref: Text  # the template that rendered prompt: id@version or file:<name>@<sha>


class RoundRow(Row):
    """One kept solution of a critique-in-the-loop round (internal: each round's
    ``selfimprove_rR`` and ``selfimprove_triples`` are made from these)."""

    id: Text
    problem_id: Text
    round: Annotated[Int32, Field(ge=1)]
    source: Literal["sampled", "refined"]
    text: Text  # the kept solution
    response: str | None  # refined: the wrong answer it corrects
    critique: str | None  # refined: the critique the actor read
    actor: Text
    critic: Text


class TripleRow(Row):
    """A critique-in-the-loop triple: a wrong answer, the critic's step-level critique,
    and the actor's correct refinement that passed the anti-shortcut check and dedup."""

    id: Text
    problem_id: Text
    round: Annotated[Int32, Field(ge=1)]
    question: Text
    response: Text
    critique: Text
    refinement: Text
    actor: Text  # the model that answered and refined (fingerprint)
    critic: Text  # the model that critiqued (fingerprint)
    critic_saw_reference: bool
    prompt_set: Text  # the prompts: preset (supdata@1, mathcritique)
    prompt_ref: Text  # the refine template: id@version or file:<name>@<sha256 prefix>

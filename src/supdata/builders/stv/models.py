"""Row models of the stv configs: verifier feedbacks, distillation targets, verifier RL
prompts and verifier-in-the-loop prompts."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from supdata.core.rows import Completion, Int32, Messages, Row, Text

Bin = Annotated[str, Field(min_length=1, description="the problem's pass-rate bin (recipe bins)")]
PassRate = Annotated[
    float,
    Field(ge=0, le=1, description="the generator's pass@1 on the problem over its rollouts"),
]


class VerdictRow(Row):
    """One verifier feedback on one attempt (internal: informed and uninformed)."""

    id: Text
    problem_id: Text
    attempt_id: Text
    role: Literal["informed", "informed_verdict", "student"]
    sample: Int32
    feedback: str
    verdict: bool | None
    verdict_asked: bool
    truth: bool
    bin: Bin
    pass_rate: PassRate
    finish_reason: str | None
    tokens: Int32


class DistillRow(Row):
    """STV targets: informed-verifier feedback matching the truth, with student and
    teacher prompts."""

    id: Text
    problem_id: Text
    attempt_id: Text
    question: Text
    attempt: str
    prompt: Annotated[Messages, Field(description="student messages: problem and attempt")]
    ref_prompt: Annotated[
        Messages,
        Field(description="teacher messages: problem, attempt, reference solution"),
    ]
    completion: Annotated[Completion, Field(description="the target feedback with a verdict")]
    verdict: Annotated[bool, Field(description="the feedback's verdict: True = attempt right")]
    truth: Annotated[bool, Field(description="math-verify: the attempt's answer is right")]
    bin: Bin
    pass_rate: PassRate
    reference_answer: str


class VerifierRlRow(Row):
    """Student verifier prompts with the true verdict (RL on verdict reward)."""

    id: Text
    problem_id: Text
    prompt: Messages
    truth: Annotated[bool, Field(description="the verdict to reward: True = attempt right")]
    bin: Bin
    pass_rate: PassRate
    reference_answer: str


class VilRow(Row):
    """Verifier-in-the-loop prompts: problem, attempt, feedback; ground-truth answer."""

    id: Text
    problem_id: Text
    prompt: Messages
    answer: Annotated[str, Field(min_length=1, description="ground-truth final answer")]
    bin: Bin
    pass_rate: PassRate
    feedback_verdict: Annotated[
        bool, Field(description="the feedback's verdict (a verifier's may be wrong)")
    ]
    feedback_source: Annotated[
        str,
        Field(
            min_length=1,
            description="who wrote the feedback: verifier_engine:<engine> or informed_teacher",
        ),
    ]
    attempt_correct: bool

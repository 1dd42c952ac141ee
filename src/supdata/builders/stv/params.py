"""The ``stv`` builder's recipe section (self-trained verification)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from supdata.builders.spec import SampledParams
from supdata.prompts import check_prompt


class Vil(BaseModel):
    """Where the verifier-in-the-loop rows' feedback comes from."""

    model_config = ConfigDict(extra="forbid")

    feedback: Literal["verifier_engine", "informed_teacher"] = Field(
        "verifier_engine",
        description="verifier_engine: the feedback of `engine` (the trained STV verifier, "
        "uninformed, kept as it is, right or wrong: the paper trains the generator with the "
        "frozen verifier in the loop); informed_teacher: each attempt's first distillation "
        "target (always states the true verdict)",
    )
    engine: str | None = Field(
        None, description="verifier_engine: the recipe engine that verifies (default: verifier)"
    )
    prompt: str = Field("vil_feedback@1", description="the generator's turn after the feedback")

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, ref: str) -> str:
        return check_prompt(ref)


class StvBuilder(SampledParams):
    """Self-trained verification: rollouts binned by pass rate, informed-verifier targets
    (the same model shown the reference), the uninformed verifier on the same attempts,
    and verifier-in-the-loop prompts.

    The sampling fields (n, temperature, max_tokens, ...) are the generator's rollouts.
    """

    kind: Literal["stv"]  # type: ignore[assignment]
    n: int = Field(8, ge=1, le=1024, description="rollouts per problem (the paper: 8)")
    bins: dict[str, str] = Field(
        default_factory=lambda: {"hardest": "[0, 0]", "hard": "(0, 0.2]"},
        min_length=1,
        description="pass-rate bins as intervals: name -> '[lo, hi]', '(lo, hi]', ...; "
        "problems in no bin get no targets",
    )
    verifier: str = Field("actor", description="verifier engine (STV: the generator itself)")
    student_prompt: str = Field("verify@1", description="uninformed verifier prompt")
    informed_prompt: str = Field("verify_informed@1", description="informed (teacher) prompt")
    informed_verdict: bool = Field(
        True,
        description="the targets come from the teacher also told the true verdict (the "
        "paper); false: from the teacher shown the reference only. Both teachers are "
        "measured; the card's headline gap is the reference-only one",
    )
    samples_per_attempt: int = Field(
        4, ge=1, le=64, description="S: verifier samples per attempt (informed and uninformed)"
    )
    verifier_temperature: float = Field(1.0, ge=0, le=10)
    feedback_max_tokens: int = Field(
        512, ge=1, description="upper length bound: feedback cut here is dropped"
    )
    feedback_min_tokens: int = Field(
        16, ge=1, description="lower length bound: shorter feedback is dropped"
    )
    ask_verdict: bool = Field(
        True,
        description="a finished feedback without a verdict line is continued with "
        "'Verdict:' and the verifier picks Correct or Wrong (choice-constrained, greedy), "
        "where the engine supports structured output; counted in the stage stats",
    )
    vil: Vil = Field(default_factory=Vil, description="verifier-in-the-loop rows")

    @field_validator("student_prompt", "informed_prompt")
    @classmethod
    def _prompts(cls, ref: str) -> str:
        return check_prompt(ref)

    @field_validator("bins", mode="before")
    @classmethod
    def _bins_are_text(cls, bins: object) -> object:
        for name, value in (bins or {}).items() if isinstance(bins, dict) else ():
            if not isinstance(value, str):
                raise ValueError(
                    f"bin {name!r}: write the interval as a quoted string, e.g. '[0, 0]' or "
                    f"'(0, 0.2]' (YAML reads an unquoted [0, 0] as a list), not {value!r}"
                )
        return bins

    @field_validator("bins")
    @classmethod
    def _bins(cls, bins: dict[str, str]) -> dict[str, str]:
        from supdata.builders.stv.bins import parse_bins

        parse_bins(bins)  # raises ValueError naming the bin
        return bins

    @property
    def vil_engine(self) -> str:
        return self.vil.engine or self.verifier

    def engine_refs(self) -> dict[str, str]:
        refs = {"engine": self.engine, "verifier": self.verifier}
        if self.vil.feedback == "verifier_engine" and self.vil.engine is not None:
            refs["vil.engine"] = self.vil.engine
        return refs

    def config_errors(self) -> list[tuple[tuple, str]]:
        errors = super().config_errors()
        if self.feedback_min_tokens > self.feedback_max_tokens:
            errors.append(
                (
                    ("feedback_min_tokens",),
                    f"feedback_min_tokens ({self.feedback_min_tokens}) > "
                    f"feedback_max_tokens ({self.feedback_max_tokens})",
                )
            )
        errors += self._unreachable_bins()
        if self.vil.feedback == "informed_teacher" and self.vil.engine is not None:
            errors.append(
                (
                    ("vil", "engine"),
                    "vil.engine names the verifier whose feedback fills the rows; with "
                    "feedback: informed_teacher the rows use the distillation targets instead",
                )
            )
        return errors

    def _unreachable_bins(self) -> list[tuple[tuple, str]]:
        """A bin no pass rate k/n can fall in would stay empty whatever the model does."""
        from supdata.builders.stv.bins import parse_bins

        rates = [k / self.n for k in range(self.n + 1)]
        return [
            (
                ("bins", b.name),
                f"{b} holds no pass rate reachable with n={self.n} rollouts "
                f"(the rates are k/{self.n}: {', '.join(f'{r:g}' for r in rates[:4])}, ...)",
            )
            for b in parse_bins(self.bins)
            if not any(r in b for r in rates)
        ]

    def configs(self) -> tuple[str, ...]:
        return ("samples", "distill", "verifier_rl", "vil")

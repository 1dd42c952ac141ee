"""The ``critique`` builder's recipe section (AutoMathCritique)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from supdata.builders.spec import SampledParams
from supdata.ops.perturb.types import ErrorType
from supdata.prompts import check_prompt

# ``prompts:`` presets: the template each prompt field gets unless the recipe names one.
PROMPT_SETS = {
    "supdata@1": {"prompt": "solve@1", "critic_prompt": "critique@1", "refine_prompt": "refine@1"},
    "mathcritique": {
        "prompt": "mathcritique_solve@1",
        "critic_prompt": "mathcritique_critic@1",
        "refine_prompt": "mathcritique_refine@1",
    },
}

# What the builder gives each template (a user's file may use no other variable).
CRITIC_VARIABLES = {
    "provides": ["question", "reference", "steps", "hint_step", "hint_type", "json_format"],
    "requires": ["question", "steps"],
}
REFINE_VARIABLES = {
    "provides": ["question", "response", "steps", "critique"],
    "requires": ["question", "critique"],
}


class SelfImprove(BaseModel):
    """Critique-in-the-loop self-improvement as AutoMathCritique runs it (selfimprove/):
    R rounds; in each the round's actor samples every problem, correct answers are kept,
    wrong ones are critiqued by a critic that (by default) sees no reference, the actor
    refines, and correct refinements that pass the anti-shortcut check and the dedup are
    kept. The paper retrains the actor from the base model on each round's export; a
    build cannot, so ``actors`` names the model to use in each round."""

    model_config = ConfigDict(extra="forbid")

    rounds: int = Field(1, ge=1, description="rounds (the published ITER_NUM)")
    critic: str | None = Field(
        None, description="engine that critiques wrong answers (default: the builder's critic)"
    )
    critic_sees_reference: bool = Field(
        False,
        description="give the critic the reference solution (an oracle critique; the paper's "
        "trained critic sees none)",
    )
    actors: list[str] | None = Field(
        None,
        min_length=1,
        description="one engine per round (e.g. the model trained on the previous round's "
        "export); default: the builder's engine in every round",
    )
    n: int | None = Field(
        None, ge=1, le=1024, description="answers per problem per round (default: the builder's n)"
    )
    temperature: float | None = Field(
        None, ge=0, le=10, description="round sampling temperature (default: the builder's)"
    )
    dedup_rounds: bool = Field(
        True,
        description="drop a solution an earlier round already kept for the same problem",
    )

    def actor(self, r: int, default: str) -> str:
        """The engine of round ``r`` (1-based)."""
        return self.actors[r - 1] if self.actors else default

    def seed(self, r: int, base: int) -> int:
        """Round ``r``'s sampling and refinement seed: a fresh draw every round."""
        return base + 1009 * r

    def sampling(self, r: int, builder: CritiqueBuilder) -> CritiqueBuilder:
        """The builder's sampling fields as round ``r`` samples: its actor, its seed, and
        this section's ``n`` / ``temperature`` where set."""
        update: dict = {"engine": self.actor(r, builder.engine), "seed": self.seed(r, builder.seed)}
        if self.n is not None:
            update["n"] = self.n
        if self.temperature is not None:
            update["temperature"] = self.temperature
        return builder.model_copy(update=update)


class CritiqueBuilder(SampledParams):
    """AutoMathCritique-style data: flawed paths (RG1/RG2/RG3), step-level critiques by a
    critic given the reference, consistency and refinement filters, and one round of
    critique-in-the-loop self-improvement data.

    The sampling fields (n, temperature, max_tokens, ...) are the actor's RG1 sampling,
    which also gives the correct responses that RG2 and RG3 start from.
    """

    kind: Literal["critique"]  # type: ignore[assignment]
    prompts: Literal["supdata@1", "mathcritique"] = Field(
        "supdata@1",
        description="prompt preset for prompt, critic_prompt and refine_prompt (a field the "
        "recipe sets wins): supdata@1, or mathcritique (the published MathCritique layouts)",
    )
    critic: str = Field("actor", description="engine that writes critiques (sees the reference)")
    methods: list[Literal["rg1", "rg2", "rg3"]] = Field(
        default_factory=lambda: ["rg1", "rg2", "rg3"], min_length=1
    )
    rg1_correct_share: float = Field(
        0.25, ge=0, le=1, description="RG1: correct responses kept, as a share of the wrong ones"
    )
    rg2_temperature: float = Field(1.2, ge=0, le=10, description="RG2: raised temperature")
    rg2_samples: int = Field(
        4, ge=1, le=64, description="RG2: continuations per prefix; the first wrong one is kept"
    )
    rg3_types: list[ErrorType] = Field(
        default_factory=lambda: ["calculation", "wrong_operation", "wrong_result"],
        min_length=1,
        description="RG3: mistake types, rule or model (cycled over the problems)",
    )
    rewriter: str | None = Field(None, description="RG3 model types: rewriting engine")
    rewrite_prompt: str = Field("perturb_step@1")
    critic_prompt: str = Field(
        "critique@1", json_schema_extra={"prompt_variables": CRITIC_VARIABLES}
    )
    critic_max_tokens_per_step: int = Field(
        160,
        ge=8,
        description="critique token cap: this many per step, plus one step's worth and 64 "
        "for the verdict (a critique cut at the cap is rejected and counted)",
    )
    rg2_tolerance: Literal["at_or_after", "exact"] = Field(
        "at_or_after", description="RG2: where the first Wrong step may be, relative to k"
    )
    rg3_tolerance: int = Field(
        0, ge=0, description="RG3: steps the first Wrong step may be off k (0: exactly k)"
    )
    refine_prompt: str = Field("refine@1", json_schema_extra={"prompt_variables": REFINE_VARIABLES})
    refine_n: int = Field(4, ge=1, le=64, description="refinements per critique")
    refine_k: int = Field(1, ge=1, description="keep a critique if >= k refinements are right")
    refine_temperature: float = Field(0.7, ge=0, le=10)
    shortcut: Literal["published", "supdata@1"] = Field(
        "published",
        description="anti-shortcut check of a correct refinement: published (AutoMathCritique's "
        "barrier: at least min(numbers in the reference solution, in the response) - 2 "
        "numbers) or supdata@1 (two or more steps and min_number_ratio of the response's "
        "numbers)",
    )
    min_number_ratio: float = Field(
        0.5,
        ge=0,
        le=1,
        description="shortcut supdata@1: a refinement carries at least this share of the "
        "response's numbers (and two or more steps)",
    )
    selfimprove: SelfImprove | None = Field(
        None,
        description="multi-round critique-in-the-loop (publishes selfimprove_r1..rR and "
        "selfimprove_triples instead of the one-round, reference-seeing selfimprove_sft)",
    )

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, data: object) -> object:
        """The preset's templates for the prompt fields the recipe leaves unset."""
        if isinstance(data, dict) and data.get("prompts") in PROMPT_SETS:
            data = {**PROMPT_SETS[data["prompts"]], **data}
        return data

    @field_validator("rewrite_prompt", "critic_prompt", "refine_prompt")
    @classmethod
    def _prompts(cls, ref: str) -> str:
        return check_prompt(ref)

    def engine_refs(self) -> dict[str, str]:
        refs = {"engine": self.engine, "critic": self.critic}
        if self.rewriter is not None:
            refs["rewriter"] = self.rewriter
        loop = self.selfimprove
        if loop is not None:
            if loop.critic is not None:
                refs["selfimprove.critic"] = loop.critic
            for i, name in enumerate(loop.actors or []):
                refs[f"selfimprove.actors.{i}"] = name
        return refs

    def label_errors(self) -> list[tuple[tuple, str]]:
        """labels: label the flawed paths (the critiques config's label_sets); their
        labels stay the critic's, so use_labels does not apply."""
        errors = super().label_errors()
        if self.use_labels is not None:
            errors.append(
                (
                    ("use_labels",),
                    "critique rows keep the critic's labels; label_sets hold the rest",
                )
            )
        return errors

    def config_errors(self) -> list[tuple[tuple, str]]:
        errors = super().config_errors()
        if self.refine_k > self.refine_n:
            errors.append(
                (("refine_k",), f"refine_k ({self.refine_k}) > refine_n ({self.refine_n})")
            )
        loop = self.selfimprove
        if loop is not None and loop.actors is not None and len(loop.actors) != loop.rounds:
            errors.append(
                (
                    ("selfimprove", "actors"),
                    f"{len(loop.actors)} actors for {loop.rounds} rounds: name one engine "
                    "per round, or leave actors out to use the builder's engine in every round",
                )
            )
        return errors

    def configs(self) -> tuple[str, ...]:
        base = ("critiques", "critic_sft", "refine_sft")
        if self.selfimprove is None:
            return (*base, "selfimprove_sft")
        rounds = range(1, self.selfimprove.rounds + 1)
        return (*base, *(f"selfimprove_r{r}" for r in rounds), "selfimprove_triples")

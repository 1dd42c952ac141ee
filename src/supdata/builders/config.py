"""The ``builders:`` section: each builder's params, validated with the recipe."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

# Every build publishes these; builders add their own.
BASE_CONFIGS = ("problems", "references")


class SampleBuilder(BaseModel):
    """Sample N solutions per problem, segment them, verify them: the ``samples`` config."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["sample"]
    engine: str = Field("actor", description="engine name from the recipe's engines:")
    prompt: str = Field("solve@1", description="prompt template id[@version]")
    n: int = Field(4, ge=1, le=1024, description="solutions per problem")
    temperature: float = Field(1.0, ge=0, le=10)
    top_p: float = Field(1.0, gt=0, le=1)
    top_k: int = Field(-1, ge=-1)
    max_tokens: int = Field(512, ge=1, description="output token cap per solution")
    max_tokens_per_reference: float | None = Field(
        None,
        gt=0,
        description="cap each solution at this multiple of its reference solution's length "
        "in the engine's tokens (the paper: 1.5); max_tokens stays the upper bound",
    )
    min_tokens: int = Field(64, ge=1, description="lower bound of a reference-relative cap")
    seed: int = Field(0, ge=0, description="base seed; each problem derives its own")

    @field_validator("prompt")
    @classmethod
    def _prompt_exists(cls, ref: str) -> str:
        return _check_prompt(ref)

    def engine_refs(self) -> dict[str, str]:
        return {"engine": self.engine}

    def config_errors(self) -> list[tuple[tuple, str]]:
        """Checks across this builder's fields: (field path, message) pairs."""
        return []

    def configs(self) -> tuple[str, ...]:
        return ("samples",)


RuleType = Literal["wrong_result", "swap_operator", "flip_sign", "drop_term"]
ModelType = Literal[
    "calculation",
    "wrong_operation",
    "misread_quantity",
    "wrong_formula",
    "skipped_condition",
    "unit_conversion",
]
RULE_TYPES: tuple[str, ...] = RuleType.__args__
MODEL_TYPES: tuple[str, ...] = ModelType.__args__
ErrorType = Literal[
    "wrong_result",
    "swap_operator",
    "flip_sign",
    "drop_term",
    "calculation",
    "wrong_operation",
    "misread_quantity",
    "wrong_formula",
    "skipped_condition",
    "unit_conversion",
]
NAMED_POSITIONS = ("first", "middle", "last", "random")


def _check_prompt(ref: str) -> str:
    from supdata.prompts import load_prompt

    load_prompt(ref)  # raises PromptError (a ValueError) naming what exists
    return ref


class PerturbBuilder(BaseModel):
    """Inject step errors with exact control: the ``perturbed`` config.

    Every base solution (a verified reference, or a correct sample) is tried at every
    target SWER of the grid, cycling through (position, type) pairs, so each grid value
    gets its own rows. Rule types edit one computation (and carry it); model types have
    a rewriter model put that kind of mistake into step k and the actor continue from
    there. Labels are known by construction.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["perturb"]
    swer_grid: list[float] = Field(
        default_factory=lambda: [0.25, 0.5, 0.75, 1.0],
        min_length=1,
        description="target step-wise error rates, each in (0, 1]",
    )
    positions: list[str | int] = Field(
        default_factory=lambda: ["random"],
        min_length=1,
        description="where the first rule error goes: first, middle, last, random or a step "
        "number (1-based); model types: set by the SWER target",
    )
    types: list[ErrorType] = Field(
        default_factory=lambda: list(RULE_TYPES),
        min_length=1,
        description=f"error types: rule {list(RULE_TYPES)} and/or model {list(MODEL_TYPES)}",
    )
    apply_to: list[Literal["references", "correct_samples"]] = Field(
        default_factory=lambda: ["references"],
        min_length=1,
        description="what to perturb: verified references and/or correct sampled solutions",
    )
    carry: bool = Field(True, description="rule types: carry the wrong value to later steps")
    engine: str | None = Field(None, description="model types: the actor that continues")
    rewriter: str | None = Field(
        None, description="model types: engine that rewrites step k (default: engine)"
    )
    rewrite_prompt: str = Field("perturb_step@1", description="prompt that rewrites step k")
    continue_prompt: str = Field("solve@1", description="prompt the actor continues under")
    temperature: float = Field(0.7, ge=0, le=10, description="model types: rewrite/continue")
    max_tokens: int = Field(512, ge=1, description="model types: continuation token cap")
    length_ratio: tuple[float, float] = Field(
        (0.7, 1.3), description="model types: keep when length / base length is in this range"
    )
    swer_tolerance: float = Field(
        0.0,
        ge=0,
        le=1,
        description="model types: accept |SWER - target| up to this (0: exactly round(t x n))",
    )
    seed: int = Field(0, ge=0)

    @field_validator("swer_grid")
    @classmethod
    def _in_range(cls, grid: list[float]) -> list[float]:
        bad = [g for g in grid if not 0 < g <= 1]
        if bad:
            raise ValueError(f"SWER targets must be in (0, 1]; got {bad}")
        return grid

    @field_validator("positions")
    @classmethod
    def _positions(cls, positions: list[str | int]) -> list[str | int]:
        for i, p in enumerate(positions):
            if isinstance(p, int) and p < 1:
                raise ValueError(f"[{i}]: a step number counts from 1, got {p}")
            if isinstance(p, str) and p not in NAMED_POSITIONS:
                raise ValueError(
                    f"[{i}]: {p!r} is not a step number or one of {list(NAMED_POSITIONS)}"
                )
        return positions

    @field_validator("rewrite_prompt", "continue_prompt")
    @classmethod
    def _prompts(cls, ref: str) -> str:
        return _check_prompt(ref)

    @field_validator("length_ratio")
    @classmethod
    def _ratio(cls, ratio: tuple[float, float]) -> tuple[float, float]:
        if not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f"length_ratio must be (low, high) with 0 < low <= high; got {ratio}")
        return ratio

    @property
    def model_types(self) -> list[str]:
        return [t for t in self.types if t in MODEL_TYPES]

    def engine_refs(self) -> dict[str, str]:
        refs = {}
        if self.engine is not None:
            refs["engine"] = self.engine
        if self.rewriter is not None:
            refs["rewriter"] = self.rewriter
        return refs

    def config_errors(self) -> list[tuple[tuple, str]]:
        if self.model_types and self.engine is None:
            return [
                (
                    ("engine",),
                    f"model error types {self.model_types} need `engine:` (the actor that "
                    "continues after the rewritten step)",
                )
            ]
        return []

    def configs(self) -> tuple[str, ...]:
        return ("perturbed",)


def er_name(er: float, pool: str = "hard") -> str:
    return f"{pool}_er{round(er * 100):02d}"


def _er_grid(grid: list[float], pool: str) -> list[float]:
    bad = [g for g in grid if not 0 <= g <= 1]
    if bad:
        raise ValueError(f"outcome error rates must be in [0, 1]; got {bad}")
    names = [er_name(g, pool) for g in grid]
    if len(set(names)) != len(names):
        raise ValueError(f"two rates name the same config: {names}")
    return grid


def _default_grid() -> list[float]:
    return [i / 10 for i in range(11)]


class Decompose(BaseModel):
    """Split each hard (paired) problem into self-contained subproblems whose solutions
    come from the reference; keep those that pass the checks and that the decomposer
    reproduces; then the actor samples them like the hard problems."""

    model_config = ConfigDict(extra="forbid")

    engine: str | None = Field(None, description="decomposer engine (default: the actor)")
    prompt: str = Field("decompose@1", description="prompt that writes the subproblems")
    min_subtasks: int = Field(2, ge=1, le=10)
    max_subtasks: int = Field(3, ge=1, le=10)
    max_tokens: int = Field(1024, ge=1, description="token cap of the decomposition")
    temperature: float = Field(0.7, ge=0, le=10)
    reproduce_samples: int = Field(
        4, ge=1, le=64, description="m: a subproblem is kept if its answer comes back in m"
    )
    max_similarity: float = Field(
        0.8, gt=0, le=1, description="a subproblem this similar to the full problem is a variant"
    )
    er_grid: list[float] = Field(
        default_factory=_default_grid, min_length=1, description="sub_erXX rates"
    )

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, ref: str) -> str:
        return _check_prompt(ref)

    @field_validator("er_grid")
    @classmethod
    def _grid(cls, grid: list[float]) -> list[float]:
        return _er_grid(grid, "sub")

    @model_validator(mode="after")
    def _bounds(self) -> Decompose:
        if self.min_subtasks > self.max_subtasks:
            raise ValueError(
                f"min_subtasks ({self.min_subtasks}) > max_subtasks ({self.max_subtasks})"
            )
        return self


class Rephrase(BaseModel):
    """Paraphrase task, pos and neg of every pair separately; keep a pair only when the
    question keeps its numbers and each solution keeps its final answer (verified)."""

    model_config = ConfigDict(extra="forbid")

    engine: str | None = Field(None, description="paraphrasing engine (default: the actor)")
    question_prompt: str = Field("rephrase_question@1")
    solution_prompt: str = Field("rephrase_solution@1")
    temperature: float = Field(0.7, ge=0, le=10)
    er_grid: list[float] = Field(
        default_factory=list, description="rephrased_erXX rates (none by default)"
    )

    @field_validator("question_prompt", "solution_prompt")
    @classmethod
    def _prompts(cls, ref: str) -> str:
        return _check_prompt(ref)

    @field_validator("er_grid")
    @classmethod
    def _grid(cls, grid: list[float]) -> list[float]:
        return _er_grid(grid, "rephrased")


MIX_POOLS = {"hard": "pairs", "sub": "sub_pairs", "rephrased": "rephrased"}
_PART = re.compile(r"^(?P<pool>[a-z]+)@(?P<er>[0-9.]+)$")


def parse_part(part: str) -> tuple[str, float]:
    """``hard@0.5`` -> ("hard", 0.5)."""
    m = _PART.match(part.strip())
    if m is None:
        raise ValueError(f"mixture part {part!r} is not POOL@ER (e.g. hard@0.5, sub@0.1)")
    pool, er = m["pool"], float(m["er"])
    if pool not in MIX_POOLS:
        raise ValueError(f"mixture part {part!r}: unknown pool {pool!r}; pools: {list(MIX_POOLS)}")
    if not 0 <= er <= 1:
        raise ValueError(f"mixture part {part!r}: ER must be in [0, 1]")
    return pool, er


class SteperrorBuilder(SampleBuilder):
    """Samples, DPO pairs and outcome-error-rate mixtures (weak-to-strong supervision).

    pos = a correct sample, else the reference restyled by the model (kept only when it
    still verifies); neg = a wrong sample; problems without a wrong sample are dropped.
    For each ER of the grid, exactly round(ER x M) of the M paired problems (seeded
    choice) take their neg solution: config ``hard_erXX``. Optional: subtask
    decompositions (``subtasks``, ``sub_samples``, ``sub_pairs``, ``sub_erXX``),
    rephrasings (``rephrased``) and named mixtures (``mix_<name>``).
    """

    kind: Literal["steperror"]  # type: ignore[assignment]
    restyle_prompt: str = Field("restyle@1", description="prompt that restyles a reference")
    er_grid: list[float] = Field(
        default_factory=_default_grid,
        min_length=1,
        description="outcome error rates, each in [0, 1]",
    )
    er_seed: int = Field(0, ge=0, description="seed for choosing which problems take neg")
    annotator: str | None = Field(
        None, description="engine that labels every sampled step, given the reference"
    )
    label_prompt: str = Field("label_steps@1", description="prompt for the step labels")
    decompose: Decompose | None = Field(None, description="subtask decomposition")
    rephrase: Rephrase | None = Field(None, description="rephrased pairs")
    mixtures: dict[str, list[str]] = Field(
        default_factory=dict,
        description="config mix_<name>: the rows of each part POOL@ER (hard, sub, rephrased)",
    )

    @field_validator("er_grid")
    @classmethod
    def _er_range(cls, grid: list[float]) -> list[float]:
        return _er_grid(grid, "hard")

    @field_validator("restyle_prompt", "label_prompt")
    @classmethod
    def _restyle_exists(cls, ref: str) -> str:
        return _check_prompt(ref)

    @field_validator("mixtures")
    @classmethod
    def _mixtures(cls, mixtures: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, parts in mixtures.items():
            if not re.fullmatch(r"[a-z0-9_]+", name):
                raise ValueError(f"mixture name {name!r}: use lowercase letters, digits and _")
            if not parts:
                raise ValueError(f"mixture {name!r} has no parts")
            parsed = [parse_part(p) for p in parts]
            if len(set(parsed)) != len(parsed):
                raise ValueError(f"mixture {name!r} names a part twice")
        return mixtures

    def engine_refs(self) -> dict[str, str]:
        refs = {"engine": self.engine}
        if self.annotator is not None:
            refs["annotator"] = self.annotator
        if self.decompose is not None and self.decompose.engine is not None:
            refs["decompose.engine"] = self.decompose.engine
        if self.rephrase is not None and self.rephrase.engine is not None:
            refs["rephrase.engine"] = self.rephrase.engine
        return refs

    def config_errors(self) -> list[tuple[tuple, str]]:
        needs = {"sub": ("decompose", self.decompose), "rephrased": ("rephrase", self.rephrase)}
        errors = []
        for name, parts in self.mixtures.items():
            for j, part in enumerate(parts):
                pool, _ = parse_part(part)
                if pool in needs and needs[pool][1] is None:
                    errors.append(
                        (
                            ("mixtures", name, j),
                            f"part {part!r} needs `{needs[pool][0]}:` in this builder",
                        )
                    )
        return errors

    def configs(self) -> tuple[str, ...]:
        made = ["samples", "pairs", *(er_name(g) for g in self.er_grid)]
        if self.decompose is not None:
            made += ["subtasks", "sub_samples", "sub_pairs"]
            made += [er_name(g, "sub") for g in self.decompose.er_grid]
        if self.rephrase is not None:
            made += ["rephrased", *(er_name(g, "rephrased") for g in self.rephrase.er_grid)]
        made += [f"mix_{name}" for name in self.mixtures]
        return tuple(made)


class CritiqueBuilder(SampleBuilder):
    """AutoMathCritique-style data: flawed paths (RG1/RG2/RG3), step-level critiques by a
    critic given the reference, consistency and refinement filters, and one round of
    critique-in-the-loop self-improvement data.

    The sampling fields (n, temperature, max_tokens, ...) are the actor's RG1 sampling,
    which also gives the correct responses that RG2 and RG3 start from.
    """

    kind: Literal["critique"]  # type: ignore[assignment]
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
    critic_prompt: str = Field("critique@1")
    rg2_tolerance: Literal["at_or_after", "exact"] = Field(
        "at_or_after", description="RG2: where the first Wrong step may be, relative to k"
    )
    rg3_tolerance: int = Field(
        0, ge=0, description="RG3: steps the first Wrong step may be off k (0: exactly k)"
    )
    refine_prompt: str = Field("refine@1")
    refine_n: int = Field(4, ge=1, le=64, description="refinements per critique")
    refine_k: int = Field(1, ge=1, description="keep a critique if >= k refinements are right")
    refine_temperature: float = Field(0.7, ge=0, le=10)
    min_number_ratio: float = Field(
        0.5,
        ge=0,
        le=1,
        description="anti-shortcut: a refinement carries at least this share of the "
        "response's numbers (and two or more steps)",
    )

    @field_validator("rewrite_prompt", "critic_prompt", "refine_prompt")
    @classmethod
    def _prompts(cls, ref: str) -> str:
        return _check_prompt(ref)

    def engine_refs(self) -> dict[str, str]:
        refs = {"engine": self.engine, "critic": self.critic}
        if self.rewriter is not None:
            refs["rewriter"] = self.rewriter
        return refs

    def config_errors(self) -> list[tuple[tuple, str]]:
        if self.refine_k > self.refine_n:
            return [(("refine_k",), f"refine_k ({self.refine_k}) > refine_n ({self.refine_n})")]
        return []

    def configs(self) -> tuple[str, ...]:
        return ("critiques", "critic_sft", "refine_sft", "selfimprove_sft")


class StvBuilder(SampleBuilder):
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
        True, description="the teacher prompt also states the ground-truth verdict"
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
    vil_prompt: str = Field("vil_feedback@1", description="verifier-in-the-loop turn template")

    @field_validator("student_prompt", "informed_prompt", "vil_prompt")
    @classmethod
    def _prompts(cls, ref: str) -> str:
        return _check_prompt(ref)

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
        from supdata.stv.bins import parse_bins

        parse_bins(bins)  # raises ValueError naming the bin
        return bins

    def engine_refs(self) -> dict[str, str]:
        return {"engine": self.engine, "verifier": self.verifier}

    def config_errors(self) -> list[tuple[tuple, str]]:
        if self.feedback_min_tokens > self.feedback_max_tokens:
            return [
                (
                    ("feedback_min_tokens",),
                    f"feedback_min_tokens ({self.feedback_min_tokens}) > "
                    f"feedback_max_tokens ({self.feedback_max_tokens})",
                )
            ]
        return []

    def configs(self) -> tuple[str, ...]:
        return ("samples", "distill", "verifier_rl", "vil")


Builder = Annotated[
    SampleBuilder | SteperrorBuilder | PerturbBuilder | CritiqueBuilder | StvBuilder,
    Field(discriminator="kind"),
]
BUILDER_KINDS = {
    "sample": SampleBuilder,
    "steperror": SteperrorBuilder,
    "perturb": PerturbBuilder,
    "critique": CritiqueBuilder,
    "stv": StvBuilder,
}

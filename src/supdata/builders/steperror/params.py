"""The ``steperror`` builder's recipe section: sampling, pairs, ER grids, subtasks,
rephrasings and named mixtures."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from supdata.builders.spec import SampledParams
from supdata.ops.mixture import check_er_grid, er_name
from supdata.ops.sampling import SamplingSection
from supdata.prompts import check_prompt


def _default_grid() -> list[float]:
    return [i / 10 for i in range(11)]


class SubtaskCount(BaseModel):
    """References of [min_tokens, max_tokens) tokens split into ``subtasks`` subproblems."""

    model_config = ConfigDict(extra="forbid")

    min_tokens: int = Field(ge=0)
    max_tokens: int = Field(gt=0)
    subtasks: int = Field(ge=1, le=10)

    @model_validator(mode="after")
    def _range(self) -> SubtaskCount:
        if self.min_tokens >= self.max_tokens:
            raise ValueError(f"min_tokens ({self.min_tokens}) >= max_tokens ({self.max_tokens})")
        return self


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
    subtasks_by_reference_tokens: list[SubtaskCount] | None = Field(
        None,
        description="the number of subproblems set by the reference's length in the "
        "decomposer's tokens; a reference outside every range is skipped and counted (the "
        "paper: 2 for 400-1000 tokens, 3 for 1000-1600); unset: min_subtasks-max_subtasks",
    )
    min_solution_steps: int = Field(
        2, ge=1, description="a sub-solution of fewer steps is too simple (the paper: not one step)"
    )
    max_reference_share: float = Field(
        0.9,
        gt=0,
        le=1,
        description="a sub-solution longer than this share of the reference's words is "
        "nearly all of it (the paper: neither one step nor nearly all)",
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
        return check_prompt(ref)

    @field_validator("subtasks_by_reference_tokens")
    @classmethod
    def _ordered(cls, ranges: list[SubtaskCount] | None) -> list[SubtaskCount] | None:
        for a, b in zip(ranges or [], (ranges or [])[1:], strict=False):
            if b.min_tokens < a.max_tokens:
                raise ValueError(
                    f"ranges must ascend without overlap: [{b.min_tokens}, {b.max_tokens}) "
                    f"starts before [{a.min_tokens}, {a.max_tokens}) ends"
                )
        return ranges

    def subtask_count(self, reference_tokens: int) -> tuple[int, int] | None:
        """(low, high) subproblems for a reference this long; None: skip it."""
        if self.subtasks_by_reference_tokens is None:
            return self.min_subtasks, self.max_subtasks
        for r in self.subtasks_by_reference_tokens:
            if r.min_tokens <= reference_tokens < r.max_tokens:
                return r.subtasks, r.subtasks
        return None

    @field_validator("er_grid")
    @classmethod
    def _grid(cls, grid: list[float]) -> list[float]:
        return check_er_grid(grid, "sub")

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
    max_tokens: int = Field(1024, ge=1, description="token cap of each paraphrase")
    er_grid: list[float] = Field(
        default_factory=list, description="rephrased_erXX rates (none by default)"
    )

    @field_validator("question_prompt", "solution_prompt")
    @classmethod
    def _prompts(cls, ref: str) -> str:
        return check_prompt(ref)

    @field_validator("er_grid")
    @classmethod
    def _grid(cls, grid: list[float]) -> list[float]:
        return check_er_grid(grid, "rephrased")


class Negatives(BaseModel):
    """Synthetic negatives (the paper's earlier route): whole-solution rewrites of each
    pair's correct solution, with a computation error or a wrong method."""

    model_config = ConfigDict(extra="forbid")

    engine: str | None = Field(None, description="rewriting engine (default: the actor)")
    kinds: list[Literal["computation", "wrong_method"]] = Field(
        default_factory=lambda: ["computation", "wrong_method"], min_length=1
    )
    length_ratio: tuple[float, float] = Field(
        (0.7, 1.3), description="kept when its words are lo-hi x the correct solution's"
    )
    temperature: float = Field(0.7, ge=0, le=10)
    max_tokens: int = Field(1024, ge=1)
    prompts: dict[str, str] = Field(
        default_factory=lambda: {
            "computation": "negative_computation@1",
            "wrong_method": "negative_method@1",
        },
        description="the rewrite prompt per kind",
    )
    compose_from_subtasks: bool = Field(
        False,
        description="also the paper's composed full negative (needs decompose:): every kept "
        "subproblem's solution is rewritten like a full one, and the composer turns the "
        "subproblems' correct and wrong solutions into one wrong solution of the full "
        "problem (error_kind composed), checked like a rewrite",
    )
    compose_prompt: str = Field(
        "negative_composed@1",
        description="the composer's prompt (default: the paper's full_neg_ans_0827)",
    )

    @field_validator("prompts")
    @classmethod
    def _prompts(cls, prompts: dict[str, str]) -> dict[str, str]:
        for ref in prompts.values():
            check_prompt(ref)
        return prompts

    @field_validator("compose_prompt")
    @classmethod
    def _compose_prompt(cls, ref: str) -> str:
        return check_prompt(ref)

    @model_validator(mode="after")
    def _consistent(self) -> Negatives:
        lo, hi = self.length_ratio
        if not 0 < lo <= hi:
            raise ValueError(f"length_ratio [{lo}, {hi}] must be [lo, hi] with 0 < lo <= hi")
        missing = sorted(set(self.kinds) - set(self.prompts))
        if missing:
            raise ValueError(f"no prompt for kinds {missing}")
        return self


class Teacher(BaseModel):
    """Another engine that samples the same problems as the actor (the paper's teacher
    study). Sampling fields left unset take the builder's own (prompt, n, temperature,
    top_p, max_tokens, ...), so every teacher answers the same prompts."""

    model_config = ConfigDict(extra="forbid")

    engine: str = Field(description="engine name from the recipe's engines:")
    n: int | None = Field(None, ge=1, le=1024, description="solutions per problem")
    temperature: float | None = Field(None, ge=0, le=10)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1, description="output token cap per solution")
    seed: int | None = Field(None, ge=0, description="base seed (default: the builder's)")

    def sampling(self, base: SamplingSection) -> SamplingSection:
        """The builder's sampling section with this teacher's engine and overrides."""
        fields = base.model_dump(include=set(SamplingSection.model_fields))
        return SamplingSection(**{**fields, **self.model_dump(exclude_none=True)})


def teacher_config(er: float, engine: str) -> str:
    """``teacher_er90_<engine>``: one teacher's solutions at the target outcome ER."""
    return f"{er_name(er, 'teacher')}_{engine}"


_TEACHER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

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


class SteperrorBuilder(SampledParams):
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
    pools: Literal["all", "matched"] = Field(
        "all",
        description="matched: hard_erXX and the mixtures' hard and rephrased parts use only "
        "problems that kept a subtask pair, so hard and subtask supervision are compared on "
        "the same problems (the paper's formulate_pref_pairs); needs decompose:",
    )
    choose: Literal["first", "random"] = Field(
        "first",
        description="which eligible correct / wrong sample a pair takes: the first, or one "
        "at random, seeded per problem (the paper's formulate_pref_pairs picks at random)",
    )
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
    judge: str | None = Field(
        None,
        description="an engine that also judges every sampled answer (the paper's LLM "
        "judge rules: rounding and equivalent forms equal, N/A excluded); math-verify stays "
        "the verdict, the card reports their agreement",
    )
    judge_prompt: str = Field("judge@1", description="prompt for the judge")
    decompose: Decompose | None = Field(None, description="subtask decomposition")
    rephrase: Rephrase | None = Field(None, description="rephrased pairs")
    negatives: Negatives | None = Field(None, description="synthetic negatives (rewrites)")
    mixtures: dict[str, list[str]] = Field(
        default_factory=dict,
        description="config mix_<name>: the rows of each part POOL@ER (hard, sub, rephrased)",
    )
    teachers: list[Teacher] = Field(
        default_factory=list,
        description="engines that each sample the same problems as the actor, verified and "
        "labelled by the annotator like the actor's samples: config teacher_samples, and "
        "per-teacher outcome ER and SWER in the card",
    )
    teacher_target_er: float | None = Field(
        None,
        description="in (0, 1]: config teacher_erXX_<engine> per teacher, one complete "
        "solution per problem, wrong for round(ER x M) of its M problems (the paper's ~90% "
        "ER teacher study); a teacher short of wrong (or right) samples leaves those slots "
        "empty and the card counts them",
    )

    @field_validator("er_grid")
    @classmethod
    def _er_range(cls, grid: list[float]) -> list[float]:
        return check_er_grid(grid, "hard")

    @field_validator("teacher_target_er")
    @classmethod
    def _target_er(cls, er: float | None) -> float | None:
        if er is not None and not 0 < er <= 1:
            raise ValueError(f"teacher_target_er must be in (0, 1]; got {er}")
        return er

    @field_validator("restyle_prompt", "label_prompt", "judge_prompt")
    @classmethod
    def _restyle_exists(cls, ref: str) -> str:
        return check_prompt(ref)

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
        if self.judge is not None:
            refs["judge"] = self.judge
        if self.decompose is not None and self.decompose.engine is not None:
            refs["decompose.engine"] = self.decompose.engine
        if self.rephrase is not None and self.rephrase.engine is not None:
            refs["rephrase.engine"] = self.rephrase.engine
        if self.negatives is not None and self.negatives.engine is not None:
            refs["negatives.engine"] = self.negatives.engine
        for i, teacher in enumerate(self.teachers):
            refs[f"teachers.{i}.engine"] = teacher.engine
        return refs

    def config_errors(self) -> list[tuple[tuple, str]]:
        needs = {"sub": ("decompose", self.decompose), "rephrased": ("rephrase", self.rephrase)}
        errors = super().config_errors()
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
        composes = self.negatives is not None and self.negatives.compose_from_subtasks
        if composes and self.decompose is None:
            errors.append(
                (
                    ("negatives", "compose_from_subtasks"),
                    "composes from subproblem negatives: add `decompose:`",
                )
            )
        if self.pools == "matched" and self.decompose is None:
            errors.append(
                (("pools",), "pools: matched keeps problems with a subtask pair: add `decompose:`")
            )
        return errors + self._teacher_errors()

    def _teacher_errors(self) -> list[tuple[tuple, str]]:
        errors: list[tuple[tuple, str]] = []
        base = self.sampling_errors()
        seen: dict[str, int] = {}
        for i, teacher in enumerate(self.teachers):
            path = ("teachers", i, "engine")
            if teacher.engine in seen:
                errors.append(
                    (path, f"{teacher.engine!r} is already teachers[{seen[teacher.engine]}]")
                )
            elif not _TEACHER_NAME.match(teacher.engine):
                errors.append(
                    (path, f"{teacher.engine!r} names configs: use letters, digits, _ . -")
                )
            seen.setdefault(teacher.engine, i)
            own = [e for e in teacher.sampling(self).sampling_errors() if e not in base]
            errors += [(("teachers", i, *p), m) for p, m in own]
        if self.teacher_target_er is not None and not self.teachers:
            errors.append((("teacher_target_er",), "selects teachers' samples: add `teachers:`"))
        return errors

    def configs(self) -> tuple[str, ...]:
        made = ["samples", "pairs", *(er_name(g) for g in self.er_grid)]
        if self.decompose is not None:
            made += ["subtasks", "sub_samples", "sub_pairs"]
            made += [er_name(g, "sub") for g in self.decompose.er_grid]
        if self.rephrase is not None:
            made += ["rephrased", *(er_name(g, "rephrased") for g in self.rephrase.er_grid)]
        if self.negatives is not None:
            made.append("negatives")
        made += [f"mix_{name}" for name in self.mixtures]
        if self.teachers:
            made.append("teacher_samples")
        if self.teacher_target_er is not None:
            made += [teacher_config(self.teacher_target_er, t.engine) for t in self.teachers]
        return tuple(made)

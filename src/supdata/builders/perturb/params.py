"""The ``perturb`` builder's recipe section."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from supdata.builders.spec import BuilderParams
from supdata.ops.labels.sources import LabelSource
from supdata.ops.mixture import check_er_grid, er_name
from supdata.ops.perturb.types import MODEL_TYPES, RULE_TYPES, ErrorType
from supdata.prompts import check_prompt

NAMED_POSITIONS = ("first", "middle", "last", "random")


class PerturbBuilder(BuilderParams):
    """Inject step errors with exact control: the ``perturbed`` config.

    Every base solution (a verified reference, or a correct sample) is tried at every
    target SWER of the grid, cycling through (position, type) pairs, so each grid value
    gets its own rows. SWER is wrong steps / all steps, measured on each row's labels;
    ``positions`` sets where the first error goes. Rule types edit one computation (and
    carry it): the labels mark the steps the edit changed. Model types have a rewriter
    put that kind of mistake into step k and the actor continue from there: step k is
    Wrong by construction, a later step only where the carried chain (or the
    ``annotator``) says so. A row is kept only when its measured SWER meets its target.
    """

    kind: Literal["perturb"]
    swer_grid: list[float] = Field(
        default_factory=lambda: [0.25, 0.5, 0.75, 1.0],
        min_length=1,
        description="target step-wise error rates (wrong steps / all steps, measured on each "
        "row's labels), each in (0, 1]; a row is kept only when it meets its target",
    )
    positions: list[str | int] = Field(
        default_factory=lambda: ["random"],
        min_length=1,
        description="where the first error goes (rule and model types): first, middle, last, "
        "random or a step number (1-based); a named position is taken among the steps that "
        "can still meet the SWER target",
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
    annotator: str | None = Field(
        None,
        description="model types: engine that labels the steps after the rewritten one, "
        "given the reference (label_prompt); default: the carried chain, no model",
    )
    label_prompt: str = Field("label_steps@1", description="prompt for the annotator's labels")
    labels: list[LabelSource] = Field(
        default_factory=list,
        description="label sources run on the perturbed rows (label_sets), beside their "
        "construction labels, which stay the annotation; the card compares them",
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
        description="accept a measured SWER (wrong / all steps) within this of the target; "
        "0: exactly round(target x steps) wrong steps, at least one (rule and model types)",
    )
    seed: int = Field(0, ge=0)
    er_grid: list[float] = Field(
        default_factory=list,
        description="outcome error rates of mixtures over the references (a supdata "
        "extension, no model): per rate a config perturbed_erXX with one row per problem "
        "with a verified reference, exactly round(ER x M) of them a perturbation of it",
    )
    er_seed: int = Field(0, ge=0, description="seed of which problems take the perturbed row")

    @field_validator("er_grid")
    @classmethod
    def _er_grid(cls, grid: list[float]) -> list[float]:
        return check_er_grid(grid, "perturbed")

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

    @field_validator("rewrite_prompt", "continue_prompt", "label_prompt")
    @classmethod
    def _prompts(cls, ref: str) -> str:
        return check_prompt(ref)

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
        if self.annotator is not None:
            refs["annotator"] = self.annotator
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
        return ("perturbed", *(er_name(er, "perturbed") for er in self.er_grid))

    def needs_configs(self) -> list[tuple[str, str, str]]:
        if "correct_samples" not in self.apply_to:
            return []
        why = "correct_samples needs a sample or steperror builder before this one"
        return [("samples", "apply_to", why)]

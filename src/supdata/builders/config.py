"""The ``builders:`` section: each builder's params, validated with the recipe."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

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
    seed: int = Field(0, ge=0, description="base seed; each problem derives its own")

    @field_validator("prompt")
    @classmethod
    def _prompt_exists(cls, ref: str) -> str:
        from supdata.prompts import load_prompt

        load_prompt(ref)  # raises PromptError (a ValueError) naming what exists
        return ref

    def engine_refs(self) -> dict[str, str]:
        return {"engine": self.engine}

    def configs(self) -> tuple[str, ...]:
        return ("samples",)


class PerturbBuilder(BaseModel):
    """Inject rule-based step errors with exact control: the ``perturbed`` config.

    Every reference solution is tried at every target SWER of the grid (errors at the
    given positions, of the given types, one per row, cycling), so each grid value gets
    its own rows; labels are known by construction.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["perturb"]
    swer_grid: list[float] = Field(
        default_factory=lambda: [0.25, 0.5, 0.75, 1.0],
        min_length=1,
        description="target step-wise error rates, each in (0, 1]",
    )
    positions: list[Literal["first", "middle", "last", "random"]] = Field(
        default_factory=lambda: ["random"], min_length=1, description="where the first error goes"
    )
    types: list[Literal["wrong_result", "swap_operator", "flip_sign", "drop_term"]] = Field(
        default_factory=lambda: ["wrong_result", "swap_operator", "flip_sign", "drop_term"],
        min_length=1,
        description="error types to use",
    )
    carry: bool = Field(True, description="carry the wrong value through later steps")
    seed: int = Field(0, ge=0)

    @field_validator("swer_grid")
    @classmethod
    def _in_range(cls, grid: list[float]) -> list[float]:
        bad = [g for g in grid if not 0 < g <= 1]
        if bad:
            raise ValueError(f"SWER targets must be in (0, 1]; got {bad}")
        return grid

    def engine_refs(self) -> dict[str, str]:
        return {}

    def configs(self) -> tuple[str, ...]:
        return ("perturbed",)


def er_name(er: float) -> str:
    return f"hard_er{round(er * 100):02d}"


class SteperrorBuilder(SampleBuilder):
    """Samples, DPO pairs and outcome-error-rate mixtures (weak-to-strong supervision).

    pos = a correct sample, else the reference restyled by the model (kept only when it
    still verifies); neg = a wrong sample; problems without a wrong sample are dropped.
    For each ER of the grid, exactly round(ER x M) of the M paired problems (seeded
    choice) take their neg solution: config ``hard_erXX``.
    """

    kind: Literal["steperror"]  # type: ignore[assignment]
    restyle_prompt: str = Field("restyle@1", description="prompt that restyles a reference")
    er_grid: list[float] = Field(
        default_factory=lambda: [i / 10 for i in range(11)],
        min_length=1,
        description="outcome error rates, each in [0, 1]",
    )
    er_seed: int = Field(0, ge=0, description="seed for choosing which problems take neg")
    annotator: str | None = Field(
        None, description="engine that labels every sampled step, given the reference"
    )
    label_prompt: str = Field("label_steps@1", description="prompt for the step labels")

    @field_validator("er_grid")
    @classmethod
    def _er_range(cls, grid: list[float]) -> list[float]:
        bad = [g for g in grid if not 0 <= g <= 1]
        if bad:
            raise ValueError(f"outcome error rates must be in [0, 1]; got {bad}")
        names = [er_name(g) for g in grid]
        if len(set(names)) != len(names):
            raise ValueError(f"two rates name the same config: {names}")
        return grid

    @field_validator("restyle_prompt", "label_prompt")
    @classmethod
    def _restyle_exists(cls, ref: str) -> str:
        from supdata.prompts import load_prompt

        load_prompt(ref)
        return ref

    def engine_refs(self) -> dict[str, str]:
        refs = {"engine": self.engine}
        if self.annotator is not None:
            refs["annotator"] = self.annotator
        return refs

    def configs(self) -> tuple[str, ...]:
        return ("samples", "pairs", *(er_name(g) for g in self.er_grid))


Builder = Annotated[SampleBuilder | SteperrorBuilder | PerturbBuilder, Field(discriminator="kind")]
BUILDER_KINDS = {"sample": SampleBuilder, "steperror": SteperrorBuilder, "perturb": PerturbBuilder}

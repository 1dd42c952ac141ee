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


Builder = Annotated[SampleBuilder, Field(discriminator="kind")]
BUILDER_KINDS = {"sample": SampleBuilder}

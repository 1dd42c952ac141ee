"""The recipe: one YAML file that says what to build and how."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from supdata.engines.config import EngineConfig
from supdata.sources.config import Source
from supdata.verify import VerifyConfig

_DEFAULT_VERIFY = VerifyConfig()


class Segmentation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strategy: Literal["auto", "markers", "numbered", "paragraphs", "lines"] = Field(
        "auto",
        description="auto: Step-k markers and blank lines, else numbered items, else lines",
    )


class Verification(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workers: int = Field(_DEFAULT_VERIFY.workers, ge=0, description="verification processes")
    timeout_s: float = Field(
        _DEFAULT_VERIFY.timeout_s, gt=0, description="hard per-item limit (seconds)"
    )
    last_number_fallback: bool = Field(
        True, description="take the last number when no explicit final answer is found"
    )

    def to_config(self) -> VerifyConfig:
        return VerifyConfig(
            workers=self.workers,
            timeout_s=self.timeout_s,
            last_number_fallback=self.last_number_fallback,
        )


class Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="dataset name")
    description: str = ""
    source: Source
    engines: dict[str, EngineConfig] = Field(
        default_factory=dict, description="named engines, e.g. actor, critic, annotator"
    )
    segmentation: Segmentation = Field(default_factory=Segmentation)
    verification: Verification = Field(default_factory=Verification)

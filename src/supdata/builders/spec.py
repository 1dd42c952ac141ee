"""The builder contract: what a builder folder hands the registry.

A builder is one folder under ``builders/``. Its spec says which recipe section it reads
(``params``: a pydantic model with a ``kind`` literal), which stages that section plans
(each stage names its row model, its config description and its figures), and which
card section and paper it brings. Shared code reads only this spec, never a builder's
modules, so adding a builder is its folder plus one registry line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from supdata.core.rows import ConfigSpec
from supdata.ops.sampling import SamplingSection

if TYPE_CHECKING:
    from supdata.core.runner import Stage
    from supdata.recipe import Recipe

# Every build publishes these (the source stage and its verified references).
BASE_CONFIGS = ("problems", "references")


class BuilderParams(BaseModel):
    """Base of every builder's recipe section: what it names, checks and makes."""

    model_config = ConfigDict(extra="forbid")

    kind: str

    def engine_refs(self) -> dict[str, str]:
        """Field path -> engine name, for every engine this section uses."""
        return {}

    def config_errors(self) -> list[tuple[tuple, str]]:
        """Checks across this section's fields: (field path, message) pairs."""
        return []

    def configs(self) -> tuple[str, ...]:
        """Every config this section publishes, in order."""
        return ()

    def needs_configs(self) -> list[tuple[str, str, str]]:
        """Configs an earlier builder must make: (config, field path, message)."""
        return []


@dataclass(frozen=True)
class BuilderSpec:
    """One builder: its recipe section and how it plans stages.

    kind: the ``kind:`` value in a recipe's ``builders:`` list.
    params: the section's pydantic model (its ``kind`` field is ``Literal[kind]``).
    stages: (section, recipe, check) -> the stages it adds, in order; ``check`` is the
        segmentation / verification settings every stage's fingerprint includes.
    configs: every config (or family: ``hard_er*``) it can publish -> row model and
        description; ``supdata schemas --write`` writes one JSON Schema file for each.
    card: a Jinja template for the card's section of this builder (or None), rendered
        with ``stats`` (the build's stats.json), ``params`` and ``configs``.
    paper: the citation (title, ref) of the method it implements, for the card.
    """

    kind: str
    params: type[BuilderParams]
    stages: Callable[[Any, Recipe, dict[str, Any]], list[Stage]]
    configs: dict[str, ConfigSpec] = field(default_factory=dict)
    card: Path | None = None
    paper: dict[str, str] | None = None
    prompts: tuple[str, ...] = field(default_factory=tuple)


class SampledParams(BuilderParams, SamplingSection):
    """A builder whose first stage samples the actor: the ``samples`` config."""

    def engine_refs(self) -> dict[str, str]:
        return {"engine": self.engine}

    def config_errors(self) -> list[tuple[tuple, str]]:
        return self.sampling_errors()

    def configs(self) -> tuple[str, ...]:
        return ("samples",)

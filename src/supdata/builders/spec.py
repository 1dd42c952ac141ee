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

from pydantic import BaseModel, ConfigDict, Field

from supdata.core.rows import ConfigSpec
from supdata.ops.labels.sources import LabelSource
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

    def label_sources(self) -> list:
        """The section's ``labels:`` sources (none unless the builder takes them)."""
        return list(getattr(self, "labels", None) or [])

    def all_engine_refs(self) -> dict[str, str]:
        """``engine_refs`` plus the engines of the ``labels:`` sources."""
        refs = dict(self.engine_refs())
        for i, source in enumerate(self.label_sources()):
            if hasattr(source, "engine"):
                refs[f"labels.{i}.engine"] = source.engine
        return refs

    def label_errors(self) -> list[tuple[tuple, str]]:
        """Checks of ``labels:`` / ``use_labels:`` as (field path, message) pairs."""
        from supdata.ops.labels import source_errors

        sources = self.label_sources()
        errors = [(("labels", *path), msg) for path, msg in source_errors(sources)]
        use = getattr(self, "use_labels", None)
        names = [s.label_name for s in sources]
        if use is not None and use not in names:
            errors.append(
                (("use_labels",), f"no label set named {use!r} (labels: {names or 'none'})")
            )
        return errors

    def config_errors(self) -> list[tuple[tuple, str]]:
        """Checks across this section's fields: (field path, message) pairs."""
        return []

    def configs(self) -> tuple[str, ...]:
        """Every config this section publishes, in order."""
        return ()

    def needs_configs(self) -> list[tuple[str, str, str]]:
        """Configs an earlier builder must make: (config, field path, message)."""
        return []

    def source_errors(self, source: Any) -> list[tuple[tuple, str]]:
        """Checks of this section against the recipe's ``source:`` (none by default)."""
        return []

    def planned_calls(self, problems: int) -> list[dict[str, Any]]:
        """The engine calls known before any generation, for ``--dry-run``: what, engine,
        requests, samples and the most output tokens they can take (none by default:
        calls on generated text depend on it)."""
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

    labels: list[LabelSource] = Field(
        default_factory=list,
        description="step-label sources for the samples (mc, binary_search, annotator, "
        "consensus); each writes one label set per sample, with its provenance",
    )
    use_labels: str | None = Field(
        None, description="the label set whose hard labels become each sample's annotation"
    )

    def engine_refs(self) -> dict[str, str]:
        return {"engine": self.engine}

    def config_errors(self) -> list[tuple[tuple, str]]:
        return self.sampling_errors()

    def configs(self) -> tuple[str, ...]:
        return ("samples",)

    def planned_calls(self, problems: int) -> list[dict[str, Any]]:
        samples = problems * self.n
        return [
            {
                "call": "sample solutions",
                "engine": self.engine,
                "requests": problems,
                "samples": samples,
                "max_output_tokens": samples * self.max_tokens,
            }
        ]

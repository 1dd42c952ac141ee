"""Label sources as a recipe names them, and the one function that runs a list of them.

``labels:`` is a list of sources; each writes one label set per trace under its
``name`` (default: its kind). ``mc`` and ``binary_search`` roll out from step prefixes
with an engine; ``annotator`` asks a judge model (given the reference solution) for a
label per step; ``consensus`` keeps a trace's labels only where the sources it names
agree on the first error (the Qwen PRM lessons paper's filter: hard labels, threshold 0).
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from supdata.core.records import Problem, Trace
from supdata.core.records.labels import LabelSet, labels_from_first_error
from supdata.core.stats import StageStats
from supdata.engines import Engine
from supdata.ops.labels.mc import mc_labels
from supdata.ops.labels.rollouts import RolloutCost, RolloutSettings
from supdata.ops.labels.search import binary_search_labels
from supdata.prompts import check_prompt
from supdata.verify import VerifyConfig


class _Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, description="label set name (default: the kind)")

    @property
    def label_name(self) -> str:
        return self.name or self.kind  # type: ignore[attr-defined]


class _Rollouts(_Source):
    engine: str = Field("actor", description="engine that continues the prefixes")
    temperature: float = Field(0.7, ge=0, le=10)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int = Field(512, ge=1, description="output token cap per rollout")
    prompt: str = Field("solve@1", description="solve prompt the prefix continues")
    seed: int = Field(0, ge=0)

    @field_validator("prompt")
    @classmethod
    def _prompt_exists(cls, ref: str) -> str:
        return check_prompt(ref)

    def settings(self, n: int) -> RolloutSettings:
        return RolloutSettings(
            n=n,
            temperature=self.temperature,
            top_p=self.top_p,
            max_tokens=self.max_tokens,
            prompt=self.prompt,
            seed=self.seed,
        )


class McSource(_Rollouts):
    """Math-Shepherd: ``completions`` rollouts from every step prefix."""

    kind: Literal["mc"]
    completions: int = Field(8, ge=1, description="rollouts per prefix (the paper: 8)")
    soft: bool = Field(True, description="store the soft labels (share reaching the answer)")


class BinarySearchSource(_Rollouts):
    """OmegaPRM: binary search for the first error with ``rollouts`` per probed prefix."""

    kind: Literal["binary_search"]
    rollouts: int = Field(8, ge=1, description="rollouts per probed prefix (the paper: 8)")


class AnnotatorSource(_Source):
    """A judge model labels every step, given the reference solution."""

    kind: Literal["annotator"]
    engine: str = Field("judge", description="annotator engine")
    prompt: str = Field("label_steps@1", description="annotator prompt")

    @field_validator("prompt")
    @classmethod
    def _prompt_exists(cls, ref: str) -> str:
        return check_prompt(ref)


class ConsensusSource(_Source):
    """Keep labels only where the named label sets agree on the first error."""

    kind: Literal["consensus"]
    of: list[str] = Field(
        default_factory=lambda: ["mc", "annotator"],
        min_length=2,
        description="names of earlier label sets in this list",
    )


LabelSource = Annotated[
    McSource | BinarySearchSource | AnnotatorSource | ConsensusSource,
    Field(discriminator="kind"),
]


def source_errors(sources: list) -> list[tuple[tuple, str]]:
    """Checks across a labels: list: (field path, message) pairs."""
    errors: list[tuple[tuple, str]] = []
    seen: list[str] = []
    for i, s in enumerate(sources):
        if s.label_name in seen:
            errors.append(((i, "name"), f"two label sets are named {s.label_name!r}"))
        if isinstance(s, ConsensusSource):
            for j, name in enumerate(s.of):
                if name not in seen:
                    errors.append(
                        (
                            (i, "of", j),
                            f"consensus of {name!r}: no label source of that name before it "
                            f"(listed before: {seen or 'none'})",
                        )
                    )
        seen.append(s.label_name)
    return errors


def engines_of(sources: list) -> set[str]:
    return {s.engine for s in sources if hasattr(s, "engine")}


def consensus(sets: list[LabelSet], provenance: dict) -> LabelSet:
    """The agreed first error as hard labels; all unlabelled where the sets disagree or
    one cannot tell."""
    n = len(sets[0].labels)
    firsts = {s.first_error for s in sets}
    if len(firsts) == 1 and None not in firsts:
        return LabelSet("consensus", labels_from_first_error(n, firsts.pop()), None, provenance)
    return LabelSet("consensus", [None] * n, None, provenance)


def annotator_labels(
    pairs: list[tuple[Problem, Trace]], engine: Engine, prompt: str, stats: StageStats
) -> list[LabelSet]:
    from supdata.ops.annotate import annotate

    copies = [dataclasses.replace(t, annotation=None) for _, t in pairs]
    annotate(copies, {p.id: p for p, _ in pairs}, engine, prompt, stats)
    provenance = {"engine": engine.fingerprint, "prompt": prompt}
    return [
        LabelSet(
            "annotator",
            list(t.annotation.labels) if t.annotation else [None] * len(t.steps),
            None,
            provenance,
        )
        for t in copies
    ]


def run_sources(
    pairs: list[tuple[Problem, Trace]],
    sources: list,
    engines: dict[str, Engine],
    verify: VerifyConfig,
    stats: StageStats,
    *,
    costs: dict[str, RolloutCost] | None = None,
) -> dict[str, list[LabelSet]]:
    """Every source in order, one label set per pair each; ``costs`` gets each rollout
    source's engine cost."""
    missing = [i for i, (p, _) in enumerate(pairs) if not p.reference_answer]
    if missing and any(isinstance(s, McSource | BinarySearchSource) for s in sources):
        p, t = pairs[missing[0]]
        raise ValueError(
            f"{len(missing)} solution(s) have no reference answer to check rollouts against "
            f"(first: {t.id} of problem {p.id})"
        )
    out: dict[str, list[LabelSet]] = {}
    for s in sources:
        part = stats.part(s.label_name)
        part.n_in = len(pairs)
        cost = RolloutCost()
        if isinstance(s, McSource):
            sets = mc_labels(
                pairs, engines[s.engine], s.settings(s.completions), verify, part, cost=cost
            )
            if not s.soft:
                sets = [dataclasses.replace(x, soft=None) for x in sets]
        elif isinstance(s, BinarySearchSource):
            settings = s.settings(s.rollouts)
            sets = binary_search_labels(pairs, engines[s.engine], settings, verify, part, cost=cost)
        elif isinstance(s, AnnotatorSource):
            sets = annotator_labels(pairs, engines[s.engine], s.prompt, part)
        else:
            provenance = {"of": list(s.of)}
            sets = [
                consensus([out[name][i] for name in s.of], provenance) for i in range(len(pairs))
            ]
            kept = sum(x.first_error is not None for x in sets)
            part.tally("solutions agreed", kept)
            part.tally("solutions disagreed or undecided", len(sets) - kept)
        part.n_out = sum(any(x is not None for x in ls.labels) for ls in sets)
        stats.absorb(part)
        if costs is not None:
            costs[s.label_name] = cost
        out[s.label_name] = [dataclasses.replace(x, name=s.label_name) for x in sets]
    return out

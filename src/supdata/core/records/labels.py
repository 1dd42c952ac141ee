"""A label set: one source's step labels for one trace, with where they came from."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from supdata.core.records.annotation import StepAnnotation, swer

LABEL_KINDS = ("given", "mc", "binary_search", "annotator", "consensus")
PROVENANCE_KEYS = (
    "source", "engine", "prompt", "rollouts", "seed", "temperature", "top_p", "max_tokens", "of",
)  # fmt: skip


@dataclass(slots=True)
class LabelSet:
    """Step labels from one source, aligned one-to-one with a trace's steps.

    ``labels[i]`` is True (step i is right), False (wrong) or None (this source could not
    say: no verifiable rollout, a step after a found first error, a rejected judgement).
    ``soft[i]`` is the Monte-Carlo value of the prefix ending at step i (share of
    verifiable rollouts that reach the reference answer), None where none was measured.
    ``provenance`` holds the engine fingerprint, rollouts N, seed and sampling settings
    (``PROVENANCE_KEYS``; None where they do not apply), so two label sets can always be
    told apart; ``name`` is the set's name in the recipe (default: its kind).
    """

    kind: str
    labels: list[bool | None]
    soft: list[float | None] | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in LABEL_KINDS:
            raise ValueError(f"label set kind {self.kind!r} is not one of {LABEL_KINDS}")
        unknown = set(self.provenance) - set(PROVENANCE_KEYS)
        if unknown:
            raise ValueError(f"{self.kind}: unknown provenance keys {sorted(unknown)}")
        self.name = self.name or self.kind
        if self.soft is not None and len(self.soft) != len(self.labels):
            raise ValueError(
                f"{self.kind}: {len(self.soft)} soft labels for {len(self.labels)} steps"
            )

    @property
    def first_error(self) -> int | None:
        """The earliest wrong step, -1 when every step is right, None when undecided
        (an unlabelled step comes before any wrong one, or nothing is labelled)."""
        return first_error(self.labels)

    @property
    def swer(self) -> float | None:
        return swer(self.labels)

    def as_annotation(self) -> StepAnnotation:
        """This set's hard labels as a trace's annotation, its source named by kind and
        engine (or the sets a consensus combines)."""
        prov = self.provenance
        who = prov.get("engine") or "+".join(prov.get("of") or []) or prov.get("source") or ""
        return StepAnnotation(list(self.labels), f"{self.kind}:{who}")

    def to_row(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "labels": list(self.labels),
            "soft": None if self.soft is None else list(self.soft),
            "first_error_step": self.first_error,
            "provenance": {k: self.provenance.get(k) for k in PROVENANCE_KEYS},
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> LabelSet:
        provenance = {k: v for k, v in (row.get("provenance") or {}).items() if v is not None}
        return cls(row["kind"], list(row["labels"]), row["soft"], provenance, row["name"])


def check_aligned(label_sets: Iterable[Any], n_steps: int) -> None:
    """Every label set (record or row) has one label per step, or a ValueError names it."""
    for ls in label_sets:
        if len(ls.labels) != n_steps:
            raise ValueError(f"label set {ls.name!r}: {len(ls.labels)} labels for {n_steps} steps")


def first_error(labels: list[bool | None]) -> int | None:
    """ProcessBench's earliest-error index of a label list: the first False if every step
    before it is True; -1 if all steps are True; None when it cannot be told."""
    for i, label in enumerate(labels):
        if label is False:
            return i
        if label is None:
            return None
    return -1 if labels else None


def labels_from_first_error(n_steps: int, first: int) -> list[bool | None]:
    """Hard labels a first-error index states: right before it, wrong at it, unknown after
    (ProcessBench and OmegaPRM label nothing past the first error)."""
    if first == -1:
        return [True] * n_steps
    if not 0 <= first < n_steps:
        raise ValueError(f"first error {first} outside 0..{n_steps - 1} (or -1)")
    return [True] * first + [False] + [None] * (n_steps - first - 1)

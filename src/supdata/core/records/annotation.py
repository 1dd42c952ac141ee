"""Per-step labels, kept aligned one-to-one with a trace's steps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def swer(labels: list[bool | None]) -> float | None:
    """SWER as the weak-to-strong paper defines it: erroneous steps / all (judged) steps.
    The one place it is computed; None when no step is judged."""
    judged = [label for label in labels if label is not None]
    if not judged:
        return None
    return sum(1 for label in judged if label is False) / len(judged)


@dataclass(slots=True)
class StepAnnotation:
    """Step-level supervision for one trace.

    ``labels[i]`` is True (step i is right), False (wrong) or None (not judged, e.g. the
    steps after the first error in ProcessBench). ``source`` says who labelled them:
    ``human:<dataset>``, ``annotator:<model>``, ``construction`` (a rule perturbation:
    the edited step and the steps its carried value changed), ``construction+chain`` (a
    model perturbation: the rewritten step by construction, later steps Wrong only where
    they use the carried chain, state false arithmetic or a final answer off the base's;
    ``ops/perturb/chain.py``) or ``construction+annotator:<model>`` (the rewritten step by
    construction, later steps by that annotator). ``first_error_step`` (0-based, -1 none)
    and ``swer`` (wrong / judged steps) are separate measures: SWER is never derived from
    the first error's position.
    """

    labels: list[bool | None]
    source: str
    error_types: list[str | None] | None = None

    def __post_init__(self) -> None:
        if self.error_types is not None and len(self.error_types) != len(self.labels):
            raise ValueError(
                f"error_types has {len(self.error_types)} entries but labels has "
                f"{len(self.labels)}: they must align one-to-one with the steps"
            )

    @property
    def first_error_step(self) -> int:
        """Index of the earliest wrong step, -1 when no step is labelled wrong."""
        for i, label in enumerate(self.labels):
            if label is False:
                return i
        return -1

    @property
    def swer(self) -> float | None:
        """Step-wise error rate: wrong steps / judged steps (None when none is judged)."""
        return swer(self.labels)

    @classmethod
    def from_first_error(
        cls, n_steps: int, first_error: int, source: str, *, judged_after: bool = False
    ) -> StepAnnotation:
        """Labels from an earliest-error index (ProcessBench, PRM800K phase 2 style).

        Steps after the first error are unknown unless ``judged_after`` says they were
        all judged wrong.
        """
        if first_error < -1 or first_error >= n_steps:
            raise ValueError(f"first error step {first_error} outside 0..{n_steps - 1} (or -1)")
        if first_error == -1:
            return cls(labels=[True] * n_steps, source=source)
        after: bool | None = False if judged_after else None
        labels: list[bool | None] = [True] * first_error + [False]
        labels += [after] * (n_steps - first_error - 1)
        return cls(labels=labels, source=source)

    def to_row(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "first_error_step": self.first_error_step,
            "error_types": None if self.error_types is None else list(self.error_types),
            "source": self.source,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> StepAnnotation:
        ann = cls(
            labels=list(row["labels"]),
            source=row["source"],
            error_types=None if row.get("error_types") is None else list(row["error_types"]),
        )
        stored = row.get("first_error_step")
        if stored is not None and stored != ann.first_error_step:
            raise ValueError(
                f"first_error_step {stored} disagrees with the labels "
                f"(earliest wrong step is {ann.first_error_step})"
            )
        return ann

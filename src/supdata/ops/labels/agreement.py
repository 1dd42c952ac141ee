"""How far two label sources agree on the same traces: first-error agreement and
Cohen's kappa over the steps both label."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from supdata.core.records.labels import first_error


def cohen_kappa(a: list[bool], b: list[bool]) -> float | None:
    """Cohen's kappa of two binary raters; None without items or when chance agreement
    is total (both raters constant and equal)."""
    agree = sum(x == y for x, y in zip(a, b, strict=True))
    return _kappa(len(a), agree, sum(a), sum(b))


def _kappa(n: int, agree: int, a_true: int, b_true: int) -> float | None:
    """Cohen's kappa from counts: items, items rated alike, items each rater calls True."""
    if n == 0:
        return None
    observed = agree / n
    pa, pb = a_true / n, b_true / n
    expected = pa * pb + (1 - pa) * (1 - pb)
    if expected == 1:
        return None
    return (observed - expected) / (1 - expected)


@dataclass
class Agreement:
    """``agreement`` accumulated over batches of traces (a stage labelled window by
    window): counts only, the figures from ``result``."""

    traces: int = 0
    decided: int = 0
    same: int = 0
    steps: int = 0
    alike: int = 0
    a_true: int = 0
    b_true: int = 0

    def add(self, left: list[list[bool | None]], right: list[list[bool | None]]) -> Agreement:
        if len(left) != len(right):
            raise ValueError(f"{len(left)} label lists against {len(right)}")
        self.traces += len(left)
        for a, b in zip(left, right, strict=True):
            if len(a) != len(b):
                raise ValueError(f"label lists of {len(a)} and {len(b)} steps for one trace")
            fa, fb = first_error(a), first_error(b)
            if fa is not None and fb is not None:
                self.decided += 1
                self.same += fa == fb
            for x, y in zip(a, b, strict=True):
                if x is not None and y is not None:
                    self.steps += 1
                    self.alike += x == y
                    self.a_true += x
                    self.b_true += y
        return self

    def result(self) -> dict[str, Any]:
        kappa = _kappa(self.steps, self.alike, self.a_true, self.b_true)
        return {
            "traces": self.traces,
            "both_decided": self.decided,
            "first_error_agreement": round(self.same / self.decided, 4) if self.decided else None,
            "steps_both_labelled": self.steps,
            "step_kappa": None if kappa is None else round(kappa, 4),
        }


def agreement(left: list[list[bool | None]], right: list[list[bool | None]]) -> dict[str, Any]:
    """Compare two sources' labels of the same traces, trace by trace.

    ``first_error_agreement``: share of traces where both sources decide a first error
    (an index or -1) and it is the same; ``step_kappa``: Cohen's kappa over the steps both
    sources label.
    """
    return Agreement().add(left, right).result()

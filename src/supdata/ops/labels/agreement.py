"""How far two label sources agree on the same traces: first-error agreement and
Cohen's kappa over the steps both label."""

from __future__ import annotations

from typing import Any

from supdata.core.records.labels import first_error


def cohen_kappa(a: list[bool], b: list[bool]) -> float | None:
    """Cohen's kappa of two binary raters; None without items or when chance agreement
    is total (both raters constant and equal)."""
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pa, pb = sum(a) / n, sum(b) / n
    expected = pa * pb + (1 - pa) * (1 - pb)
    if expected == 1:
        return None
    return (observed - expected) / (1 - expected)


def agreement(left: list[list[bool | None]], right: list[list[bool | None]]) -> dict[str, Any]:
    """Compare two sources' labels of the same traces, trace by trace.

    ``first_error_agreement``: share of traces where both sources decide a first error
    (an index or -1) and it is the same; ``step_kappa``: Cohen's kappa over the steps both
    sources label.
    """
    if len(left) != len(right):
        raise ValueError(f"{len(left)} label lists against {len(right)}")
    decided = same = 0
    xs: list[bool] = []
    ys: list[bool] = []
    for a, b in zip(left, right, strict=True):
        if len(a) != len(b):
            raise ValueError(f"label lists of {len(a)} and {len(b)} steps for one trace")
        fa, fb = first_error(a), first_error(b)
        if fa is not None and fb is not None:
            decided += 1
            same += fa == fb
        for x, y in zip(a, b, strict=True):
            if x is not None and y is not None:
                xs.append(x)
                ys.append(y)
    kappa = cohen_kappa(xs, ys)
    return {
        "traces": len(left),
        "both_decided": decided,
        "first_error_agreement": round(same / decided, 4) if decided else None,
        "steps_both_labelled": len(xs),
        "step_kappa": None if kappa is None else round(kappa, 4),
    }

"""Whether a labelled row meets its target SWER: one rule for rule and model types.

SWER is the weak-to-strong paper's: erroneous steps / all steps
(``supdata.core.records.annotation.swer``), measured on the row's own labels, never
derived from where the first error is.
"""

from __future__ import annotations

from supdata.core.records.annotation import swer


def wrong_wanted(n: int, target: float) -> int:
    """Wrong steps a solution of ``n`` steps needs for ``target``: round(target x n), at
    least one."""
    return max(1, round(target * n))


def swer_meets(labels: list[bool | None], target: float, tolerance: float = 0.0) -> bool:
    """Exactly ``wrong_wanted`` wrong steps among the judged ones, or a measured SWER
    within ``tolerance`` of ``target``."""
    measured = swer(labels)
    if measured is None:
        return False
    judged = sum(1 for x in labels if x is not None)
    wrong = sum(1 for x in labels if x is False)
    return wrong == wrong_wanted(judged, target) or abs(measured - target) <= tolerance

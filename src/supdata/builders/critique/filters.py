"""The filters a critique must pass: consistency with what is known, and (for refined
solutions) the anti-shortcut check."""

from __future__ import annotations

import re

from supdata.builders.critique.format import Critique
from supdata.ops.numbers import decimals

WRONG = ("incorrect", "no_answer")  # verify statuses of a flawed response

# The anti-shortcut checks a correct refinement must pass (``shortcut:`` in a recipe).
SHORTCUTS = ("published", "supdata@1")
_DIGIT_RUN = re.compile(r"\d+")


def inconsistency(
    critique: Critique,
    *,
    solution_correct: bool,
    method: str,
    known_step: int,
    rg2_tolerance: str = "at_or_after",
    rg3_tolerance: int = 0,
) -> str | None:
    """Why the critique contradicts math-verify or the known error location, or None."""
    if critique.final_correct != solution_correct:
        return "final verdict disagrees with math-verify"
    first = critique.first_error_step
    if method == "rg1":
        if solution_correct and first != -1:
            return "rg1: a Wrong step in a correct solution"
        if not solution_correct and first == -1:
            return "rg1: no Wrong step in a wrong solution"
        return None
    if first == -1:
        return f"{method}: no Wrong step where one is known"
    if method == "rg2":
        if first < known_step:
            return "rg2: first Wrong step before k"
        if rg2_tolerance == "exact" and first != known_step:
            return "rg2: first Wrong step not at k"
        return None
    if abs(first - known_step) > rg3_tolerance:
        return "rg3: first Wrong step not at k"
    return None


def shortcut(refinement_steps: list[str], response: str, min_ratio: float) -> str | None:
    """A refinement must carry reasoning, not just an answer: two or more steps and at
    least ``min_ratio`` as many numbers as the response it refines."""
    if len(refinement_steps) < 2:
        return "refinement has fewer than two steps"
    have, had = len(decimals("".join(refinement_steps))), len(decimals(response))
    if had and have < min_ratio * had:
        return "refinement carries too few numbers"
    return None


def digit_runs(text: str) -> int:
    """How many numbers a text carries, counted as the published barrier counts them:
    maximal runs of digits, so ``12.5`` and ``1,000`` count two and ``x^2`` one."""
    return len(_DIGIT_RUN.findall(text))


def shortcut_barrier(reference: str, response: str, refinement: str) -> str | None:
    """AutoMathCritique's published anti-shortcut barrier (selfimprove/inference.py,
    ``shortcut_barrier``): a correct refinement is rejected when it carries fewer numbers
    than the smaller of the reference solution's and the original response's counts,
    less two. A refinement that only restates the answer carries too few; one as long
    as the shorter of the two passes. No step count is required."""
    floor = min(digit_runs(reference), digit_runs(response)) - 2
    if digit_runs(refinement) < floor:
        return "refinement carries fewer numbers than min(reference, response) - 2"
    return None


def refinement_shortcut(
    kind: str,
    refinement: str,
    refinement_steps: list[str],
    *,
    reference: str,
    response: str,
    min_ratio: float,
) -> str | None:
    """Why a correct refinement takes a shortcut under the named check, or None:
    ``published`` (the barrier above) or ``supdata@1`` (``shortcut``: two or more steps
    and a share of the response's numbers)."""
    if kind == "published":
        return shortcut_barrier(reference, response, refinement)
    return shortcut(refinement_steps, response, min_ratio)

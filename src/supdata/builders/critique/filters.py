"""The filters a critique must pass: consistency with what is known, and (for refined
solutions) the anti-shortcut check."""

from __future__ import annotations

from supdata.builders.critique.format import Critique
from supdata.ops.numbers import decimals

WRONG = ("incorrect", "no_answer")  # verify statuses of a flawed response


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

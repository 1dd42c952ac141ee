"""Model-based step errors: a rewriter puts a named kind of mistake into step k, then the
actor continues from there.

Steps before k are the base solution's, byte for byte. The first error is at k, and
every step from k on is labelled wrong (it builds on the wrong step: the convention of
Math-Shepherd and PRM800K-style labels), so the measured SWER is (n - k) / n. k is
picked from the target SWER and the base's step count; since the actor decides how
many steps follow, a row is kept only when its measured SWER meets the target (exactly
round(target x n) wrong steps, or within the recipe's tolerance).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from supdata.ops.perturb.rules import LEAKY_WORDS, CannotPerturb
from supdata.ops.steps import segment

_LABEL = re.compile(
    r"^\s*(?:\**\s*(?:rewritten step|new step|step\s*\d+)\s*\**\s*[:.)\-]\s*)", re.I
)


def first_wrong_step(n: int, target: float) -> int:
    """k such that steps k..n-1 are round(target x n) steps (at least one)."""
    return n - max(1, round(target * n))


def swer_meets(wrong: int, n: int, target: float, tolerance: float) -> bool:
    return wrong == max(1, round(target * n)) or abs(wrong / n - target) <= tolerance


def clean_rewrite(output: str, original: str) -> str:
    """The rewritten step without labels the model adds; one line if the original was."""
    text = output.strip()
    if not _LABEL.match(original):
        text = _LABEL.sub("", text, count=1).strip()
    if "\n" not in original.strip():
        text = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return text


def rewritten_step(output: str, original: str) -> str:
    """The new step k, ending with the original step's separator so the actor goes on
    from a fresh line. Empty when the model wrote nothing usable."""
    text = clean_rewrite(output, original)
    return text + (original[len(original.rstrip()) :] or "\n") if text else ""


@dataclass(frozen=True)
class Rewritten:
    steps: list[str]
    labels: list[bool]
    error_types: list[str | None]
    first_error: int


def assemble(
    base_steps: list[str],
    k: int,
    rewrite: str,
    continuation: str,
    *,
    error_type: str,
    target: float,
    tolerance: float,
    length_ratio: tuple[float, float],
    strategy: str,
) -> Rewritten:
    """The perturbed solution, or CannotPerturb naming why it is not kept."""
    original = base_steps[k]
    new_step = rewritten_step(rewrite, original)
    if not new_step:
        raise CannotPerturb("rewrite: empty")
    if new_step.split() == original.split():
        raise CannotPerturb("rewrite: unchanged")
    if LEAKY_WORDS.search(new_step) or LEAKY_WORDS.search(continuation):
        raise CannotPerturb("leaks the error (error-announcing word)")
    steps = [*base_steps[:k], new_step]
    if continuation.strip():
        steps += segment(continuation, strategy)
    base_len = sum(len(s) for s in base_steps)
    ratio = sum(len(s) for s in steps) / base_len
    if not length_ratio[0] <= ratio <= length_ratio[1]:
        raise CannotPerturb(f"length {ratio:.2f}x the base, outside {list(length_ratio)}")
    n = len(steps)
    if not swer_meets(n - k, n, target, tolerance):
        raise CannotPerturb("continuation length puts SWER off target")
    labels = [i < k for i in range(n)]
    return Rewritten(steps, labels, [None if ok else error_type for ok in labels], k)

"""Model-based step errors: a rewriter puts a named kind of mistake into step k, then the
actor continues from there.

Steps before k are the base solution's, byte for byte, and Correct. Step k is the
rewritten step and Wrong by construction. A later step is Wrong only where evidence says
so, never because it comes after k: by default the carried chain (``chain.py``: it uses
a value the wrong step produced, states false arithmetic, or a final answer off the
base's); with an annotator, that model's label (the perturb builder). So SWER (wrong
steps / all steps) is measured on the labels, and k is the first error: ``positions``
picks k, and a row is kept only when its measured SWER meets the target
(``target.swer_meets``).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from fractions import Fraction

from supdata.ops.perturb.arithmetic import to_number
from supdata.ops.perturb.chain import chain_labels
from supdata.ops.perturb.rules import LEAKY_WORDS, CannotPerturb, final_value, origin_order
from supdata.ops.perturb.target import wrong_wanted
from supdata.ops.steps import segment

_LABEL = re.compile(
    r"^\s*(?:\**\s*(?:rewritten step|new step|step\s*\d+)\s*\**\s*[:.)\-]\s*)", re.I
)


def rewrite_position(n: int, target: float, position: str | int, seed: int) -> int:
    """The step to rewrite (0-based) in a base of ``n`` steps: a step number as given;
    a named position (first, middle, last, random) picks, in the rule types' order,
    among the steps k that leave room for the target (n - k >= round(target x n))."""
    if isinstance(position, int):
        return position - 1
    room = list(range(n - wrong_wanted(n, target) + 1))
    return origin_order(room, n, position, random.Random(seed))[0]


def final_answer(steps: list[str]) -> Fraction | None:
    """The last numeric final answer the steps state (``####``, ``\\boxed{}``, ...)."""
    for step in reversed(steps):
        value = final_value(step)
        if value is not None:
            return to_number(value)
    return None


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
    """``carried[i]``: step i is the rewritten step or uses its carried chain."""

    steps: list[str]
    labels: list[bool]
    carried: list[bool]
    error_types: list[str | None]
    first_error: int


def assemble(
    base_steps: list[str],
    k: int,
    rewrite: str,
    continuation: str,
    *,
    error_type: str,
    length_ratio: tuple[float, float],
    strategy: str,
    givens: frozenset[Fraction] = frozenset(),
) -> Rewritten:
    """The perturbed solution with its carried-chain labels, or CannotPerturb naming why
    it is not kept. ``givens``: the problem's quantities (never a carried value).
    ``error_types`` names ``error_type`` on the rewritten step and the steps that carry
    it; a step Wrong for another reason has no type."""
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
    made = chain_labels(base_steps, k, steps, givens, final_answer(base_steps))
    types = [
        error_type if not ok and carried else None
        for ok, carried in zip(made.labels, made.carried, strict=True)
    ]
    return Rewritten(steps, made.labels, made.carried, types, k)

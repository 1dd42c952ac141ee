"""Which steps after a model-made error are wrong: the carried chain.

A rewriter puts a mistake into step k and an actor writes the rest. Step k is wrong by
construction; a later step is wrong only where the text shows it, never because it comes
after k. Without a model, three kinds of evidence are read from the numbers:

- it uses the carried chain. The chain starts with the numbers the rewritten step states
  more often than the original step k did (the wrong value; a misread quantity). A later
  step uses it when it states a chain number that neither the base solution nor the
  problem states, or when one of its computations takes a chain number as an operand
  and is not a computation the base solution states (same operands, same result: the
  base's own computations are not affected by the error). Such a step adds to the chain
  the results of those computations and every number it states that neither the base
  solution nor the problem states;
- its stated arithmetic is false ("7 - 2 = 4"; a result rounded to the places it is
  written with is not false);
- it states a final answer (``####``, ``\\boxed{}``, "the answer is", ``A:``) other than
  the base solution's (it carries the chain when that answer is a chain number).

A later step that only restates the problem's quantities, redoes the base's own
computations, or uses values the base also computed, with no false arithmetic, is
Correct.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

from supdata.ops.perturb.arithmetic import EQUATION, OPERAND, OPERATOR, evaluate, to_number
from supdata.ops.perturb.rules import final_value

# "Step 3:", "**Step 3.**", "3. " at the start of a step: its number, not a quantity
_ENUMERATOR = re.compile(r"^\s*(?:\**\s*step\s*\d+\s*\**\s*[:.)]\s*\**|\d+[.)](?=\s))", re.I)


_CHAINED = re.compile(rf"{OPERATOR.pattern}\$?\d")  # the written result goes on: "= 4 * 12"


@dataclass(frozen=True)
class ChainLabels:
    """``labels[i]``: True Correct, False Wrong. ``carried[i]``: step i is the rewritten
    step or uses the carried chain (a Wrong step that is not carried is wrong for another
    reason: false arithmetic, or a final answer off the base's)."""

    labels: list[bool]
    carried: list[bool]


def _stated(step: str) -> list[Fraction]:
    body = _ENUMERATOR.sub("", step, count=1)
    return [to_number(m["num"]) for m in OPERAND.finditer(body)]


def numbers(step: str) -> set[Fraction]:
    """The quantities a step states ($ and thousands commas dropped), its own leading
    step number left out."""
    return set(_stated(step))


def _computations(step: str) -> list[tuple[tuple[Fraction, ...], Fraction]]:
    """(sorted operands, written result) of every computation the step states."""
    out = []
    for m in EQUATION.finditer(step):
        operands = sorted(to_number(o["num"]) for o in OPERAND.finditer(m["expr"]))
        out.append((tuple(operands), to_number(m["res"])))
    return out


def false_arithmetic(step: str) -> bool:
    """The step states a computation whose written result is not its value, beyond the
    rounding its written places allow (a result the text goes on computing with is not
    read as a result)."""
    for m in EQUATION.finditer(step):
        value = evaluate(m["expr"])
        if value is None or _CHAINED.match(step, m.end()):  # "4 * 60 / 5 = 4 * 12 = 48"
            continue
        places = len(m["res"].partition(".")[2])
        if abs(value - to_number(m["res"])) > Fraction(1, 2 * 10**places):
            return True
    return False


def chain_labels(
    base_steps: list[str],
    k: int,
    steps: list[str],
    givens: frozenset[Fraction] = frozenset(),
    base_final: Fraction | None = None,
) -> ChainLabels:
    """Labels of ``steps``: ``steps[:k]`` are the base's (Correct), ``steps[k]`` is the
    rewritten step (Wrong), later steps Wrong only on the evidence above. ``base_final``
    is the base solution's final answer (None: not checked)."""
    known = set().union(*(numbers(s) for s in base_steps)) | set(givens)
    base_computations = {c for s in base_steps for c in _computations(s)}
    chain = set((Counter(_stated(steps[k])) - Counter(_stated(base_steps[k]))).elements())
    labels = [True] * k + [False]
    carried = [False] * k + [True]
    for step in steps[k + 1 :]:
        stated = numbers(step)
        new = [c for c in _computations(step) if set(c[0]) & chain and c not in base_computations]
        uses = bool(stated & chain - known) or bool(new)
        if uses:
            chain |= {result for _, result in new} | (stated - known)
        answer = final_value(step)
        off_answer = (
            base_final is not None and answer is not None and to_number(answer) != base_final
        )
        labels.append(not (uses or off_answer or false_arithmetic(step)))
        carried.append(uses or (off_answer and to_number(answer) in chain))
    return ChainLabels(labels, carried)

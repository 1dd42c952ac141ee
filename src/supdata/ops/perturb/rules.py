"""Rule-based step errors with exact control.

Each error type rewrites one computation in one step. With ``carry``, the wrong value
flows through every later computation that used it (recomputed exactly) and into the
final answer, so the error has a single origin as a real mistake does; the steps it
changes are the wrong steps. Without ``carry`` the error stays in its step. Steps before
the first error are never touched, and no words are added.

Carrying follows data flow: an operand is replaced only when it is a value the changed
chain computed, never a quantity the problem gives (``givens``): in "10/2=5 ... feed 5
children, 5*5=25" with 5 children given, a changed 10/2 leaves 5*5 alone, because the
text cannot say which 5 is which. Later computations inside the origin step carry too,
so a one-paragraph solution that ends in ``\boxed{..}`` can still change its answer.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from supdata.ops.perturb.arithmetic import (
    OPERAND,
    OPERATOR,
    Computation,
    computations,
    evaluate,
    render,
    to_number,
)
from supdata.ops.perturb.target import swer_meets, wrong_wanted

ERROR_TYPES = ("wrong_result", "swap_operator", "flip_sign", "drop_term")
POSITIONS = ("first", "middle", "last", "random")
# Words that announce an error: the weak-to-strong paper's banned list for synthetic
# negatives (mistake, error, incorrect, miscompute, however, instead, directly) with their
# inflections and plurals, plus "actually".
LEAKY_WORDS = re.compile(
    r"\b(mistak(?:e|es|en|enly)|errors?|erroneous(?:ly)?|incorrect(?:ly|ness)?"
    r"|miscomput(?:e|es|ed|ing|ation|ations)|however|instead|directly|actually)\b",
    re.IGNORECASE,
)
_FINAL = re.compile(
    r"(####\s*|\\boxed\{\s*|answer is:?\s*\$?|(?:^|\n)[ \t]*(?:A|Answer)[ \t]*:[ \t]*\$?)"
    r"(-?\$?[\d,]*\d(?:\.\d+)?)",
    re.IGNORECASE,
)
_SWAP = {
    "+": "-",
    "-": "+",
    "*": "/",
    "/": "*",
    "×": "÷",
    "÷": "×",
    "\\cdot": "/",
    "\\times": "/",
    "x": "/",
    "−": "+",
}


class CannotPerturb(Exception):
    """The solution has no place for this error; the message is the counted reason."""


@dataclass(frozen=True)
class Perturbation:
    steps: list[str]
    labels: list[bool]
    error_types: list[str | None]
    first_error: int
    final_changed: bool


def _wrong_result(c: Computation, rng: random.Random) -> tuple[str, Fraction] | None:
    for delta in rng.sample([1, -1, 2, -2, 3, 10, -10, 5], 8):
        value = c.value + delta if c.value.denominator == 1 else c.value + Fraction(delta, 10)
        if value != c.value and (value >= 0 or c.value < 0):
            text = render(value, c.result)
            if text:
                return c.expr, value
    return None


def _swap_operator(c: Computation, rng: random.Random) -> tuple[str, Fraction] | None:
    ops = list(OPERATOR.finditer(c.expr))
    for m in rng.sample(ops, len(ops)):
        new_op = _SWAP.get(m.group().strip())
        if new_op is None:
            continue
        spaced = m.group().replace(m.group().strip(), new_op)
        expr = c.expr[: m.start()] + spaced + c.expr[m.end() :]
        value = evaluate(expr)
        if value is not None and value != c.value and render(value, c.result):
            return expr, value
    return None


def _flip_sign(c: Computation, rng: random.Random) -> tuple[str, Fraction] | None:
    if c.value == 0:
        return None
    return c.expr, -c.value


def _drop_term(c: Computation, rng: random.Random) -> tuple[str, Fraction] | None:
    ops = list(OPERATOR.finditer(c.expr))
    if len(ops) < 2:
        return None
    operands = list(OPERAND.finditer(c.expr))
    for i in rng.sample(range(1, len(operands)), len(operands) - 1):
        # drop operand i with the operator in front of it
        expr = c.expr[: ops[i - 1].start()] + c.expr[operands[i].end() :]
        value = evaluate(expr)
        if value is not None and value != c.value and render(value, c.result):
            return expr, value
    return None


RULES: dict[str, Callable[[Computation, random.Random], tuple[str, Fraction] | None]] = {
    "wrong_result": _wrong_result,
    "swap_operator": _swap_operator,
    "flip_sign": _flip_sign,
    "drop_term": _drop_term,
}


def _apply(step: str, c: Computation, expr: str, value: Fraction) -> str:
    between = step[c.start + len(c.expr) : c.end - len(c.result)]  # " = " as written
    return step[: c.start] + expr + between + render(value, c.result) + step[c.end :]


def _carry(
    step: str, changed: dict[Fraction, Fraction], givens: frozenset[Fraction] = frozenset()
) -> str:
    """Recompute this step's computations with the changed values (never a given
    quantity); extend the map."""
    edits = []
    for c in computations(step):
        operands = list(OPERAND.finditer(c.expr))
        flows = [
            to_number(o.group()) in changed and to_number(o.group()) not in givens for o in operands
        ]
        if not any(flows):
            continue
        parts, last = [], 0
        for o, flow in zip(operands, flows, strict=True):
            old = to_number(o.group())
            parts.append(c.expr[last : o.start()])
            parts.append(render(changed[old], o.group()) if flow else o.group())
            last = o.end()
        parts.append(c.expr[last:])
        new_expr = "".join(parts)
        value = evaluate(new_expr)
        if value is None or render(value, c.result) is None:
            raise CannotPerturb("a carried value gives an unclean number")
        edits.append((c, new_expr, value))
        if value != c.value and c.value not in givens:
            changed[c.value] = value
    for c, expr, value in reversed(edits):  # right to left keeps earlier spans valid
        step = _apply(step, c, expr, value)
    return step


def _carry_final(
    step: str, changed: dict[Fraction, Fraction], givens: frozenset[Fraction] = frozenset()
) -> str:
    def swap(m: re.Match) -> str:
        old = to_number(m.group(2))
        if old in changed and old not in givens:
            return m.group(1) + render(changed[old], m.group(2))
        return m.group(0)

    return _FINAL.sub(swap, step)


def origin_order(eligible: list[int], n: int, position: str | int, rng: random.Random) -> list[int]:
    if isinstance(position, int):  # a step number, 1-based
        if position - 1 not in eligible:
            raise CannotPerturb(f"step {position} has no checkable computation")
        return [position - 1]
    if position == "first":
        return eligible
    if position == "last":
        return eligible[::-1]
    if position == "middle":
        return sorted(eligible, key=lambda i: (abs(i - (n - 1) / 2), i))
    return rng.sample(eligible, len(eligible))


def perturb(
    steps: list[str],
    *,
    error_type: str,
    target_swer: float,
    position: str | int = "random",
    carry: bool = True,
    seed: int = 0,
    givens: frozenset[Fraction] | set[Fraction] = frozenset(),
    tolerance: float = 0.0,
) -> Perturbation:
    """Inject ``error_type`` so that round(target_swer * n) steps (at least 1) are wrong
    (SWER = wrong steps / all steps; with ``tolerance``, a SWER that close is kept too).

    With ``carry`` the count comes from one origin's chain of consequences, so the origin
    is chosen (in ``position`` order, or the given 1-based step number) among those whose
    chain meets the target (``swer_meets``); without it, round(target_swer * n) steps each
    get an independent error, the first at ``position``. ``givens`` are the problem's own
    quantities (``given_quantities(question)``): a carried chain never rewrites one of
    them. The labels mark exactly the steps the edit changed.
    """
    if error_type not in RULES:
        raise ValueError(f"unknown error type {error_type!r}; expected one of {ERROR_TYPES}")
    if isinstance(position, bool) or (isinstance(position, int) and position < 1):
        raise ValueError(f"a step position is a step number >= 1, got {position!r}")
    if not isinstance(position, int) and position not in POSITIONS:
        raise ValueError(
            f"unknown position {position!r}; expected a step number or one of {POSITIONS}"
        )
    if isinstance(position, int) and position > len(steps):
        raise ValueError(f"position {position} is past the last step ({len(steps)} steps)")
    if not 0 < target_swer <= 1:
        raise ValueError(f"target SWER must be in (0, 1], got {target_swer}")
    n = len(steps)
    want = wrong_wanted(n, target_swer)
    rng = random.Random(seed)
    found = [computations(s) for s in steps]
    eligible = [i for i, cs in enumerate(found) if cs]
    if not eligible:
        raise CannotPerturb("no checkable computation")
    if want > n:
        raise CannotPerturb("target SWER needs more steps than the solution has")
    origins = origin_order(eligible, n, position, rng)
    if carry:
        for k in origins:
            try:
                result = _carried(steps, found, k, error_type, rng, frozenset(givens))
            except CannotPerturb:
                continue
            if result is not None and swer_meets(result.labels, target_swer, tolerance):
                return result
        raise CannotPerturb("no origin gives the target SWER with a changed final answer")
    return _independent(steps, found, origins, want, error_type, rng)


def _break(step: str, cs: list[Computation], error_type: str, rng: random.Random):
    for c in rng.sample(cs, len(cs)):
        made = RULES[error_type](c, rng)
        if made is not None and render(made[1], c.result) is not None:
            return c, made
    return None


def _carried(steps, found, k, error_type, rng, givens) -> Perturbation | None:  # noqa: PLR0917
    broken = _break(steps[k], found[k], error_type, rng)
    if broken is None:
        return None
    c, (expr, value) = broken
    new = list(steps)
    origin = _apply(steps[k], c, expr, value)
    changed = {c.value: value} if c.value not in givens else {}
    cut = c.end + len(origin) - len(steps[k])  # the origin's rest, after the broken result
    rest = _carry_final(_carry(origin[cut:], changed, givens), changed, givens)
    new[k] = origin[:cut] + rest
    for j in range(k + 1, len(steps)):
        new[j] = _carry_final(_carry(steps[j], changed, givens), changed, givens)
    final_changed = new[-1] != steps[-1] and final_value(new[-1]) != final_value(steps[-1])
    if not final_changed:
        return None
    labels = [a == b for a, b in zip(new, steps, strict=True)]
    types = [None if ok else error_type for ok in labels]
    return Perturbation(new, labels, types, k, True)


def given_quantities(question: str) -> frozenset[Fraction]:
    """The numbers a problem states (``$1,200`` -> 1200): quantities a carried error
    must never rewrite."""
    return frozenset(to_number(m.group("num")) for m in OPERAND.finditer(question))


def final_value(step: str) -> str | None:
    m = list(_FINAL.finditer(step))
    return m[-1].group(2) if m else None


def _independent(steps, found, origins, want, error_type, rng) -> Perturbation:  # noqa: PLR0917
    first = None
    for k in origins:
        if _break(steps[k], found[k], error_type, random.Random(rng.random())) is not None:
            first = k
            break
    if first is None:
        raise CannotPerturb(f"no computation takes a {error_type} error")
    later = [i for i, cs in enumerate(found) if cs and i > first]
    chosen = [first]
    for i in rng.sample(later, len(later)):
        if len(chosen) == want:
            break
        if _break(steps[i], found[i], error_type, random.Random(rng.random())) is not None:
            chosen.append(i)
    if len(chosen) < want:
        raise CannotPerturb("not enough computations after the first error for the target SWER")
    new = list(steps)
    for i in chosen:
        c, (expr, value) = _break(steps[i], found[i], error_type, rng)
        new[i] = _apply(steps[i], c, expr, value)
    labels = [i not in chosen for i in range(len(steps))]
    types = [None if ok else error_type for ok in labels]
    return Perturbation(new, labels, types, first, False)

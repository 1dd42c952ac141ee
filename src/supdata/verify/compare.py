"""Judge one prediction against a reference answer with math-verify.

Runs inside a worker process (the CPU budget uses a signal, which works only in a main
thread); the pool adds a hard kill for inputs that ignore signals.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from math_verify import verify
from math_verify.grader import is_relation
from sympy import Basic, Mul, Rational, UnevaluatedExpr

from supdata.verify.budget import SoftTimeout, big_ints, cpu_budget
from supdata.verify.config import VerifyConfig
from supdata.verify.extract import Extracted, extract_answer, read_answer

_PCT = UnevaluatedExpr(Rational(1, 100))  # how math-verify writes "X%": X * (1/100)
_TEXT_LIKE = re.compile(r"(?<!\\)\$|\\\(|\\\[|\\boxed|\\fbox")
_TEXT_WRAP = re.compile(r"\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}")
_DEFAULT = VerifyConfig()


class _NoTimeoutWarning(logging.Filter):
    """math-verify warns once per process that its own timeouts are off: they are, on
    purpose (supdata's CPU budget replaces them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Timeout is disabled")


for _name in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_name).addFilter(_NoTimeoutWarning())


@dataclass(frozen=True, slots=True)
class Judgement:
    status: str  # correct | incorrect | no_answer | bad_reference | timeout
    answer: str | None = None  # the prediction's extracted answer
    extraction: str | None = None  # the rule that found it (extract.RULES), None if none
    detail: str | None = None  # why, when the status needs explaining

    @property
    def method(self) -> str | None:
        """Former name of ``extraction``."""
        return self.extraction


@lru_cache(maxsize=4096)
def reference(answer: str) -> Extracted:
    """Read a reference answer: a bare answer as LaTeX (else as an expression); a text
    with math delimiters or ``\\boxed`` (a reference solution) through the extraction
    rules, like a prediction."""
    if _TEXT_LIKE.search(answer):
        return extract_answer(answer)
    return read_answer(answer)


def _plain_text(text: str) -> str:
    text = _TEXT_WRAP.sub(r"\1", text)
    return re.sub(r"[\s$]+", "", text).lower()


def _same_text(a: str, b: str) -> bool:
    """The same answer written the same way, up to spacing, case and \\text{} wrappers
    (a text answer, or one math-verify cannot read: ``12:00``, a 5,000-digit integer)."""
    a, b = _plain_text(a), _plain_text(b)
    return bool(a) and a == b


def _percent(expr: Any, policy: str) -> Any:
    if not isinstance(expr, Basic) or not expr.has(_PCT):
        return expr
    if policy == "value":
        return expr.xreplace({_PCT: Rational(1, 100)})
    return expr.replace(
        lambda e: isinstance(e, Mul) and _PCT in e.args,
        lambda e: Mul(*(a for a in e.args if a != _PCT)),
    )


def _magnitude(values: list) -> float | None:
    first = values[0] if values else None
    if not (isinstance(first, Basic) and first.is_number):
        return None
    try:
        return abs(float(first.evalf()))
    except (TypeError, ValueError):
        return None


def _tiny_mismatch(gold: list, pred: list, rounding: int) -> bool:
    """math-verify rounds floats to ``rounding`` decimals, so 3.3e-10 "equals" 4e-10.
    Numbers below that resolution must agree to ``rounding`` significant digits."""
    a, b = _magnitude(gold), _magnitude(pred)
    if a is None or b is None:
        return False
    scale = max(a, b)
    return scale < 10.0**-rounding and abs(a - b) > scale * 10.0**-rounding


def _equal(gold: list, pred: list, config: VerifyConfig) -> bool:
    options = {
        "float_rounding": config.float_rounding,
        "numeric_precision": config.numeric_precision,
        "strict": config.strict,
        "allow_set_relation_comp": config.allow_set_relation_comp,
        "timeout_seconds": None,  # the CPU budget around the whole item replaces it
    }
    if config.percent != "lenient":
        gold = [_percent(g, config.percent) for g in gold]
        pred = [_percent(p, config.percent) for p in pred]
    if verify(gold, pred, **options):
        return not _tiny_mismatch(gold, pred, config.float_rounding)
    if config.percent == "lenient" and any(
        isinstance(x, Basic) and x.has(_PCT) for x in gold + pred
    ):
        return verify(
            [_percent(g, "sign") for g in gold], [_percent(p, "sign") for p in pred], **options
        )
    return False


def _judge(prediction: str, reference_answer: str | None, config: VerifyConfig) -> Judgement:
    if not (reference_answer and reference_answer.strip()):
        return Judgement("bad_reference", detail=f"reference answer {reference_answer!r} is empty")
    found = extract_answer(prediction, last_number_fallback=config.last_number_fallback)
    if found.answer is not None and _same_text(found.answer, reference_answer):
        return Judgement("correct", found.answer, found.method, "same text")
    gold = reference(reference_answer)
    if gold.answer is None:
        return Judgement("bad_reference", detail=f"reference answer {reference_answer!r} is empty")
    if found.answer is None:
        return Judgement("no_answer", None, None, "no final answer found")
    if _same_text(found.answer, gold.answer):
        return Judgement("correct", found.answer, found.method, "same text")
    if gold.method is None:
        return Judgement(
            "bad_reference",
            found.answer,
            found.method,
            f"reference answer {reference_answer!r} does not parse (and is not the same text)",
        )
    if found.whole and is_relation(gold.parsed[0]):
        found = replace(found, parsed=read_answer(found.whole).parsed)
    if _equal(list(gold.parsed), list(found.parsed), config):
        return Judgement("correct", found.answer, found.method)
    return Judgement("incorrect", found.answer, found.method)


def judge(
    prediction: str, reference_answer: str | None, config: VerifyConfig = _DEFAULT
) -> Judgement:
    """Extract the prediction's final answer and compare it with the reference.

    The item runs under a CPU-time budget (``config.soft_timeout_s``); past it, it runs
    once more with the rest of the budget (``config.retry_timeout_s``), then is
    ``timeout``. CPU time, unlike math-verify's wall-clock alarm, does not shrink when
    the machine is busy, so the verdict does not depend on the load."""
    with big_ints():
        for budget in (config.soft_timeout_s, config.retry_timeout_s):
            try:
                with cpu_budget(budget):
                    return _judge(prediction, reference_answer, config)
            except SoftTimeout:
                continue
    return Judgement(
        "timeout",
        detail=f"over the CPU budget ({config.soft_timeout_s:.3g}s, "
        f"then {config.retry_timeout_s:.3g}s)",
    )

"""Judge one prediction against a reference answer with math-verify.

Runs inside a worker process (math-verify's own timeouts use SIGALRM, which works only
in a main thread); the pool adds a hard kill for inputs that ignore the alarm.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify
from math_verify.errors import TimeoutException

from supdata.verify.extract import extract_answer

_CONFIG = (LatexExtractionConfig(), ExprExtractionConfig())
_THOUSANDS = re.compile(r"(?<![\d.])(\d{1,3})((?:,\d{3})+)(?![\d])")
_TEXT = re.compile(r"\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}")


@dataclass(frozen=True, slots=True)
class Judgement:
    status: str  # correct | incorrect | no_answer | bad_reference | timeout
    answer: str | None = None  # the prediction's extracted answer
    method: str | None = None  # how it was extracted
    detail: str | None = None  # why, when the status needs explaining


def _clean(answer: str) -> str:
    """Undo surface forms math-verify misreads: thousands commas, dollar signs, \\text."""
    answer = answer.strip().replace("\\$", "").replace("\\!", "")
    answer = _THOUSANDS.sub(lambda m: m.group(1) + m.group(2).replace(",", ""), answer)
    if answer.count("$") % 2 == 1 or (not answer.startswith("$") and "$" in answer):
        answer = answer.replace("$", "")
    answer = answer.strip("$ ").rstrip(".")
    return answer


def _parse(answer: str, timeout_s: int) -> list:
    cleaned = _clean(answer)
    if not cleaned:
        return []
    parsed = parse(f"${cleaned}$", list(_CONFIG), parsing_timeout=timeout_s, raise_on_error=True)
    if not parsed:
        parsed = parse(cleaned, list(_CONFIG), parsing_timeout=timeout_s, raise_on_error=True)
    return parsed


def _normal_text(answer: str) -> str:
    return re.sub(r"\s+", "", _TEXT.sub(r"\1", _clean(answer))).lower()


def judge(
    prediction: str,
    reference_answer: str | None,
    *,
    last_number_fallback: bool = True,
    timeout_s: int = 5,
) -> Judgement:
    """Extract the prediction's final answer and compare it with the reference."""
    extracted = extract_answer(prediction, last_number_fallback=last_number_fallback)
    try:
        gold = _parse(reference_answer, timeout_s) if reference_answer else []
        if not gold:
            return Judgement(
                "bad_reference",
                extracted.answer,
                extracted.method,
                f"reference answer {reference_answer!r} does not parse",
            )
        if extracted.answer is None:
            return Judgement("no_answer", None, None, "no final answer found")
        pred = _parse(extracted.answer, timeout_s)
        if pred and verify(gold, pred, timeout_seconds=timeout_s, raise_on_error=True):
            return Judgement("correct", extracted.answer, extracted.method)
        if _normal_text(extracted.answer) == _normal_text(reference_answer):
            return Judgement("correct", extracted.answer, extracted.method, "same text")
        return Judgement("incorrect", extracted.answer, extracted.method)
    except TimeoutException:
        return Judgement(
            "timeout", extracted.answer, extracted.method, f"math-verify gave up after {timeout_s}s"
        )
    except Exception as exc:  # math-verify/sympy raise many types on odd input
        return Judgement(
            "incorrect",
            extracted.answer,
            extracted.method,
            f"comparison failed: {type(exc).__name__}: {exc}"[:300],
        )

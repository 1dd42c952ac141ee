"""Text rewrites applied before math-verify reads a text: surface forms it misreads.

Each rewrite is narrow, keeps every other character, and is listed (with its reason) in
docs/verification.md. None of them touches commas between numbers: math-verify's own
number rules decide thousands separators and decimal commas.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# 1.07e16, 1e-5, 3.3E-10: digits, e/E, a signed integer exponent, nothing word-like
# around (so 2e^{x}, e2, x1e3 stay).
_SCI = re.compile(r"(?<![\w.\\])(\d+(?:\.\d+)?)[eE]([-+]?\d{1,3})(?![\w.])")
# \text {cm} -> \text{cm}: math-verify's unit rules expect the brace right after.
_TEXT_SPACE = re.compile(r"\\(text|mbox|mathrm|textbf)\s+\{")
# 11,\! 111,\! 100: LaTeX's thin-space thousands separator, written outside math too.
_THIN_THOUSANDS = re.compile(r"(?<=\d),\\!\s*(?=\d{3}(?!\d))")
# A reference to a step, equation or case is not an answer: "(see step 3)".
_REFERENCE = re.compile(
    r"(?i)\b(?:steps?|equations?|eq\.|eqn\.?|figure|fig\.|cases?|parts?|lines?|"
    r"sections?|methods?|approach|options?|rules?|theorem|lemma|problems?)\s*\(?\s*(\d+)\)?"
)

_TEXT_LIST = re.compile(r"^\\text\{([^{}]*,[^{}]*)\}$")


def _expand_sci(match: re.Match) -> str:
    try:
        value = Decimal(f"{match.group(1)}e{match.group(2)}")
    except InvalidOperation:  # pragma: no cover - the pattern only admits valid numbers
        return match.group(0)
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def expand_scientific(text: str) -> str:
    """``1.07e16`` -> ``10700000000000000``, ``1e-5`` -> ``0.00001`` (math-verify reads
    the ``e`` as Euler's number)."""
    return _SCI.sub(_expand_sci, text) if ("e" in text or "E" in text) else text


def _mask(match: re.Match) -> str:
    start, end = match.span(1)
    whole = match.group(0)
    offset = start - match.start()
    return whole[:offset] + "#" * (end - start) + whole[offset + end - start :]


def normalize_text(text: str) -> str:
    """Rewrites for a whole prediction (or a reference given as a text)."""
    text = text.replace("\\$", " ")  # a literal dollar sign hides the number after it
    text = text.replace("\\fbox{", "\\boxed{")  # math-verify looks for \boxed only
    text = _TEXT_SPACE.sub(r"\\\1{", text)
    text = _THIN_THOUSANDS.sub(",", text)
    text = _REFERENCE.sub(_mask, text)
    return expand_scientific(text)


def normalize_answer(answer: str) -> str:
    """Rewrites for a bare answer (a reference answer, a ``####`` answer)."""
    answer = answer.strip().replace("\\$", "")
    answer = _TEXT_SPACE.sub(r"\\\1{", answer)
    # \text{A,D}: a list of choices written as one word; math-verify would read one symbol
    answer = _TEXT_LIST.sub(r"\1", answer)
    return expand_scientific(answer)

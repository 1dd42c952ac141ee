"""Does a feedback leak what only the informed verifier saw?

The student never sees the reference, so a target that quotes the reference's final
answer (when the attempt does not contain it) or talks about "the reference solution"
teaches the student to hallucinate knowledge it cannot have.
"""

from __future__ import annotations

import re

from supdata.ops.numbers import SIGNED_WHOLE, drop_thousands

_MENTIONS_REFERENCE = re.compile(
    r"\breference (?:solution|answer)s?\b|\bthe (?:given|provided) (?:solution|answer) key\b",
    re.IGNORECASE,
)
_LATEX_NOISE = re.compile(r"\\left|\\right|\\[,!;: ]|\$|\s+")
_SHORT_ANSWER = 3  # a non-numeric answer shorter than this is only matched when boxed/stated


def _normal(text: str) -> str:
    text = _LATEX_NOISE.sub("", text)
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    return drop_thousands(text)


def _unboxed(answer: str) -> str:
    m = re.fullmatch(r"\s*\\boxed\{(.*)\}\s*", answer, re.DOTALL)
    return m.group(1) if m else answer


def mention(text: str, answer: str) -> str | None:
    """Where ``text`` states ``answer`` (a snippet), or None.

    Numbers match with digit boundaries (18 is not in 180 or 1.8), also written 18.0 or
    18,000-style; a number right after "step" is a step index, not an answer. Other
    answers match on LaTeX-normalized text; very short ones only inside \\boxed{} or
    after "answer is".
    """
    target = drop_thousands(_unboxed(answer).strip().strip("$").strip())
    if not target:
        return None
    flat = drop_thousands(text)
    if SIGNED_WHOLE.match(target):
        value = re.escape(target.lstrip("+"))
        pattern = re.compile(rf"(?<![\w.]){value}(?:\.0+)?(?![\d])(?!\.\d)")
        for m in pattern.finditer(flat):
            before = flat[max(0, m.start() - 6) : m.start()].lower()
            if re.search(r"steps?\s*$", before):
                continue
            return flat[max(0, m.start() - 30) : m.end() + 10].strip()
        return None
    norm_target = _normal(target)
    if len(norm_target) >= _SHORT_ANSWER:
        norm = _normal(text)
        i = norm.find(norm_target)
        return None if i < 0 else norm[max(0, i - 30) : i + len(norm_target) + 10]
    for m in re.finditer(r"\\boxed\{([^{}]*)\}|answer is\s*:?\s*\$?([^\s$.,]+)", text):
        if _normal(_unboxed(m.group(1) or m.group(2) or "")) == norm_target:
            return m.group(0)
    return None


def leak(feedback: str, attempt: str, reference_answer: str) -> str | None:
    """Why ``feedback`` leaks the reference, or None when it is clean."""
    m = _MENTIONS_REFERENCE.search(feedback)
    if m:
        return "mentions the reference solution"
    if reference_answer and mention(attempt, reference_answer) is None:
        said = mention(feedback, reference_answer)
        if said is not None:
            return "states the reference answer the attempt does not contain"
    return None

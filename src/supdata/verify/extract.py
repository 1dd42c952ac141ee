"""Find the final answer a solution commits to."""

from __future__ import annotations

import re
from dataclasses import dataclass

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_HASHES = re.compile(r"####\s*(.+?)\s*$", re.MULTILINE)
_ANSWER_IS = re.compile(
    r"(?:final answer|the answer)\s*(?:is|:)\s*[:]?\s*(.+?)(?:\s*$|(?<=[^\d])\.\s|\.\s*$)",
    re.IGNORECASE | re.MULTILINE,
)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+")


@dataclass(frozen=True, slots=True)
class Extracted:
    answer: str | None
    method: str | None  # boxed, hashes, answer_is, last_number


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` with balanced braces, None if there is none."""
    for m in reversed(list(_BOXED.finditer(text))):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            if text[i] == "\\" and i + 1 < len(text):
                i += 2
                continue
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            return text[m.end() : i - 1].strip()
    return None


def extract_answer(text: str, *, last_number_fallback: bool = True) -> Extracted:
    """The final answer: last ``\\boxed{}``, else ``#### x``, else "the answer is x",
    else (if allowed) the last number in the text."""
    boxed = last_boxed(text)
    if boxed:
        return Extracted(boxed, "boxed")
    hashes = _HASHES.findall(text)
    if hashes:
        return Extracted(hashes[-1], "hashes")
    stated = _ANSWER_IS.findall(text)
    if stated and stated[-1].strip(" .$"):
        return Extracted(stated[-1].strip().rstrip("."), "answer_is")
    if last_number_fallback:
        numbers = _NUMBER.findall(text)
        if numbers:
            return Extracted(numbers[-1], "last_number")
    return Extracted(None, None)

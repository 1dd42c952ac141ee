"""Read the verdict a verifier's feedback ends with ("Verdict: Correct" / "Verdict: Wrong")."""

from __future__ import annotations

import re

_VERDICT = re.compile(
    r"verdict\s*(?:is)?\s*[:：]?\s*[*_`\"'\[(]*\s*(correct|incorrect|wrong|right)\b", re.IGNORECASE
)
_BOXED = re.compile(r"\\boxed\{\s*(correct|incorrect|wrong|right)\s*\}", re.IGNORECASE)
_TRUE = {"correct", "right"}


def parse_verdict(text: str) -> bool | None:
    """True (the attempt is right), False (wrong), or None when no verdict is stated.

    The last verdict counts: feedback may restate the instructions before answering.
    """
    found = [m for pattern in (_VERDICT, _BOXED) for m in pattern.finditer(text)]
    if not found:
        return None
    last = max(found, key=lambda m: m.start())
    return last.group(1).lower() in _TRUE


VERDICT_WORDS = ("Correct", "Wrong")


def verdict_word(correct: bool) -> str:
    """The one spelling of a verdict in every row and prompt: Correct / Wrong."""
    return VERDICT_WORDS[0] if correct else VERDICT_WORDS[1]

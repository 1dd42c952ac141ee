"""The weak-to-strong paper's pre-filter of source problems: no figures, one question,
English. Each test is a plain predicate with its reason, counted when a problem drops.

The paper states the categories, not the rules; these are supdata's rules for them
(docs in the README): a figure is an ``[asy]`` block, an ``\\includegraphics`` or a
phrase that points at one ("the figure", "in the diagram"; not "shown below", which in
MATH mostly introduces a typeset array); a multi-part question has labelled parts (a),
(b), ... of which two or more ask something (labelled options and conditions are one
question); a problem is non-English when under 90% of its letters (outside TeX and
math) are ASCII, or when six words or more hold no common English function word.
"""

from __future__ import annotations

import re
from itertools import pairwise

_FIGURE = re.compile(
    r"\[asy\]|\\includegraphics|\b(the|this|following|given|adjoining|accompanying)\s+"
    r"(figure|diagram|picture)\b",
    re.IGNORECASE,
)
# A part label: "(a)", "a)" at a line start, "part (a)". Capitals are a multiple
# choice's options.
_LABEL = re.compile(r"(?:^|\s)\(([a-h])\)\s|^\s*([a-h])\)\s|\b[Pp]art \(([a-h])\)", re.MULTILINE)
_ASKS = re.compile(
    r"\?|\b(find|compute|calculate|determine|show|prove|what|how|which|explain)\b", re.IGNORECASE
)
_ASY = re.compile(r"\[asy\].*?\[/asy\]", re.DOTALL)
_MATH = re.compile(r"\$\$.*?\$\$|\$[^$]*\$|\\\(.*?\\\)|\\\[.*?\\\]|\\[a-zA-Z]+", re.DOTALL)


def has_figure(question: str) -> bool:
    return bool(_FIGURE.search(question))


def is_multi_part(question: str) -> bool:
    """Two or more labelled parts (a), (b), ... that each ask something; labelled options
    or conditions ("a) When divided by 2, the remainder is 1.") are one question."""
    text = _MATH.sub(" ", _ASY.sub(" ", question))
    cuts = list(_LABEL.finditer(text))
    labels = [next(g for g in m.groups() if g) for m in cuts]
    if len(cuts) < 2 or labels[:2] != ["a", "b"]:
        return False
    parts = [text[m.end() : n.start()] for m, n in pairwise(cuts)]
    parts.append(text[cuts[-1].end() :])
    return sum(bool(_ASKS.search(part)) for part in parts) >= 2


_ENGLISH = frozenset(
    {
        "the",
        "of",
        "and",
        "is",
        "are",
        "to",
        "in",
        "what",
        "how",
        "many",
        "much",
        "for",
        "each",
        "with",
        "that",
        "has",
        "have",
        "if",
        "find",
        "your",
        "an",
        "as",
        "answer",
        "enter",
        "express",
        "simplify",
        "evaluate",
        "solve",
        "compute",
        "using",
        "be",
        "by",
    }
)


def is_english(question: str, min_ascii: float = 0.9) -> bool:
    """Mostly ASCII letters outside math, and (six words or more) an English function
    word: French or Spanish in ASCII fails the second test, Chinese the first."""
    text = _MATH.sub(" ", _ASY.sub(" ", question))
    letters = [c for c in text if c.isalpha()]
    if letters and sum(c.isascii() for c in letters) / len(letters) < min_ascii:
        return False
    words = re.findall(r"[^\W\d_]+", text.lower())
    return len(words) < 6 or any(w in _ENGLISH for w in words)


def prefilter_reason(
    question: str, *, figures: bool, multi_part: bool, english: bool
) -> str | None:
    """Why the paper's pre-filter drops ``question`` (the enabled tests), or None."""
    if figures and has_figure(question):
        return "pre-filter: has a figure"
    if multi_part and is_multi_part(question):
        return "pre-filter: multi-part question"
    if english and not is_english(question):
        return "pre-filter: not English"
    return None

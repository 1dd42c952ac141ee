"""Text normalization for matching: the same problem written two ways gives the same tokens.

Case, Unicode forms, whitespace, LaTeX spacing and sizing commands, math delimiters,
braces, thousands separators and prose punctuation do not change what a problem asks, so
none of them may hide a copy. ``\\frac {1} {2}``, ``\\frac{1}{2}`` and ``\\dfrac{1}{2}``
give the same tokens, as do ``x ^ 2``, ``x^2`` and ``x^{2}``. Tokens are words,
numbers, LaTeX control words and single symbols: exact matching compares all of them.

``words`` is what n-grams are made of: the tokens without single symbols and without
``[asy]`` figure code. Symbols and plotting code are shared by unrelated problems
(``f ( f ( f ( 1 ) ) )``, ``draw ( ( 0 0 ) - - ( 1 0 ) )``), so in n-grams they would
make matches where no text is shared; 13 words of prose and numbers are evidence.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from supdata.ops.numbers import DECIMAL, drop_thousands

# Commands that only space, size or style: dropped. Their arguments stay.
_NOOP = re.compile(
    r"\\(?:left|right|big|Big|bigg|Bigg|displaystyle|textstyle|quad|qquad|"
    r"mathrm|mathbf|mathit|textbf|textit|text|mbox|operatorname)(?![a-zA-Z])"
    r"|\\[,;:! ]|~|\$|\\[()\[\]]"
)
_SYNONYMS = {
    r"\dfrac": r"\frac",
    r"\tfrac": r"\frac",
    r"\le": r"\leq",
    r"\ge": r"\geq",
    r"\neq": r"\ne",
    r"\dbinom": r"\binom",
    r"\tbinom": r"\binom",
    r"\cdot": r"\times",
}
_TOKEN = re.compile(r"\\[a-z]+|[a-z]+|\d+(?:\.\d+)?|[^\sa-z\d]")
# Prose punctuation and grouping carry no content once the tokens are in order.
_SKIP = frozenset(".,;:!?\"'`{}\u2018\u2019\u201c\u201d")
_ASY = re.compile(r"\[asy\].*?(?:\[/asy\]|$)", re.DOTALL | re.IGNORECASE)


def tokens(text: str) -> list[str]:
    """The normalized tokens of ``text`` (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text)
    text = _NOOP.sub(" ", text)
    text = drop_thousands(text).lower()
    out = []
    for tok in _TOKEN.findall(text):
        if tok in _SKIP:
            continue
        out.append(_SYNONYMS.get(tok, tok))
    return out


def words(text: str) -> list[str]:
    """The tokens n-grams are made of: words, numbers and control words, no figures."""
    return [t for t in tokens(_ASY.sub(" ", text)) if t[0].isalnum() or len(t) > 1]


def normalize(text: str) -> str:
    """One canonical string per problem: its tokens joined by single spaces."""
    return " ".join(tokens(text))


def mask_numbers(toks: list[str]) -> list[str]:
    """Every number becomes ``0``: copies that differ only in their numbers look alike."""
    return ["0" if DECIMAL.fullmatch(t) else t for t in toks]


def text_hash(normalized: str) -> str:
    """Stable short hash of a normalized text (exact-match key, same in every process)."""
    return hashlib.blake2b(normalized.encode("utf-8"), digest_size=8).hexdigest()


def dedup_key(text: str) -> str:
    """Case- and whitespace-insensitive key for exact-duplicate checks of generated text."""
    return " ".join(text.lower().split())

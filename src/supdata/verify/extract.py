"""Find the final answer a solution commits to, and name the rule that found it.

The search is math-verify's own extraction (its regexes, priorities and parsers:
LaTeX and plain expressions over the whole text, ``\\boxed`` first, then "final answer
is", then "answer: / answer is", then the rightmost expression that parses), with
supdata's rules added where math-verify has none, never in place of its own:

- ``hashes``: GSM8K's ``#### 42`` line, as strong as ``\\boxed``;
- ``last_equation``: the right-hand side of the last display equation, tried before
  the last expression in the text (a trailing "4 weeks" or "(see step 3)" is not the
  answer of ``\\[14 + 20 = 34 \\text{ hours}\\]``);
- a mention of a bare variable (``\\(n\\)``, ``\\(A\\) and \\(B\\)``) is not taken as the
  unanchored answer while another expression parses;
- a trailing single letter is a factor, not a unit, when the rest has variables
  (math-verify drops the ``t`` of ``\\frac{1}{m}t`` as a unit);
- text rewrites first (scientific notation, ``\\$``, step references): see normalize.py.

The rule names (``Extracted.method``, ``Judgement.extraction``) are stable strings:
``boxed``, ``hashes``, ``final_answer``, ``answer_is``, ``last_equation``,
``last_latex``, ``last_number``; None when nothing was found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cache
from itertools import groupby
from typing import Any

from latex2sympy2_extended.latex2sympy2 import NormalizationConfig
from math_verify import ExprExtractionConfig, LatexExtractionConfig
from math_verify.parser import extract_expr, extract_latex, get_extraction_regexes
from sympy import Basic, E, FiniteSet, MatrixBase, Mul, Symbol, Tuple
from sympy.core.function import AppliedUndef

from supdata.verify.normalize import normalize_answer, normalize_text

RULES = (
    "boxed",
    "hashes",
    "final_answer",
    "answer_is",
    "last_equation",
    "last_latex",
    "last_number",
)

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_HASHES = re.compile(r"^[ \t]*####[ \t]*(?P<hashes>\S[^\n]*?)[ \t]*$", re.MULTILINE)
_DISPLAY = re.compile(r"\\\[(?P<display>.+?)\\\]|\$\$(?P<dollars>.+?)\$\$", re.DOTALL)
# Top-level tokens of a display: brackets, "=" / \approx, and what makes it no single
# chain: a list separator (a comma not between digits, ;, \quad, "and") or an inequality.
_TOKENS = re.compile(
    r"[{}()\[\]]|(?<![<>!\\])=|\\approx|(?<!\d),|,(?!\d)|;|\\q?quad|\\text\{\s*and\s*\}"
    r"|\\[gl]eq?\b|\\neq?\b|<|>"
)
_CONCLUSION = re.compile(r"(?i)\b(?:therefore|thus|hence|so|in conclusion|in summary|answer)\b")
_TRAILING = re.compile(r"[\s.,;:]+$")
# "The answer is blue.": a stated answer with nothing math-verify reads, kept as text.
_STATED = re.compile(
    r"(?i)\b(?:final answer|the answer)\s*(?:is|:)\s*:?\s*"
    r"(?P<stated>[^\n.]{1,60}?)\s*(?:\.(?:\s|$)|\n|$)"
)

_HASHES_PRIORITY = 0
_EQUATION_PRIORITY = 250  # after every anchored rule, before math-verify's unanchored 300
_UNANCHORED = 300


@dataclass(frozen=True, slots=True)
class Extracted:
    answer: str | None  # the answer as math-verify normalized it, or as written
    method: str | None  # the rule that found it (see RULES)
    parsed: tuple = ()  # math-verify's reading: sympy objects, then the string
    whole: str | None = None  # last_equation: the whole display it took the result of


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


def _latex_config(units: bool, anchored_only: bool) -> LatexExtractionConfig:
    return LatexExtractionConfig(
        try_extract_without_anchor=not anchored_only,
        boxed_match_priority=0,
        normalization_config=NormalizationConfig(
            basic_latex=True,
            units=units,
            malformed_operators=True,
            nits=True,
            boxed="all",
            equations=False,
        ),
    )


@cache
def _patterns(anchored_only: bool) -> list[tuple[int, list[tuple[re.Pattern, Any]]]]:
    """math-verify's patterns for LaTeX (boxed first) + expressions, plus supdata's,
    grouped by priority."""
    targets = [
        _latex_config(units=True, anchored_only=anchored_only),
        ExprExtractionConfig(try_extract_without_anchor=not anchored_only),
    ]
    rows = [
        (priority, pattern, target)
        for regexes, target in get_extraction_regexes(targets)
        for pattern, priority in regexes
    ]
    rows.append((_HASHES_PRIORITY, _HASHES, "hashes"))
    if not anchored_only:
        rows.append((_EQUATION_PRIORITY, _DISPLAY, "last_equation"))
    rows.sort(key=lambda r: r[0])
    return [
        (p, [(pat, t) for _, pat, t in group]) for p, group in groupby(rows, key=lambda r: r[0])
    ]


def _rule(target: Any, priority: int, match: re.Match) -> str:
    if isinstance(target, str):
        return target
    if priority == _UNANCHORED:
        return "last_latex" if isinstance(target, LatexExtractionConfig) else "last_number"
    if priority in (100, 200):
        return "answer_is"
    boxed = any(v and name.endswith("latexBoxed") for name, v in match.groupdict().items()) or bool(
        _BOXED.search(match.group(0))
    )
    return "boxed" if boxed and priority == 0 else "final_answer"


def _free(expr: Any) -> set:
    return expr.free_symbols if isinstance(expr, Basic | MatrixBase) else set()


def _latex(match: re.Match, target: LatexExtractionConfig) -> tuple[Any, str]:
    """math-verify's LaTeX reading, except that a trailing single letter it strips as a
    unit is kept when the rest of the expression has variables: ``\\frac{1}{m}t``."""
    parsed, text = extract_latex(match, target)
    if parsed is None or not _free(parsed):
        return parsed, text
    plain = replace(target, normalization_config=replace(target.normalization_config, units=False))
    kept, kept_text = extract_latex(match, plain)
    tail = kept_text[len(text) :].strip() if kept_text.startswith(text) else ""
    if kept is not None and re.fullmatch(r"[A-Za-z]", tail) and _free(kept) > _free(parsed):
        return kept, kept_text
    return parsed, text


def _is_mention(expr: Any) -> bool:
    """A bare variable, a product of letters, an undefined function call, or a set of
    those: how prose mentions a quantity (``\\(n\\)``, ``\\(f(x)\\)``, ``\\(A\\) and \\(B\\)``)."""
    if isinstance(expr, FiniteSet | Tuple):
        return len(expr.args) > 0 and all(_is_mention(a) for a in expr.args)
    if isinstance(expr, Symbol | AppliedUndef):
        return True
    if isinstance(expr, Mul):
        return all(a == E or isinstance(a, Symbol) for a in expr.args)
    return False


def _relation_rhs(latex: str) -> str | None:
    """What follows the last top-level ``=`` (or ``\\approx``) of a display: the result
    of a computation chain. None when the display is not one: no such sign, an
    inequality after it, or a list (a top-level comma, ``;``, ``\\quad``, "and") of
    several equations, which math-verify reads whole."""
    depth, last = 0, None
    for m in _TOKENS.finditer(latex):
        tok = m.group(0)
        if tok in "{([":
            depth += 1
        elif tok in "})]":
            depth -= 1
        elif depth > 0:
            continue
        elif tok in ("=", "\\approx"):
            last = m.end()
        else:  # a list separator or an inequality at top level
            return None
    if last is None:
        return None
    rhs = _TRAILING.sub("", latex[last:])
    return rhs or None


def _restated(rhs: str, after: str) -> bool:
    """Does the prose after the display keep its result? True when it draws no
    conclusion ("therefore", "thus", "so", ...), or when its first concluding sentence
    repeats the result ("So she spends 34 hours in 4 weeks" after ``= 34``)."""
    found = _CONCLUSION.search(after)
    if found is None:
        return True
    sentence = re.split(r"\.\s|\n", after[found.start() :], maxsplit=1)[0]
    value = re.sub(r"\\text\{[^{}]*\}|\\[,;! ]|\s", "", rhs)
    pattern = rf"(?<![\d.]){re.escape(value)}(?![\d])"
    return bool(value) and re.search(pattern, re.sub(r"\s|\$|\\[()]", "", sentence)) is not None


def _display(match: re.Match) -> str:
    return match.group("display") or match.group("dollars") or ""


def _read(match: re.Match, target: Any) -> tuple[Any, str]:
    if isinstance(target, LatexExtractionConfig):
        return _latex(match, target)
    if isinstance(target, ExprExtractionConfig):
        return extract_expr(match)
    if target == "hashes":
        found = read_answer(match.group("hashes"))
        return (found.parsed[0] if found.method else None), (found.answer or "")
    # last_equation: only the last display counts, and only when it is an equation
    if match.end() != max(m.end() for m in _DISPLAY.finditer(match.string)):
        return None, ""
    rhs = _relation_rhs(_display(match))
    if rhs is None or not _restated(rhs, match.string[match.end() :]):
        return None, ""
    found = read_answer(rhs)
    return (found.parsed[0] if found.method else None), (found.answer or "")


def _search(text: str, anchored_only: bool) -> Extracted:
    fallback: Extracted | None = None
    for priority, patterns in _patterns(anchored_only):
        matches = sorted(
            ((m, t) for pattern, t in patterns for m in pattern.finditer(text)),
            key=lambda mt: (mt[0].end(), -mt[0].start()),
            reverse=True,
        )
        mention: Extracted | None = None
        for match, target in matches:
            parsed, as_text = _read(match, target)
            rule = _rule(target, priority, match)
            if as_text and fallback is None:
                fallback = Extracted(as_text, rule, (as_text,))
            if parsed is None:
                continue
            whole = _display(match) if rule == "last_equation" else None
            found = Extracted(as_text, rule, (parsed, as_text), whole)
            if priority == _UNANCHORED and _is_mention(parsed):
                mention = mention or found
                continue
            return found
        if mention is not None:
            return mention
    if fallback is None:
        stated = [m.group("stated") for m in _STATED.finditer(text)]
        if stated and stated[-1].strip(" *$"):
            return Extracted(stated[-1].strip(" *$"), "answer_is", (stated[-1].strip(" *$"),))
    return fallback or Extracted(None, None)


def extract_answer(text: str, *, last_number_fallback: bool = True) -> Extracted:
    """The final answer of a solution text and the rule that found it (see the module
    docstring); ``last_number_fallback=False`` keeps only the anchored rules."""
    return _search(normalize_text(text), anchored_only=not last_number_fallback)


def read_answer(answer: str) -> Extracted:
    """Read a bare answer (a reference answer, a ``####`` answer) as LaTeX, else as a
    plain expression; ``method`` is None when neither parses."""
    answer = normalize_answer(answer).replace("\n", " ")
    if not answer:
        return Extracted(None, None)
    for text in (f"${answer}$", answer):
        found = _search(text, anchored_only=False)
        if found.method and len(found.parsed) > 1:
            return found
    return Extracted(answer, None, (answer,))

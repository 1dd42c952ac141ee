"""Deterministic, lossless step segmentation.

A segmentation is a list of boundary offsets; steps are the slices between them, so
``"".join(steps) == text`` holds by construction. Separators (newlines, blank lines)
stay at the end of the step they follow.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from supdata.ops.steps.protected import inside, protected_spans

Strategy = Literal["auto", "markers", "numbered", "paragraphs", "lines"]
STRATEGIES: tuple[str, ...] = ("auto", "markers", "numbered", "paragraphs", "lines")

_MARKER = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]*)?(?:\*\*)?Step[ \t]*(\d+)[ \t]*(?:\*\*)?[:.)]", re.MULTILINE
)
_NUMBERED = re.compile(r"^[ \t]*(\d+)[.)][ \t]+\S", re.MULTILINE)
_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n)+")
_LINE_BREAKS = re.compile(r"\n(?:[ \t]*\n)*")


def _sequential_starts(pattern: re.Pattern[str], text: str) -> list[int]:
    """Line starts of items numbered 1, 2, 3, ... in order; other numbers are prose."""
    starts, expected = [], 1
    for m in pattern.finditer(text):
        if int(m.group(1)) == expected:
            starts.append(m.start())
            expected += 1
    return starts if len(starts) >= 2 else []


def _markers(text: str) -> list[int]:
    return _sequential_starts(_MARKER, text)


def _numbered(text: str) -> list[int]:
    return _sequential_starts(_NUMBERED, text)


def _paragraphs(text: str) -> list[int]:
    return [m.end() for m in _BLANK_LINES.finditer(text)]


def _lines(text: str) -> list[int]:
    return [m.end() for m in _LINE_BREAKS.finditer(text)]


_BOUNDARIES: dict[str, Callable[[str], list[int]]] = {
    "markers": _markers,
    "numbered": _numbered,
    "paragraphs": _paragraphs,
    "lines": _lines,
}


def _allowed(boundaries: list[int], text: str, spans: list[tuple[int, int]]) -> list[int]:
    return sorted({b for b in boundaries if 0 < b < len(text) and not inside(b, spans)})


def segment(text: str, strategy: str = "auto") -> list[str]:
    """Split ``text`` into steps.

    ``auto`` splits at explicit ``Step k:`` markers and blank lines (both are boundaries
    an author wrote on purpose); failing those, at the items of a numbered list; failing
    that, at every line break (GSM8K style).
    """
    if not text:
        return []
    spans = protected_spans(text)
    if strategy != "auto":
        if strategy not in _BOUNDARIES:
            raise ValueError(
                f"unknown segmentation strategy {strategy!r}; expected one of {STRATEGIES}"
            )
        return _slices(text, _allowed(_BOUNDARIES[strategy](text), text, spans))
    steps = [text]
    for names in (("markers", "paragraphs"), ("numbered",), ("lines",)):
        boundaries = [b for name in names for b in _BOUNDARIES[name](text)]
        steps = _slices(text, _allowed(boundaries, text, spans))
        if len(steps) > 1:
            break
    return steps


def _slices(text: str, boundaries: list[int]) -> list[str]:
    pieces = [text[a:b] for a, b in zip([0, *boundaries], [*boundaries, len(text)], strict=True)]
    steps: list[str] = []
    for piece in pieces:
        # A whitespace-only piece is a separator, not a step: keep it with its neighbour.
        if steps and (not piece.strip() or not steps[-1].strip()):
            steps[-1] += piece
        else:
            steps.append(piece)
    return steps


def strip_steps(steps: list[str]) -> list[str]:
    """Steps without their surrounding whitespace, for display and prompts."""
    return [s.strip() for s in steps]

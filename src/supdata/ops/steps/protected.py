"""Regions a step boundary must never fall inside: display math, code, figures."""

from __future__ import annotations

import re

# Openers whose closer is fixed text. Unclosed openers protect nothing: treating the
# rest of the text as one block would hide every later step boundary.
_PAIRED = [
    (re.compile(r"^[ \t]*(```|~~~)", re.MULTILINE), None),  # closer = same fence
    (re.compile(r"\$\$"), "$$"),
    (re.compile(r"\\\["), r"\]"),
    (re.compile(r"\[asy\]"), "[/asy]"),
]
_BEGIN = re.compile(r"\\begin\{([^}]+)\}")


def protected_spans(text: str) -> list[tuple[int, int]]:
    """Sorted, non-overlapping (start, end) spans that must stay inside one step."""
    spans: list[tuple[int, int]] = []
    for opener, closer in _PAIRED:
        pos = 0
        while (m := opener.search(text, pos)) is not None:
            close = closer if closer is not None else m.group(1)
            end = text.find(close, m.end())
            if end < 0:
                break
            spans.append((m.start(), end + len(close)))
            pos = end + len(close)
    spans.extend(_environment_spans(text))
    return _merge(spans)


def _environment_spans(text: str) -> list[tuple[int, int]]:
    """Outermost \\begin{env}...\\end{env} blocks, nesting-aware."""
    spans = []
    pos = 0
    while (m := _BEGIN.search(text, pos)) is not None:
        env = re.escape(m.group(1))
        tokens = re.compile(rf"\\(begin|end)\{{{env}\}}")
        depth, end = 0, -1
        for t in tokens.finditer(text, m.start()):
            depth += 1 if t.group(1) == "begin" else -1
            if depth == 0:
                end = t.end()
                break
        if end < 0:
            pos = m.end()
            continue
        spans.append((m.start(), end))
        pos = end
    return spans


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def inside(offset: int, spans: list[tuple[int, int]]) -> bool:
    """True when a boundary at ``offset`` would cut a protected span."""
    return any(start < offset < end for start, end in spans)

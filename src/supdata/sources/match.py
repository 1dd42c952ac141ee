"""Reference answers for problems that arrive without one (ProcessBench, Math-Shepherd):
matched by problem text against files that have them (GSM8K, MATH)."""

from __future__ import annotations

from pathlib import Path

from supdata.core.records import Problem
from supdata.sources.config import FileSource
from supdata.sources.normalize import NORMALIZERS, SkipRow


def question_key(question: str) -> str:
    return " ".join(question.split())


def reference_index(paths: list[str | Path], normalizer: str = "auto") -> dict[str, Problem]:
    """Problems with a reference answer from ``paths``, by whitespace-normalized text:
    within a file the first row of a question counts, across files the last file.
    ``auto`` picks each file's row shape (``guess_normalizer``)."""
    if normalizer != "auto" and normalizer not in NORMALIZERS:
        raise ValueError(f"unknown normalizer {normalizer!r}; known: {sorted(NORMALIZERS)}")
    index: dict[str, Problem] = {}
    for path in paths:
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path}: no such file")
        name = guess_normalizer(path) if normalizer == "auto" else normalizer
        found: dict[str, Problem] = {}
        for i, row in enumerate(FileSource(kind="file", path=str(path)).raw_rows()):
            try:
                problem = NORMALIZERS[name](row, i, Path(path).stem)
            except SkipRow:
                continue
            if problem.reference_answer:
                found.setdefault(question_key(problem.question), problem)
        index |= found
    return index


def guess_normalizer(path: str | Path) -> str:
    """gsm8k when the file's first answer holds ``####``, else math."""
    first = next(iter(FileSource(kind="file", path=str(path)).raw_rows()), {})
    return "gsm8k" if "####" in str(first.get("answer", "")) else "math"

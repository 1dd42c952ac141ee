"""Reference answers for problems that arrive without one (ProcessBench, Math-Shepherd):
matched by problem text against files that have them (GSM8K, MATH)."""

from __future__ import annotations

from pathlib import Path

from supdata.core.records import Problem
from supdata.sources.config import FileSource
from supdata.sources.normalize import NORMALIZERS, SkipRow


def question_key(question: str) -> str:
    return " ".join(question.split())


def reference_index(paths: list[str | Path], normalizer: str) -> dict[str, Problem]:
    """Problems with a reference answer from ``paths``, by whitespace-normalized text."""
    if normalizer not in NORMALIZERS:
        raise ValueError(f"unknown normalizer {normalizer!r}; known: {sorted(NORMALIZERS)}")
    index: dict[str, Problem] = {}
    for path in paths:
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path}: no such file")
        source = FileSource(kind="file", path=str(path), normalizer=normalizer)
        for i, row in enumerate(source.raw_rows()):
            try:
                problem = NORMALIZERS[normalizer](row, i, Path(path).stem)
            except SkipRow:
                continue
            if problem.reference_answer:
                index.setdefault(question_key(problem.question), problem)
    return index


def guess_normalizer(path: str | Path) -> str:
    """gsm8k when the file's first answer holds ``####``, else math."""
    first = next(iter(FileSource(kind="file", path=str(path)).raw_rows()), {})
    return "gsm8k" if "####" in str(first.get("answer", "")) else "math"

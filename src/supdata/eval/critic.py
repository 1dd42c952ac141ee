"""Critic evaluation on ProcessBench-format data: find the earliest wrong step.

ProcessBench's metric, per split: accuracy on erroneous items (the predicted first
error equals the labelled one), accuracy on correct items (the critic finds no error),
and their harmonic mean (F1). A critique that cannot be parsed counts as a miss in
either group, and is counted separately.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supdata.builders.critique.critic import CritiqueJob, critique_all
from supdata.engines import Engine


class DataError(ValueError):
    pass


@dataclass
class SplitScore:
    split: str
    erroneous: int = 0
    erroneous_hit: int = 0
    correct: int = 0
    correct_hit: int = 0
    rejected: int = 0
    rejections: dict[str, int] = field(default_factory=dict)

    @property
    def error_acc(self) -> float | None:
        return self.erroneous_hit / self.erroneous if self.erroneous else None

    @property
    def correct_acc(self) -> float | None:
        return self.correct_hit / self.correct if self.correct else None

    @property
    def f1(self) -> float | None:
        """None unless the split has both erroneous and correct items."""
        a, b = self.error_acc, self.correct_acc
        if a is None or b is None:
            return None
        return 2 * a * b / (a + b) if a + b else 0.0

    def reject(self, reason: str) -> None:
        """An item without a prediction (unparsed critique, undecided labels), by reason;
        ``add`` still scores it as a miss."""
        self.rejected += 1
        self.rejections[reason] = self.rejections.get(reason, 0) + 1

    def add(self, label: int, predicted: int | None) -> None:
        if label == -1:
            self.correct += 1
            self.correct_hit += predicted == -1
        else:
            self.erroneous += 1
            self.erroneous_hit += predicted == label

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "items": self.erroneous + self.correct,
            "erroneous": self.erroneous,
            "correct": self.correct,
            "error_acc": _round(self.error_acc),
            "correct_acc": _round(self.correct_acc),
            "f1": _round(self.f1),
            "unparsed": self.rejected,
            "unparsed_reasons": dict(sorted(self.rejections.items())),
        }


def average_f1(scores: list[SplitScore]) -> float | None:
    """ProcessBench's headline: the mean of the splits' F1 (splits without one left out)."""
    f1s = [s.f1 for s in scores if s.f1 is not None]
    return _round(sum(f1s) / len(f1s)) if f1s else None


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def split_name(path: str | Path) -> str:
    """A file's split: its name (``olympiadbench.json``), or its folder's for the Hub's
    parquet conversion (``default/omnimath/0000.parquet``)."""
    path = Path(path)
    return path.parent.name if re.fullmatch(r"(\w+-)?\d+(-of-\d+)?", path.stem) else path.stem


def _read_rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            return pq.read_table(path).to_pylist()
        except Exception as exc:  # a broken file names itself
            raise DataError(f"{path}: not a readable parquet file ({exc})") from None
    text = path.read_text(encoding="utf-8")
    try:
        return (
            json.loads(text)
            if text.lstrip().startswith("[")
            else [json.loads(line) for line in text.splitlines() if line.strip()]
        )
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not JSON or jsonl ({exc})") from None


def load_items(
    path: str | Path, limit: int | None = None, *, sample: int | None = None, seed: int = 0
) -> list[dict[str, Any]]:
    """A ProcessBench file: a JSON array as published (gsm8k, math, olympiadbench,
    omnimath), jsonl, or the Hub's parquet conversion, of id, problem, steps, label; the
    first ``limit`` items, or a seeded random ``sample`` of them (files are sorted by
    label, so a prefix may hold no correct items)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    rows = _read_rows(path)
    for i, row in enumerate(rows):
        missing = [k for k in ("id", "problem", "steps", "label") if k not in row]
        if missing:
            raise DataError(f"{path}: item {i}: missing {missing}")
        steps, label = row["steps"], row["label"]
        if not isinstance(steps, list) or not steps or not all(isinstance(s, str) for s in steps):
            raise DataError(
                f"{path}: item {i} ({row['id']}): steps must be a non-empty list of text"
            )
        if not isinstance(label, int) or not -1 <= label < len(steps):
            raise DataError(
                f"{path}: item {i} ({row['id']}): label {label!r} is not -1 or a step index "
                f"below {len(steps)}"
            )
    if sample is not None and sample < len(rows):
        picked = sorted(random.Random(seed).sample(range(len(rows)), sample))
        rows = [rows[i] for i in picked]
    return rows[:limit] if limit else rows


def evaluate(
    engine: Engine,
    paths: list[str | Path],
    *,
    limit: int | None = None,
    sample: int | None = None,
    seed: int = 0,
    prompt: str = "critique@1",
) -> tuple[list[SplitScore], list[dict[str, Any]]]:
    """Scores per split, and one prediction row per item."""
    splits = [(split_name(p), load_items(p, limit, sample=sample, seed=seed)) for p in paths]
    names = [name for name, _ in splits]
    if len(set(names)) < len(names):
        raise DataError(f"two files give the same split name: {names}")
    scores, predictions = [], []
    for split, items in splits:
        jobs = [
            CritiqueJob(id=f"{split}/{row['id']}", question=row["problem"], steps=row["steps"])
            for row in items
        ]
        results = critique_all(jobs, engine, prompt_ref=prompt, desc=f"critique {split}")
        score = SplitScore(split)
        for row, result in zip(items, results, strict=True):
            predicted = result.critique.first_error_step if result.critique else None
            if result.rejected:
                score.reject(result.rejected)
            score.add(row["label"], predicted)
            predictions.append(
                {
                    "split": split,
                    "id": row["id"],
                    "label": row["label"],
                    "predicted": predicted,
                    "rejected": result.rejected,
                    "critique": result.text,
                }
            )
        scores.append(score)
    return scores, predictions

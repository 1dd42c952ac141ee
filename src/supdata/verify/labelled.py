"""Real labelled (prediction, reference answer, correct?) pairs from the shared data folder,
for the verifier's benchmark and tests (../shared/data, see its README).

- ``gsm8k``: GSM8K test reference solutions against their own ``####`` answers (all true);
- ``math500``: MATH-500 reference solutions against their ``answer`` (all true);
- ``processbench_gsm8k`` / ``processbench_math``: ProcessBench model solutions (steps
  joined by blank lines) against ``final_answer_correct``; the gold answer comes from the
  GSM8K / MATH test set row with the same problem text (whitespace-normalized).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from supdata.verify.extract import last_boxed

FILES = ("gsm8k", "math500", "processbench_gsm8k", "processbench_math")


@dataclass(frozen=True, slots=True)
class Labelled:
    id: str
    prediction: str
    reference: str
    correct: bool


def _jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as f:
        yield from (json.loads(line) for line in f if line.strip())


def problem_key(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _gsm8k_answer(solution: str) -> str:
    return solution.rsplit("####", maxsplit=1)[-1].strip()


def gold_answers(data: Path, source: str) -> dict[str, str]:
    """Normalized problem text -> gold answer, for the GSM8K or MATH test set."""
    if source == "gsm8k":
        rows = _jsonl(data / "gsm8k" / "test.jsonl")
        return {problem_key(r["question"]): _gsm8k_answer(r["answer"]) for r in rows}
    rows = _jsonl(data / "math_full" / "hendrycks_test.jsonl")
    return {problem_key(r["problem"]): last_boxed(r["solution"]) or "" for r in rows}


def load(data: Path, name: str) -> list[Labelled]:
    """The labelled pairs of one file (see FILES). ProcessBench rows whose problem has no
    gold raise: every one of them joins."""
    if name == "gsm8k":
        return [
            Labelled(
                f"gsm8k-test-{i}",
                re.sub(r"<<[^>]*>>", "", r["answer"]),  # the calculator annotations
                _gsm8k_answer(r["answer"]),
                True,
            )
            for i, r in enumerate(_jsonl(data / "gsm8k" / "test.jsonl"))
        ]
    if name == "math500":
        return [
            Labelled(r["unique_id"], r["solution"], r["answer"], True)
            for r in _jsonl(data / "math500" / "test.jsonl")
        ]
    split = name.removeprefix("processbench_")
    golds = gold_answers(data, split)
    rows = json.loads((data / "processbench" / f"{split}.json").read_text(encoding="utf-8"))
    out = []
    for r in rows:
        gold = golds.get(problem_key(r["problem"]))
        if gold is None:
            raise KeyError(f"{r['id']}: problem not in the {split} test set")
        out.append(Labelled(r["id"], "\n\n".join(r["steps"]), gold, r["final_answer_correct"]))
    return out


@dataclass(frozen=True, slots=True)
class SuiteCase:
    """One row of math-verify's own table-driven tests (math_verify_tests/cases.jsonl)."""

    id: str
    gold: str
    pred: str
    expected: bool
    options: dict  # VerifyConfig fields the test's options map to


def suite(data: Path) -> list[SuiteCase]:
    """math-verify's test cases with each test's options mapped to VerifyConfig fields:
    ``precision`` -> ``float_rounding``, ``strict``, ``allow_set_relation_comp``. The
    tests' ``match_types`` has no counterpart: supdata always reads LaTeX and plain
    expressions (see the exceptions in tests/test_verify_mathverify_suite.py)."""
    out = []
    for r in _jsonl(data / "math_verify_tests" / "cases.jsonl"):
        extra = dict(r["extra"])
        called = re.search(r"precision=(\d+)", r["call"])  # a literal in the call
        if called and "precision" not in extra:
            extra["precision"] = int(called.group(1))
        options = {k: v for k, v in extra.items() if k in ("strict", "allow_set_relation_comp")}
        if "precision" in extra:
            options["float_rounding"] = extra["precision"]
        out.append(SuiteCase(r["id"], r["gold"], r["pred"], r["expected"], options))
    return out

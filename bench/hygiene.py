"""Data hygiene throughput: decontamination and deduplication on 100,000 generated rows.

Rows are made the way a build makes them: real problems (GSM8K train, MATH train) with
several solutions each, every solution a real reference solution with some numbers
changed (as a sampled solution differs from the reference), and about 0.5% of the
questions planted from MATH-500 and GSM8K test. Prints rows/s for each method, with the
baseline measured in the same run: decontamination by exact normalized match only
against exact + 13-gram overlap; dedup exact-only against exact + MinHash LSH. Peak RSS
is the process's maximum after each phase. Needs ../shared/data.

    .venv/bin/python bench/hygiene.py [--n 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import sys
import time
from pathlib import Path

from supdata.hygiene import Deduplicator, NgramIndex, normalize

DATA = Path(
    os.environ.get("SUPDATA_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def _jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _vary(text: str, rng: random.Random) -> str:
    """A sampled-looking solution: each number changed with probability 0.3."""
    return re.sub(
        r"\d+",
        lambda m: str(int(m.group()) + rng.randint(1, 9)) if rng.random() < 0.3 else m[0],
        text,
    )


def generated_rows(n: int, seed: int = 0) -> tuple[list[dict], int]:
    """``n`` rows of question + solution, grouped by problem; and how many are planted."""
    rng = random.Random(seed)
    gsm = _jsonl(DATA / "gsm8k" / "train.jsonl")
    math = _jsonl(DATA / "math_full" / "hendrycks_train.jsonl")
    problems = [(r["question"], re.sub(r"<<[^>]*>>", "", r["answer"])) for r in gsm]
    problems += [(r["problem"], r["solution"]) for r in math]
    bench = [r["problem"] for r in _jsonl(DATA / "math500" / "test.jsonl")]
    bench += [r["question"] for r in _jsonl(DATA / "gsm8k" / "test.jsonl")]
    rows, planted = [], 0
    while len(rows) < n:
        p = rng.randrange(len(problems))
        question, solution = problems[p]
        if rng.random() < 0.005:
            question, planted = rng.choice(bench), planted + 1
        for s in range(min(rng.randint(4, 8), n - len(rows))):
            rows.append(
                {
                    "id": f"{p}/{len(rows)}/{s}",
                    "problem_id": str(p),
                    "question": question,
                    "solution": _vary(solution, rng),
                }
            )
    return rows, planted


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, n: int, fn) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    rate = n / seconds
    print(f"{label:<52}{rate:>10,.0f} rows/s  ({seconds:6.1f}s, peak RSS {peak_mb():,.0f} MB)")
    return rate, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="generated rows")
    parser.add_argument("--ngram", type=int, default=13)
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"shared data not found at {DATA}", file=sys.stderr)
        return 1
    rows, planted = generated_rows(args.n)
    texts = [f"{r['question']}\n\n{r['solution']}" for r in rows]
    words = sum(len(t.split()) for t in texts) / len(texts)
    print(
        f"rows: {len(rows):,} (question + solution, {words:.0f} words on average), "
        f"{len({r['problem_id'] for r in rows}):,} problems, {planted} planted questions"
    )
    print(f"peak RSS after making the rows: {peak_mb():,.0f} MB")

    index = NgramIndex(ngram=args.ngram)
    benchmarks = {
        "math500": [
            (r["unique_id"], r["problem"]) for r in _jsonl(DATA / "math500" / "test.jsonl")
        ],
        "math_test": [
            (str(i), r["problem"])
            for i, r in enumerate(_jsonl(DATA / "math_full" / "hendrycks_test.jsonl"))
        ],
        "gsm8k_test": [
            (str(i), r["question"]) for i, r in enumerate(_jsonl(DATA / "gsm8k" / "test.jsonl"))
        ],
    }
    items = sum(len(v) for v in benchmarks.values())
    started = time.perf_counter()
    for name, pairs in benchmarks.items():
        index.add(name, pairs)
    print(
        f"index: {items:,} benchmark items ({', '.join(benchmarks)}) in "
        f"{time.perf_counter() - started:.2f}s, peak RSS {peak_mb():,.0f} MB"
    )
    print()
    exact = {normalize(text) for pairs in benchmarks.values() for _, text in pairs}
    base, exact_hits = timed(
        "decontaminate, exact normalized match only (baseline)",
        len(rows),
        lambda: sum(normalize(r["question"]) in exact for r in rows),
    )
    full, hits = timed(
        f"decontaminate questions, exact + {args.ngram}-gram overlap",
        len(rows),
        lambda: sum(bool(index.check(r["question"])) for r in rows),
    )
    _, whole_hits = timed(
        f"decontaminate question + solution, exact + {args.ngram}-gram",
        len(rows),
        lambda: sum(bool(index.check(t)) for t in texts),
    )
    print(
        f"  contaminated rows: exact {exact_hits:,}, n-gram on questions {hits:,}, "
        f"on question + solution {whole_hits:,}; n-gram / exact speed {full / base:.2f}x"
    )
    print()

    def dedup(**kw) -> int:
        d = Deduplicator(**kw)
        return sum(d.check(r["id"], r["solution"], r["problem_id"]) is not None for r in rows)

    base, exact_dups = timed(
        "dedup solutions per problem, exact only (baseline)",
        len(rows),
        lambda: dedup(near=False),
    )
    near, near_dups = timed(
        "dedup solutions per problem, exact + MinHash LSH 0.9",
        len(rows),
        lambda: dedup(threshold=0.9, numbers="keep"),
    )
    print(
        f"  duplicates: exact {exact_dups:,}, exact + near {near_dups:,}; "
        f"near / exact speed {near / base:.2f}x"
    )
    questions = {r["problem_id"]: r["question"] for r in rows}
    problems = Deduplicator()  # the recipe default for problems: near 0.8, numbers masked
    _, problem_dups = timed(
        f"dedup {len(questions):,} problems, exact + near 0.8",
        len(questions),
        lambda: sum(problems.check(p, q) is not None for p, q in questions.items()),
    )
    print(f"  duplicate problems: {problem_dups:,}")
    print(f"peak RSS overall: {peak_mb():,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Verification agreement and throughput: supdata against plain math-verify, same run.

On ../shared/data: GSM8K test and MATH-500 reference solutions against their own answers,
ProcessBench gsm8k / math model solutions against ``final_answer_correct`` (gold from the
GSM8K / MATH test sets, joined on the problem text), and math-verify's own 270 test
cases. For each file: the share of pairs where the verdict agrees with the label, and
items/s, for

- plain math-verify with its defaults, in one process, as most pipelines call it:
  ``verify(parse("$" + gold + "$"), parse(prediction))``;
- supdata: ``verify_many`` with its default config (``--workers`` processes, hard kill),
  one call per file (each call starts its workers; the forkserver they fork from starts
  once per process, and is timed on its own).

The machine's load average is printed with the figures: on a shared machine the wall-clock
ratio moves with what else runs.

    .venv/bin/python bench/verify.py [--workers 2] [--misses] [--cpu]

``--cpu`` adds CPU time per item for both, in one process: the figure a busy machine does
not move.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from math_verify import parse, verify

from supdata.verify import VerifyConfig, judge, verify_many
from supdata.verify.labelled import FILES, load, suite

DATA = Path(
    os.environ.get("SUPDATA_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def plain(prediction: str, gold: str) -> bool:
    return bool(verify(parse(f"${gold}$"), parse(prediction)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--misses", action="store_true", help="list supdata's disagreements")
    parser.add_argument(
        "--cpu", action="store_true", help="also measure supdata's CPU per item in one process"
    )
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"shared data not found at {DATA}", file=sys.stderr)
        return 1
    config = VerifyConfig(workers=args.workers)
    started = time.perf_counter()
    list(verify_many([("\\boxed{1}", "1")], config))
    print(
        f"pool start-up, once per process (forkserver: imports, parser warm-up): "
        f"{time.perf_counter() - started:.2f}s; not in the figures below, which include "
        "each call's worker start"
    )
    head = f"{'file':<20}{'items':>6}  {'math-verify':>11} {'items/s':>8}"
    print(f"{head}  {'supdata':>8} {'items/s':>8}")
    totals = {"n": 0, "plain_s": 0.0, "ours_s": 0.0, "plain_cpu": 0.0, "ours_cpu": 0.0}
    misses = []
    for name in FILES:
        rows = load(DATA, name)
        started, cpu = time.perf_counter(), time.process_time()
        theirs = [plain(r.prediction, r.reference) for r in rows]
        plain_s = time.perf_counter() - started
        totals["plain_cpu"] += time.process_time() - cpu
        started = time.perf_counter()
        ours = list(verify_many([(r.prediction, r.reference) for r in rows], config))
        ours_s = time.perf_counter() - started
        agree_plain = sum(t == r.correct for t, r in zip(theirs, rows, strict=True)) / len(rows)
        agree = sum((j.status == "correct") == r.correct for j, r in zip(ours, rows, strict=True))
        misses += [
            (name, r, j)
            for r, j in zip(rows, ours, strict=True)
            if (j.status == "correct") != r.correct
        ]
        print(
            f"{name:<20}{len(rows):>6}  {agree_plain:>11.4f} {len(rows) / plain_s:>8.1f}"
            f"  {agree / len(rows):>8.4f} {len(rows) / ours_s:>8.1f}"
        )
        if args.cpu:
            cpu = time.process_time()
            for r in rows:
                judge(r.prediction, r.reference, VerifyConfig(workers=0))
            totals["ours_cpu"] += time.process_time() - cpu
        totals["n"] += len(rows)
        totals["plain_s"] += plain_s
        totals["ours_s"] += ours_s

    cases = suite(DATA)
    started = time.perf_counter()
    ok_plain = sum(plain(c.pred, c.gold.strip("$")) == c.expected for c in cases)
    plain_s = time.perf_counter() - started
    started = time.perf_counter()
    ok = sum(
        (judge(c.pred, c.gold, VerifyConfig(workers=0, **c.options)).status == "correct")
        == c.expected
        for c in cases
    )
    ours_s = time.perf_counter() - started
    print(
        f"{'math_verify_tests':<20}{len(cases):>6}  {ok_plain:>11} {len(cases) / plain_s:>8.1f}"
        f"  {ok:>8} {len(cases) / ours_s:>8.1f}   (cases passed; supdata in one process)"
    )
    print(
        f"throughput over the four files: math-verify {totals['n'] / totals['plain_s']:.1f} items/s"
        f" (1 process), supdata {totals['n'] / totals['ours_s']:.1f} items/s"
        f" ({args.workers} workers, incl. start-up): {totals['plain_s'] / totals['ours_s']:.2f}x"
    )
    if args.cpu:
        print(
            f"CPU per item, one process: math-verify {1000 * totals['plain_cpu'] / totals['n']:.2f}"
            f" ms, supdata {1000 * totals['ours_cpu'] / totals['n']:.2f} ms (load-independent)"
        )
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.misses:
        for name, r, j in misses:
            print(
                f"MISS {name} {r.id} label={r.correct} gold={r.reference!r} {j.status}"
                f" {j.extraction} answer={(j.answer or '')[:80]!r} {j.detail or ''}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Verification throughput: the hard-timeout worker pool against a plain in-process loop.

Judges 2,000 real (reference solution, reference answer) pairs, GSM8K test plus MATH
test, both ways in one run, and prints items/s and the ratio. Needs ../shared/data.

    .venv/bin/python bench/verify.py [--n 2000] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

from supdata.verify import VerifyConfig, judge, last_boxed, summarize, verify_many

DATA = Path(
    os.environ.get("SUPDATA_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def pairs(n: int) -> list[tuple[str, str]]:
    gsm = [json.loads(line) for line in (DATA / "gsm8k" / "test.jsonl").open()]
    math = [json.loads(line) for line in (DATA / "math_full" / "hendrycks_test.jsonl").open()]
    out = [
        (re.sub(r"<<[^>]*>>", "", r["answer"]), r["answer"].split("####")[-1].strip())
        for r in gsm[: n // 2]
    ]
    for r in math:
        if len(out) >= n:
            break
        answer = last_boxed(r["solution"])
        if answer:
            out.append((r["solution"], answer))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"shared data not found at {DATA}", file=sys.stderr)
        return 1
    items = pairs(args.n)
    config = VerifyConfig(workers=args.workers)

    started = time.perf_counter()
    plain = [judge(p, a, timeout_s=config.soft_timeout_s) for p, a in items]
    plain_s = time.perf_counter() - started

    started = time.perf_counter()
    pooled = list(verify_many(items, config))
    pool_s = time.perf_counter() - started

    assert [j.status for j in plain] == [j.status for j in pooled], "pool and loop disagree"
    print(f"items: {len(items)} (GSM8K test + MATH test reference solutions)")
    print(f"statuses: {summarize(pooled)}")
    pool_name = f"worker pool ({args.workers} workers):"
    print(f"{'plain single-process loop:':<28}{len(items) / plain_s:8.1f} items/s ({plain_s:.2f}s)")
    print(f"{pool_name:<28}{len(items) / pool_s:8.1f} items/s ({pool_s:.2f}s, incl. start-up)")
    print(f"ratio pool / plain: {plain_s / pool_s:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

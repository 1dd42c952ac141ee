"""Rule-based perturbations per second on the GSM8K test references.

Each reference is segmented, then perturbed once per error type (carried, target SWER
cycling over 0.25/0.5/0.75/1.0); attempts that find no place for the error count too.
Needs ../shared/data.

    .venv/bin/python bench/perturb.py
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

from supdata.ops.perturb import ERROR_TYPES, CannotPerturb, perturb
from supdata.ops.steps import segment

DATA = Path(
    os.environ.get("SUPDATA_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
GRID = (0.25, 0.5, 0.75, 1.0)


def main() -> int:
    path = DATA / "gsm8k" / "test.jsonl"
    if not path.is_file():
        print(f"GSM8K test set not found at {path}", file=sys.stderr)
        return 1
    refs = [re.sub(r"<<[^>]*>>", "", json.loads(line)["answer"]) for line in path.open()]
    steps = [segment(r) for r in refs]
    for carry in (True, False):
        made = attempts = 0
        started = time.perf_counter()
        for error_type in ERROR_TYPES:
            for i, s in enumerate(steps):
                attempts += 1
                try:
                    perturb(s, error_type=error_type, target_swer=GRID[i % 4], seed=i, carry=carry)
                    made += 1
                except CannotPerturb:
                    pass
        seconds = time.perf_counter() - started
        mode = "carried (single origin)" if carry else "local (independent)"
        print(
            f"{mode:24} {attempts} attempts, {made} perturbed in {seconds:.2f}s: "
            f"{attempts / seconds:,.0f} attempts/s, {made / seconds:,.0f} perturbations/s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

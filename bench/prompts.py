"""Prompt rendering: every built-in template rendered with real GSM8K questions, the way
a build renders them (``Prompt.render``: each message compiled once and cached), against
compiling each message's template on every call (``from_string``, what render did before)
in the same run. Prints renders/s both ways and the ratio (target >= 5x).

    .venv/bin/python bench/prompts.py [--renders 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from supdata.prompts import _ENV, available, load_prompt

DATA = Path(
    os.environ.get("SUPDATA_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def values(question: str, answer: str) -> dict:
    """Every variable a built-in template may use, filled from a real problem."""
    steps = [s for s in answer.split("\n") if s.strip()]
    return {
        "question": question, "solution": answer, "reference": answer, "response": answer,
        "steps": steps, "attempt": answer, "feedback": "Looks right.", "critique": "Fine.",
        "reference_answer": answer.rsplit("####", 1)[-1].strip(), "min_subtasks": 2,
        "max_subtasks": 3, "subtasks": [], "hint_step": None, "hint_type": None,
        "json_format": False, "n": len(steps), "verdict": "right", "length_words": "",
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=20_000)
    args = parser.parse_args()
    path = DATA / "gsm8k" / "test.jsonl"
    if not path.is_file():
        print(f"needs {path} (../shared/data)", file=sys.stderr)
        return 2
    rows = [json.loads(line) for line in path.read_text().splitlines()[:500]]
    prompts, skipped = [], []
    for pid in sorted(available()):
        prompt = load_prompt(pid)
        if prompt.variables() - set(values("", "")):
            skipped.append(pid)  # needs variables this bench does not fill: said below
            continue
        prompts.append(prompt)
    jobs = [(prompts[i % len(prompts)], rows[i % len(rows)]) for i in range(args.renders)]

    started = time.perf_counter()
    for prompt, row in jobs:
        prompt.render(**values(row["question"], row["answer"]))
    cached = time.perf_counter() - started

    started = time.perf_counter()
    for prompt, row in jobs:
        filled = {**prompt.extras, **values(row["question"], row["answer"])}
        for m in prompt.messages:
            _ENV.from_string(m["content"]).render(**filled)
    compiled = time.perf_counter() - started

    n = len(jobs)
    print(f"{len(prompts)} built-in templates, {n} renders each way (real GSM8K questions)")
    if skipped:
        print(f"not rendered (variables this bench does not fill): {', '.join(skipped)}")
    print(f"compiled once (Prompt.render):    {n / cached:10.0f} renders/s ({cached:.2f} s)")
    print(f"compiled every call (from_string): {n / compiled:10.0f} renders/s ({compiled:.2f} s)")
    print(f"ratio: {compiled / cached:.1f}x  (target >= 5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

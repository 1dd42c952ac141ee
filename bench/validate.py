"""Row validation speed: the row models (pydantic-core, strict) against a JSON Schema
validator (jsonschema, Draft 2020-12, on the same generated schemas/ files), on the
same rows in the same run.

    python bench/validate.py [--rows N]

Target: >= 50,000 pairs rows/s through the row model. Both checks reject the same bad
rows (tests/test_architecture.py asserts one rejection per stated constraint).
"""

from __future__ import annotations

import argparse
import json
import time

from jsonschema import Draft202012Validator

from supdata.assets import asset_dir
from supdata.core.records.sampling import sampling_to_row
from supdata.core.rows import check_rows
from supdata.publish.schemas import row_model


def pair(i: int) -> dict:
    return {
        "id": f"p{i}/pair",
        "problem_id": f"p{i}",
        "prompt": f"Tom has {i} apples and buys 3 more. How many apples does he have?",
        "chosen": f"Step 1: {i} + 3 = {i + 3}.\nThe answer is {i + 3}.",
        "rejected": f"Step 1: {i} + 3 = {i + 4}.\nThe answer is {i + 4}.",
        "chosen_origin": "sampled",
        "chosen_trace_id": f"p{i}/sample-0",
        "rejected_trace_id": f"p{i}/sample-1",
        "reference_answer": str(i + 3),
    }


def sample(i: int) -> dict:
    steps = [f"Step 1: {i} + 3 = {i + 3}.\n", f"Step 2: so {i + 3} apples.\n", "\\boxed{7}"]
    return {
        "id": f"p{i}/sample-0",
        "problem_id": f"p{i}",
        "text": "".join(steps),
        "steps": steps,
        "origin": "sampled",
        "final_answer": "7",
        "extraction": "boxed",
        "status": "incorrect",
        "correct": False,
        "model": "HuggingFaceTB/SmolLM2-135M-Instruct@gguf-q8_0",
        "sampling": sampling_to_row(
            f"p{i}/sample-0", {"temperature": 1.0, "n": 4, "max_tokens": 256}
        ),
        "seed": 1234 + i,
        "parent_id": None,
        "annotation": {
            "labels": [True, False, False],
            "first_error_step": 1,
            "error_types": None,
            "source": "annotator:m",
        },
    }


def rate(fn, rows: list[dict]) -> float:
    started = time.perf_counter()
    fn(rows)
    return len(rows) / (time.perf_counter() - started)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=50_000)
    args = ap.parse_args()
    print(f"{'config':<8} {'jsonschema rows/s':>18} {'row model rows/s':>17} {'ratio':>7}")
    for config, make in (("pairs", pair), ("samples", sample)):
        rows = [make(i) for i in range(args.rows)]
        schema = json.loads((asset_dir("schemas") / f"{config}.json").read_text())
        validator = Draft202012Validator(schema)

        def by_schema(rs, v=validator):
            for r in rs:
                if not v.is_valid(r):
                    raise ValueError(r["id"])

        model = row_model(config)
        slow = rate(by_schema, rows[: max(1, args.rows // 5)])
        fast = rate(lambda rs, m=model, c=config: check_rows(c, m, rs), rows)
        print(f"{config:<8} {slow:>18,.0f} {fast:>17,.0f} {fast / slow:>6.1f}x")


if __name__ == "__main__":
    main()

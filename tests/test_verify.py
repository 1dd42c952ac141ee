from __future__ import annotations

import json
import re
import time

import pytest

from supdata.verify import VerifyConfig, extract_answer, judge, summarize, verify_many
from supdata.verify.pool import HardTimeoutPool

from conftest import read_jsonl
from pool_helpers import crash, on_timeout, square, stubborn


@pytest.mark.parametrize(
    ("text", "answer", "method"),
    [
        ("so \\boxed{\\frac{1}{2}} and finally \\boxed{3}", "3", "boxed"),
        ("\\boxed{\\{1,2\\}}", "\\{1,2\\}", "boxed"),
        ("\\fbox{7}", "7", "boxed"),
        ("She earns 18 a day.\n#### 1,000", "1,000", "hashes"),
        ("The answer is $18$.", "$18$", "answer_is"),
        ("Thus the final answer is: 42.", "42", "answer_is"),
        ("The answer is 3.5.", "3.5", "answer_is"),
        ("I get 3 apples, then 4.5 pears", "4.5", "last_number"),
        ("no digits at all", None, None),
        ("\\boxed{unbalanced {", None, None),
    ],
)
def test_extract_answer(text, answer, method):
    got = extract_answer(text)
    assert (got.answer, got.method) == (answer, method)


def test_last_number_fallback_can_be_turned_off():
    assert extract_answer("I get 4 apples", last_number_fallback=False).answer is None
    assert judge("I get 4 apples", "4", last_number_fallback=False).status == "no_answer"
    assert judge("I get 4 apples", "4").status == "correct"


@pytest.mark.parametrize(
    ("prediction", "reference", "status"),
    [
        ("... #### 18", "18", "correct"),
        ("so she pays \\$1,250.", "1250", "correct"),
        ("\\boxed{\\frac{14}{3}}", "4\\frac{2}{3}", "correct"),
        ("\\boxed{(3, \\pi/2)}", "\\left( 3, \\frac{\\pi}{2} \\right)", "correct"),
        ("\\boxed{0.5}", "\\frac12", "correct"),
        ("\\boxed{\\text{(C)}}", "\\text{(C)}", "correct"),
        ("\\boxed{19}", "18", "incorrect"),
        ("The answer is blue.", "18", "incorrect"),
        ("I do not know.", "18", "no_answer"),
        ("\\boxed{3}", None, "bad_reference"),
        ("\\boxed{3}", "", "bad_reference"),
    ],
)
def test_judge_statuses(prediction, reference, status):
    assert judge(prediction, reference).status == status


PATHOLOGICAL = [
    ("\\boxed{9^{9^{9^{9}}}}", "5"),
    ("\\boxed{" + "+".join(f"x_{{{i}}}^{{{i}}}" for i in range(12_000)) + "}", "1"),  # ~100 kB
    ("\\boxed{(((((((((((1+" + "{" * 500 + "}", "2"),
    ("\\boxed{3}", "\\frac{" * 200),
    ("\\boxed{10^{10^{10}}!}", "5"),
]


def test_pathological_inputs_never_pass_the_timeout():
    assert len(PATHOLOGICAL[1][0]) > 100_000
    config = VerifyConfig(workers=2, timeout_s=3)
    items = [*PATHOLOGICAL, ("\\boxed{4}", "4")]
    started = time.monotonic()
    results = list(verify_many(items, config))
    elapsed = time.monotonic() - started
    assert len(results) == len(items)
    assert results[-1].status == "correct"
    assert {r.status for r in results[:-1]} <= {
        "timeout",
        "incorrect",
        "no_answer",
        "bad_reference",
    }
    # Two workers, each item bounded by the hard limit, plus worker start-up.
    assert elapsed < len(items) / 2 * config.timeout_s + 10


def test_pool_kills_a_stuck_worker_and_goes_on():
    with HardTimeoutPool(stubborn, on_timeout, workers=2, timeout_s=1.0, chunk_size=4) as pool:
        items = [(i,) for i in (1, 2, -1, 3, 4, -2, 5, 6, 7, 8)]
        started = time.monotonic()
        results = list(pool.map(items))
        elapsed = time.monotonic() - started
        assert pool.killed == 2
    assert results[2].startswith("timeout: killed after 1s")
    assert results[5].startswith("timeout: killed after 1s")
    assert [r for i, r in enumerate(results) if i not in (2, 5)] == [1, 4, 9, 16, 25, 36, 49, 64]
    assert elapsed < 6


def test_pool_survives_a_crashing_worker():
    with HardTimeoutPool(crash, on_timeout, workers=2, timeout_s=5, chunk_size=8) as pool:
        results = list(pool.map([(i,) for i in range(20)]))
    assert results[13].startswith("timeout: worker died (exit code 3)")
    assert [r for i, r in enumerate(results) if i != 13] == [i for i in range(20) if i != 13]


def test_pool_keeps_order_and_bounds_memory():
    consumed = 0

    def items():
        nonlocal consumed
        for i in range(5000):
            consumed += 1
            yield (i,)

    with HardTimeoutPool(square, on_timeout, workers=2, timeout_s=5, chunk_size=8) as pool:
        it = pool.map(items())
        first = [next(it) for _ in range(10)]
        assert consumed < 200  # read lazily, a window at a time
        rest = list(it)
    assert first + rest == [i * i for i in range(5000)]


def test_summarize_counts_every_status():
    pairs = [("\\boxed{1}", "1"), ("no answer here", "1"), ("\\boxed{2}", "1")]
    counts = summarize(verify_many(pairs, VerifyConfig(workers=0)))
    assert counts == {
        "correct": 1,
        "incorrect": 1,
        "no_answer": 1,
        "bad_reference": 0,
        "timeout": 0,
    }


@pytest.mark.shared_data
def test_every_gsm8k_test_reference_verifies(shared_data):
    rows = read_jsonl(shared_data / "gsm8k" / "test.jsonl")
    pairs = [
        (re.sub(r"<<[^>]*>>", "", r["answer"]), r["answer"].split("####")[-1].strip()) for r in rows
    ]
    results = list(verify_many(pairs, VerifyConfig(workers=2)))
    misses = [(p[1], r) for p, r in zip(pairs, results, strict=True) if r.status != "correct"]
    assert len(results) == 1319
    assert misses == []


@pytest.mark.shared_data
def test_math500_references_verify(shared_data):
    rows = read_jsonl(shared_data / "math500" / "test.jsonl")
    pairs = [(r["solution"], r["answer"]) for r in rows]
    results = list(verify_many(pairs, VerifyConfig(workers=2, last_number_fallback=False)))
    correct = sum(r.status == "correct" for r in results)
    assert correct / len(rows) >= 0.99, json.dumps(
        [
            (row["unique_id"], r.status, r.answer)
            for row, r in zip(rows, results, strict=True)
            if r.status != "correct"
        ]
    )

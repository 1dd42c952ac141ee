"""The verifier on real labelled data (../shared/data): agreement with ProcessBench's
human labels, and the same verdicts with the machine idle and with every core busy."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from supdata.verify import RULES, VerifyConfig, summarize, verify_many
from supdata.verify.labelled import load

pytestmark = pytest.mark.shared_data

BURN = "while True: pass"


@pytest.mark.parametrize("split", ["processbench_gsm8k", "processbench_math"])
def test_processbench_agreement(shared_data, split):
    """The issue's target: >= 0.99 of ProcessBench's final_answer_correct labels (plain
    math-verify: 0.985 on both). The disagreements are listed in docs/verification.md."""
    rows = load(shared_data, split)
    results = list(
        verify_many([(r.prediction, r.reference) for r in rows], VerifyConfig(workers=2))
    )
    agree = sum((j.status == "correct") == r.correct for r, j in zip(rows, results, strict=True))
    assert agree / len(rows) >= 0.99, [
        (r.id, r.reference, j.status, j.answer)
        for r, j in zip(rows, results, strict=True)
        if (j.status == "correct") != r.correct
    ]
    assert {j.extraction for j in results} <= {*RULES, None}


def test_same_statuses_idle_and_with_every_core_busy(shared_data):
    rows = (
        load(shared_data, "processbench_math")[:200] + load(shared_data, "processbench_gsm8k")[:100]
    )
    pairs = [(r.prediction, r.reference) for r in rows]
    config = VerifyConfig(workers=2)
    idle = [(j.status, j.answer) for j in verify_many(pairs, config)]
    burners = [
        subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(2 * (os.cpu_count() or 2))
    ]
    try:
        time.sleep(0.5)
        busy = [(j.status, j.answer) for j in verify_many(pairs, config)]
    finally:
        for p in burners:
            p.kill()
            p.wait()
    assert busy == idle
    assert summarize(j for j in verify_many(pairs[:50], VerifyConfig(workers=0)))["timeout"] == 0
    assert sum(s == "timeout" for s, _ in idle) == 0

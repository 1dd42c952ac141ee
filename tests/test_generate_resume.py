"""`supdata generate` killed with SIGKILL midway, then run again: nothing is generated twice."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import REPO, write_jsonl

N_PROMPTS, N = 24, 2


def _cache_rows(path) -> dict[str, str]:
    if not path.exists():
        return {}
    try:
        with sqlite3.connect(path, timeout=30) as db:
            return dict(db.execute("SELECT key, text FROM samples"))
    except sqlite3.OperationalError:  # table not created yet
        return {}


def _generate(prompts, out, cache) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "supdata",
        "generate",
        str(prompts),
        "--out",
        str(out),
        "--cache",
        str(cache),
        "--n",
        str(N),
        "--seed",
        "3",
    ]
    return subprocess.Popen(
        cmd,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


@pytest.mark.slow
def test_sigkill_midway_then_resume(tmp_path):
    pytest.importorskip("vllm")
    prompts = write_jsonl(
        tmp_path / "prompts.jsonl",
        [
            # Staggered lengths, so requests finish one after another.
            {
                "id": f"p{i}",
                "prompt": f"Write a short story about the number {i}.",
                "sampling": {"max_tokens": 4 + 5 * i},
            }
            for i in range(N_PROMPTS)
        ],
    )
    out, cache = tmp_path / "out.jsonl", tmp_path / "cache.sqlite"

    first = _generate(prompts, out, cache)
    deadline = time.monotonic() + 400
    while len(_cache_rows(cache)) < 8:
        assert first.poll() is None, first.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "no samples were cached in time"
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)  # the engine core is a child: kill the group
    first.wait()
    before = _cache_rows(cache)
    assert 8 <= len(before) < N_PROMPTS * N, "the kill must land midway"
    assert not out.exists(), "no half-written output"

    second = _generate(prompts, out, cache)
    _, err = second.communicate(timeout=600)
    assert second.returncode == 0, err[-3000:]
    generated, cached = map(int, re.search(r"\((\d+) generated, (\d+) cached\)", err).groups())
    assert cached == len(before)
    assert generated == N_PROMPTS * N - len(before)

    after = _cache_rows(cache)
    assert len(after) == N_PROMPTS * N
    assert {k: after[k] for k in before} == before, "cached answers come back unchanged"
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"p{i}" for i in range(N_PROMPTS)]
    assert all(len(r["texts"]) == N for r in rows)
    assert sum(sum(r["cached"]) for r in rows) == len(before)

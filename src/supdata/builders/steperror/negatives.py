"""Synthetic negatives (the weak-to-strong paper's earlier route): a model rewrites a
correct solution as a whole, with a computation error or a wrong method, and the
rewrite is kept only if it is a believable wrong solution.

Checks, each failure counted: 0.7-1.3x the correct solution's words (the paper's range),
no error-announcing word (the paper's banned list with inflections), a final answer
that math-verify finds and that differs from the reference, and not a copy.
"""

from __future__ import annotations

from supdata.builders.steperror.params import Negatives
from supdata.core.stats import StageStats
from supdata.engines import Engine, Request, SamplingParams
from supdata.ops.perturb import LEAKY_WORDS
from supdata.ops.sampling import problem_seed
from supdata.prompts import load_prompt
from supdata.verify import VerifyConfig, verify_many

KIND_PROMPTS = {"computation": "negative_computation@1", "wrong_method": "negative_method@1"}


def negative_problem(base: str, text: str, status: str, ratio: tuple[float, float]) -> str | None:
    """Why ``text`` is not a usable negative of ``base`` (status: math-verify's), or None."""
    if not text.strip() or " ".join(text.split()) == " ".join(base.split()):
        return "empty or a copy of the correct solution"
    words, base_words = len(text.split()), max(1, len(base.split()))
    lo, hi = ratio
    if not lo <= words / base_words <= hi:
        return (
            f"length {words / base_words:.2f}x the correct solution's words, outside [{lo}, {hi}]"
        )
    if LEAKY_WORDS.search(text) and not LEAKY_WORDS.search(base):
        return "announces the error (a banned word)"
    if status == "no_answer":
        return "no final answer"
    if status != "incorrect":
        return f"final answer not wrong ({status})"
    return None


def synthetic_negatives(
    pairs: list[dict],
    params: Negatives,
    engine: Engine,
    *,
    verify: VerifyConfig,
    seed: int,
    stats: StageStats,
) -> list[dict]:
    """Per pair and error kind, one rewrite of the pair's chosen (correct) solution; the
    kept ones as pairs (chosen = that solution, rejected = the negative)."""
    jobs = [(pair, kind) for pair in pairs for kind in params.kinds]
    stats.n_in = len(jobs)
    if not jobs:
        return []
    requests = [
        Request(
            load_prompt(params.prompts[kind]).render(
                question=pair["prompt"], solution=pair["chosen"]
            ),
            SamplingParams(
                temperature=params.temperature,
                max_tokens=params.max_tokens,
                seed=problem_seed(seed + 23, f"{pair['id']}/{kind}", 1),
            ),
            id=f"{pair['id']}/negative-{kind}",
        )
        for pair, kind in jobs
    ]
    completions = engine.generate(requests, desc=f"negatives ({engine.name})")
    texts = [c.texts[0].strip() for c in completions]
    judged = verify_many(
        [(t, pair["reference_answer"]) for t, (pair, _) in zip(texts, jobs, strict=True)], verify
    )
    rows = []
    for (pair, kind), text, j, req in zip(jobs, texts, judged, requests, strict=True):
        reason = negative_problem(pair["chosen"], text, j.status, params.length_ratio)
        if reason is not None:
            stats.drop(f"{kind}: {reason}", req.id)
            continue
        stats.tally(f"kept: {kind}")
        rows.append(
            {
                **{k: pair[k] for k in ("problem_id", "prompt", "chosen", "chosen_origin")},
                "id": req.id,
                "chosen_trace_id": pair["chosen_trace_id"],
                "rejected": text,
                "rejected_trace_id": req.id,
                "reference_answer": pair["reference_answer"],
                "error_kind": kind,
            }
        )
    stats.n_out = len(rows)
    return rows

"""Synthetic negatives (the weak-to-strong paper's earlier route): a model rewrites a
correct solution as a whole, with a computation error or a wrong method, and the
rewrite is kept only if it is a believable wrong solution.

Checks, each failure counted: 0.7-1.3x the correct solution's words (the paper's range),
no error-announcing word (the paper's banned list with inflections), a final answer
that math-verify finds and that differs from the reference, and not a copy.

With ``compose_from_subtasks`` also the paper's composed full negative (its prompt
``full_neg_ans_0827`` in const/prompt_template.json; the reply parsed as
pipeline/utils_async.py ``s3_res_match`` does): each kept subproblem's solution is
rewritten the same way (the paper's sub_neg_ans, prompts ``sub_neg_ans_e1_0827`` /
``sub_neg_ans_e2_0827``), and the composer, shown the full problem, its correct solution
and every subproblem with its correct and wrong solution, writes one wrong solution of
the full problem. It passes the same checks against the full problem.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from supdata.builders.steperror.params import Negatives
from supdata.core.records import Problem
from supdata.core.stats import StageStats
from supdata.engines import Engine, Request, SamplingParams
from supdata.ops.joins import join_windows, windows
from supdata.ops.perturb import LEAKY_WORDS
from supdata.ops.sampling import problem_seed
from supdata.prompts import load_prompt
from supdata.verify import VerifyConfig, verify_many

KIND_PROMPTS = {"computation": "negative_computation@1", "wrong_method": "negative_method@1"}
COMPOSED_START = "### Full negative answer for original problem"
COMPOSED_END = "### End"
NOISE_CHARS = "#.*: \n"  # the paper's utils_async.NOISE_CHARS, stripped from both ends


@dataclass(frozen=True)
class Rewriter:
    """``rewrite_negatives`` with its options bound: ``rewriter(bases, stats)``."""

    params: Negatives
    engine: Engine
    verify: VerifyConfig
    seed: int

    def __call__(self, bases: list[dict], stats: StageStats) -> list[tuple[dict, str, str, str]]:
        return rewrite_negatives(
            bases, self.params, self.engine, verify=self.verify, seed=self.seed, stats=stats
        )


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


def parse_composed(reply: str) -> str | None:
    """The composer's full negative: the text after ``### Full negative answer for
    original problem`` up to ``### End`` (if any), stripped of the paper's noise
    characters, as its ``s3_res_match``; None when the section is missing."""
    if COMPOSED_START not in reply:
        return None
    text = reply.split(COMPOSED_START, 1)[1].split(COMPOSED_END, 1)[0]
    return text.strip(NOISE_CHARS)


def _checked(
    items: list[tuple[dict, str | None, str, str]],
    params: Negatives,
    verify: VerifyConfig,
    stats: StageStats,
) -> list[int]:
    """Indices of the (base, text, id, label) items whose text is a usable negative of
    its base (``chosen``, against ``reference_answer``; None: the reply had no composed
    section); each drop counted as ``<label>: <reason>``."""
    judged = verify_many([(t or "", b["reference_answer"]) for b, t, _, _ in items], verify)
    kept = []
    for i, ((base, text, rid, label), j) in enumerate(zip(items, judged, strict=True)):
        if text is None:
            reason = f"no '{COMPOSED_START}' section in the reply"
        else:
            reason = negative_problem(base["chosen"], text, j.status, params.length_ratio)
        if reason is not None:
            stats.drop(f"{label}: {reason}", rid)
            continue
        stats.tally(f"kept: {label}")
        kept.append(i)
    return kept


def _ask(engine: Engine, params: Negatives, asks: list[tuple], desc: str) -> list[str]:
    """One reply per (messages, seed, id), at the negatives' temperature and token cap."""
    requests = [
        Request(
            messages,
            SamplingParams(temperature=params.temperature, max_tokens=params.max_tokens, seed=seed),
            id=rid,
        )
        for messages, seed, rid in asks
    ]
    return [c.texts[0] for c in engine.generate(requests, desc=desc)]


def rewrite_negatives(
    bases: list[dict],
    params: Negatives,
    engine: Engine,
    *,
    verify: VerifyConfig,
    seed: int,
    stats: StageStats,
) -> list[tuple[dict, str, str, str]]:
    """Per base (``id``, ``prompt``, ``chosen``: a correct solution, ``reference_answer``)
    and error kind one whole-solution rewrite: the kept ones as (base, kind, text, id)."""
    jobs = [(base, kind) for base in bases for kind in params.kinds]
    stats.n_in += len(jobs)
    if not jobs:
        return []
    asks = [
        (
            load_prompt(params.prompts[kind]).render(
                question=base["prompt"], solution=base["chosen"]
            ),
            problem_seed(seed + 23, f"{base['id']}/{kind}", 1),
            f"{base['id']}/negative-{kind}",
        )
        for base, kind in jobs
    ]
    texts = [t.strip() for t in _ask(engine, params, asks, f"negatives ({engine.name})")]
    ids = [rid for _, _, rid in asks]
    items = [(b, t, rid, kind) for (b, kind), t, rid in zip(jobs, texts, ids, strict=True)]
    kept = _checked(items, params, verify, stats)
    stats.n_out += len(kept)
    return [(jobs[i][0], jobs[i][1], texts[i], ids[i]) for i in kept]


def _row(pair: dict, text: str, rid: str, kind: str, subs: list[dict]) -> dict[str, Any]:
    return {
        **{k: pair[k] for k in ("problem_id", "prompt", "chosen", "chosen_origin")},
        "id": rid,
        "chosen_trace_id": pair["chosen_trace_id"],
        "rejected": text,
        "rejected_trace_id": rid,
        "reference_answer": pair["reference_answer"],
        "error_kind": kind,
        "sub_negatives": subs,
    }


def synthetic_negatives(
    pairs: Iterable[dict],
    params: Negatives,
    engine: Engine,
    *,
    verify: VerifyConfig,
    seed: int,
    stats: StageStats,
    window: int,
    subtasks: Iterable[Problem] | None = None,
) -> Iterator[dict]:
    """Per pair and error kind, one rewrite of the pair's chosen (correct) solution; the
    kept ones as pairs (chosen = that solution, rejected = the negative). With
    ``subtasks`` (``compose_from_subtasks``) also the composed negatives after them.
    Streams ``window`` pairs at a time (``pairs`` is read twice with ``subtasks``: a
    stage on disk or a list); the rows do not depend on the window."""
    rewrite = Rewriter(params, engine, verify, seed)
    for chunk in windows(pairs, window):
        for pair, kind, text, rid in rewrite(chunk, stats):
            yield _row(pair, text, rid, kind, [])
    if subtasks is None:
        return
    parent = (subtasks, lambda s: s.meta["parent_id"])
    for group in join_windows(pairs, itemgetter("problem_id"), window, subtasks=parent):
        subs = [s for g in group for s in g["subtasks"]]
        yield from composed_negatives([g.item for g in group], subs, rewrite, stats)


def subtask_negatives(
    subtasks: list[Problem], rewrite: Rewriter, stats: StageStats
) -> dict[str, list[dict]]:
    """Parent id -> its subproblems (in index order) that kept a rewrite of their
    solution, one negative each: the first kind of ``kinds`` whose rewrite passed. The
    paper stores one negative per subproblem with its error type (utils_async.save_res:
    1 = computation error, else method error); how it picked the type is not published.
    Subproblems without a kept rewrite are counted and left out."""
    bases = [
        {
            "id": s.id,
            "prompt": s.question,
            "chosen": s.reference_solution,
            "reference_answer": s.reference_answer or "",
        }
        for s in subtasks
    ]
    kept = rewrite(bases, stats)
    first: dict[str, tuple[str, str]] = {}
    for base, kind, text, _ in sorted(kept, key=lambda k: rewrite.params.kinds.index(k[1])):
        first.setdefault(base["id"], (kind, text))
    by_parent: dict[str, list[dict]] = defaultdict(list)
    for s in subtasks:
        if s.id not in first:
            stats.tally("subproblems without a kept negative (left out)")
            continue
        kind, text = first[s.id]
        by_parent[s.meta["parent_id"]].append(
            {
                "subtask_id": s.id,
                "question": s.question,
                "positive": s.reference_solution,
                "negative": text,
                "error_kind": kind,
            }
        )
    return dict(by_parent)


def composed_negatives(
    pairs: list[dict], subtasks: list[Problem], rewrite: Rewriter, stats: StageStats
) -> list[dict]:
    """Per pair whose problem has a subproblem with a kept negative, the paper's composed
    full negative (prompt ``params.compose_prompt``), kept when it passes the rewrite
    checks against the pair's chosen solution and the full reference answer. Counters of
    the subproblem rewrites go under ``sub-negatives: ...``."""
    part = stats.part("sub-negatives")
    subs = subtask_negatives(subtasks, rewrite, part)
    params, engine, seed = rewrite.params, rewrite.engine, rewrite.seed
    stats.absorb(part)
    jobs = []
    for pair in pairs:
        if pair["problem_id"] in subs:
            jobs.append((pair, subs[pair["problem_id"]]))
        else:
            stats.drop("composed: no subproblem with a kept negative", pair["id"])
    stats.n_in += len(pairs)
    if not jobs:
        return []
    prompt = load_prompt(params.compose_prompt)
    asks = [
        (
            prompt.render(question=pair["prompt"], solution=pair["chosen"], subtasks=sub),
            problem_seed(seed + 29, f"{pair['id']}/composed", 1),
            f"{pair['id']}/negative-composed",
        )
        for pair, sub in jobs
    ]
    replies = _ask(engine, params, asks, f"composed negatives ({engine.name})")
    texts = [parse_composed(reply) for reply in replies]
    ids = [rid for _, _, rid in asks]
    items = [(p, t, rid, "composed") for (p, _), t, rid in zip(jobs, texts, ids, strict=True)]
    kept = _checked(items, params, rewrite.verify, stats)
    stats.n_out += len(kept)
    fields = ("subtask_id", "error_kind", "negative")
    return [
        _row(
            jobs[i][0],
            texts[i] or "",
            ids[i],
            "composed",
            [{k: s[k] for k in fields} for s in jobs[i][1]],
        )
        for i in kept
    ]

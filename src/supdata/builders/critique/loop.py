"""Critique-in-the-loop self-improvement over rounds, as AutoMathCritique's selfimprove/
scripts run it (inference.py modes ``inference`` and ``new``, critic.py, data_filter.py).

Round r: the round's actor samples every problem (seed derived from r); correct answers
are kept; wrong ones go to the critic (no reference unless ``critic_sees_reference``);
the actor refines each ``refine_n`` times; the first correct refinement that passes the
anti-shortcut check is kept (the published ``reserved_new_data=1``: one per critique);
then solutions an earlier round (or this one) already kept for the problem are dropped.
"""

from __future__ import annotations

from typing import Any

from supdata.builders.critique.filters import WRONG
from supdata.builders.critique.params import CritiqueBuilder
from supdata.builders.critique.rows import (
    critique_and_refine,
    provenance,
    sft_row,
)
from supdata.core.records import Problem, Trace
from supdata.core.stats import StageStats
from supdata.engines import Engine
from supdata.hygiene.normalize import dedup_key
from supdata.verify import VerifyConfig

# The per-round yields on the card, in order.
YIELDS = (
    "sampled",
    "correct",
    "wrong",
    "critiqued",
    "refined_correct",
    "barrier_rejected",
    "dedup_dropped",
    "kept",
)


def selfimprove_round(
    r: int,
    samples: list[Trace],
    problems: dict[str, Problem],
    params: CritiqueBuilder,
    *,
    actor: Engine,
    critic: Engine,
    earlier: list[dict],
    strategy: str,
    verify: VerifyConfig,
    stats: StageStats,
) -> tuple[list[dict], dict[str, int]]:
    """One round's kept solutions (``RoundRow`` records) and its yields: answers sampled,
    correct, wrong, critiqued (parsed), refined correct (>= 1 correct refinement),
    rejected by the anti-shortcut check, dropped as duplicates, kept. ``samples``: whole
    problems' samples (a window of the round); ``earlier``: the kept records of rounds
    1..r-1 for the same problems (the dedup's memory when ``dedup_rounds``). The records
    come problem by problem, its correct samples before its refinements."""
    loop = params.selfimprove
    assert loop is not None
    seeded = params.model_copy(update={"seed": loop.seed(r, params.seed)})
    checks = {"strategy": strategy, "verify": verify, "stats": stats}
    refined = critique_and_refine(
        samples, problems, seeded, actor, critic, reference=loop.critic_sees_reference, **checks
    )
    base = {"round": r, "actor": actor.fingerprint, "critic": critic.fingerprint}
    candidates = [
        _record(base, t, "sampled", t.text, None) for t in samples if t.status == "correct"
    ]
    candidates += [
        _record(base, t, "refined", text, critique)
        for t, critique, _, text in refined
        if text is not None
    ]
    order = {pid: i for i, pid in enumerate(dict.fromkeys(t.problem_id for t in samples))}
    candidates.sort(key=lambda row: order[row["problem_id"]])  # stable: sampled first
    seen = (
        {(x["problem_id"], dedup_key(x["text"])) for x in earlier} if loop.dedup_rounds else set()
    )
    kept = []
    for row in candidates:
        key = (row["problem_id"], dedup_key(row["text"]))
        if key in seen:
            stats.drop(f"duplicate ({row['source']})", row["id"])
            continue
        seen.add(key)
        stats.tally(f"source: {row['source']}")
        kept.append(row)
    stats.n_in += len(samples)
    stats.n_out += len(kept)
    yields = {
        "sampled": len(samples),
        "correct": sum(t.status == "correct" for t in samples),
        "wrong": sum(t.status in WRONG for t in samples),
        "critiqued": len(refined),
        "refined_correct": sum(hits > 0 for _, _, hits, _ in refined),
        "barrier_rejected": sum(hits > 0 and text is None for _, _, hits, text in refined),
        "dedup_dropped": len(candidates) - len(kept),
        "kept": len(kept),
    }
    for key, n in yields.items():  # the card reads them here: an empty round has no figures
        stats.tally(f"yield: {key}", n)
    return kept, yields


def _record(
    base: dict[str, Any], t: Trace, source: str, text: str, critique: str | None
) -> dict[str, Any]:
    refined = source == "refined"
    return {
        "id": f"r{base['round']}/{t.id}" + ("/refined" if refined else ""),
        "problem_id": t.problem_id,
        "round": base["round"],
        "source": source,
        "text": text,
        "response": t.text if refined else None,
        "critique": critique,
        "actor": base["actor"],
        "critic": base["critic"],
    }


def round_sft(
    rows: list[dict], problems: dict[str, Problem], params: CritiqueBuilder
) -> list[dict]:
    """A round's export: problem to kept solution, in ``selfimprove_sft``'s row shape."""
    return [
        sft_row(problems[x["problem_id"]], x["id"], x["text"], x["source"], params) for x in rows
    ]


def triples(
    rounds: list[list[dict]], problems: dict[str, Problem], params: CritiqueBuilder
) -> list[dict[str, Any]]:
    """Every round's kept refinements as (wrong answer, critique, refinement) triples."""
    loop = params.selfimprove
    assert loop is not None
    made = provenance(params, params.refine_prompt)
    return [
        {
            "id": x["id"],
            "problem_id": x["problem_id"],
            "round": x["round"],
            "question": problems[x["problem_id"]].question,
            "response": x["response"],
            "critique": x["critique"],
            "refinement": x["text"],
            "actor": x["actor"],
            "critic": x["critic"],
            "critic_saw_reference": loop.critic_sees_reference,
            **made,
        }
        for rows in rounds
        for x in rows
        if x["source"] == "refined"
    ]

"""Preference pairs and outcome-error-rate mixtures from sampled solutions."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from operator import attrgetter

from supdata.builders.steperror.params import SteperrorBuilder
from supdata.core.records import Problem, Trace
from supdata.core.stats import StageStats
from supdata.engines import Engine, Request, SamplingParams
from supdata.ops.joins import Joined, join_windows
from supdata.ops.mixture import mixture
from supdata.ops.sampling import problem_seed
from supdata.prompts import load_prompt
from supdata.verify import VerifyConfig, verify_many


def restyle_references(
    wanted: list[tuple[Problem, Trace]],
    params: SteperrorBuilder,
    engine: Engine,
    verify: VerifyConfig,
    stats: StageStats,
) -> dict[str, str]:
    """The model rewrites each reference in its own style; kept only if it still verifies."""
    if not wanted:
        return {}
    prompt = load_prompt(params.restyle_prompt)
    requests = [
        Request(
            messages=prompt.render(question=p.question, solution=ref.text),
            sampling=SamplingParams(
                n=1,
                temperature=0.7,
                max_tokens=params.max_tokens * 2,
                seed=problem_seed(params.seed + 7, p.id, 1),
            ),
            id=p.id,
        )
        for p, ref in wanted
    ]
    completions = engine.generate(requests, desc=f"restyle ({engine.name})")
    texts = [c.texts[0] for c in completions]
    judged = verify_many(
        [(t, p.reference_answer) for t, (p, _) in zip(texts, wanted, strict=True)], verify
    )
    kept = {}
    for text, (p, _), j in zip(texts, wanted, judged, strict=True):
        stats.tally(f"restyle:{j.status}")
        if j.status == "correct" and text.strip():
            kept[p.id] = text
    return kept


def complete_samples(samples: Iterable[Trace], stats: StageStats) -> list[Trace]:
    """A problem's complete samples (judged correct or incorrect, not cut at max_tokens):
    the only ones a pair or a selection may take; the rest are counted."""
    complete = []
    for t in samples:
        if t.sampling.get("finish_reason") == "length":
            stats.tally("sample not eligible: cut at max_tokens")
        elif t.status == "no_answer":
            stats.tally("sample not eligible: no final answer")
        elif t.status in ("correct", "incorrect"):
            complete.append(t)
        else:
            stats.tally(f"sample not eligible: {t.status}")
    return complete


def by_problem_windows(
    problems: Iterable[Problem], samples: Iterable[Trace], window: int, **more: Iterable[Trace]
) -> Iterator[list[Joined]]:
    """``window`` problems at a time with their samples (and the traces of ``more``),
    joined from the stages on disk: one window in memory, never the whole stage."""
    key = attrgetter("problem_id")
    streams = {"samples": (samples, key), **{name: (ts, key) for name, ts in more.items()}}
    return join_windows(problems, attrgetter("id"), window, **streams)


def build_pairs(  # noqa: PLR0917
    problems: Iterable[Problem],
    references: Iterable[Trace],
    samples: Iterable[Trace],
    params: SteperrorBuilder,
    engine: Engine,
    verify: VerifyConfig,
    stats: StageStats,
    window: int,
) -> Iterator[dict]:
    """One pair per problem: chosen = a correct sample (else the reference restyled by the
    model and verified), rejected = a wrong sample. Only complete samples are eligible: a
    sample cut at max_tokens or without a final answer is never chosen or rejected (the
    paper's negatives are complete solutions with a wrong final answer); each is counted.
    Streams ``window`` problems at a time (one restyle batch each); the rows do not
    depend on the window (every choice is seeded per problem)."""
    for group in by_problem_windows(problems, samples, window, references=references):
        yield from _window_pairs(group, params, engine, verify, stats)


def _window_pairs(
    group: list[Joined],
    params: SteperrorBuilder,
    engine: Engine,
    verify: VerifyConfig,
    stats: StageStats,
) -> Iterator[dict]:
    stats.n_in += len(group)
    complete = [complete_samples(g["samples"], stats) for g in group]
    need = []
    for g, traces in zip(group, complete, strict=True):
        has_wrong = any(t.status == "incorrect" for t in traces)
        has_right = any(t.status == "correct" for t in traces)
        ref = g["references"][0] if g["references"] else None
        if has_wrong and not has_right and ref is not None and ref.status == "correct":
            need.append((g.item, ref))
    restyled = restyle_references(need, params, engine, verify, stats)
    asked = {p.id for p, _ in need}
    for g, traces in zip(group, complete, strict=True):
        p = g.item
        rng = random.Random(f"{params.seed}:pairs:{p.id}")
        wrong = _pick([t for t in traces if t.status == "incorrect"], params.choose, rng)
        if wrong is None:
            stats.drop("no complete wrong sample", p.id)
            continue
        right = _pick([t for t in traces if t.status == "correct"], params.choose, rng)
        if right is not None:
            chosen, origin, chosen_id = right.text, "sampled", right.id
        elif p.id in restyled:
            chosen, origin, chosen_id = restyled[p.id], "restyled", f"{p.id}/restyled"
        else:
            reason = (
                "no correct sample; restyled reference lost the answer"
                if p.id in asked
                else "no correct sample and no verified reference"
            )
            stats.drop(reason, p.id)
            continue
        stats.tally(f"chosen:{origin}")
        stats.n_out += 1
        yield {
            "id": p.id,
            "problem_id": p.id,
            "prompt": p.question,
            "chosen": chosen,
            "rejected": wrong.text,
            "chosen_origin": origin,
            "chosen_trace_id": chosen_id,
            "rejected_trace_id": wrong.id,
            "reference_answer": p.reference_answer or "",
        }


def _pick(traces: list[Trace], how: str, rng: random.Random) -> Trace | None:
    if not traces:
        return None
    return traces[0] if how == "first" else rng.choice(traces)


def selection_candidates(
    problems: Iterable[Problem],
    samples: Iterable[Trace],
    params: SteperrorBuilder,
    stats: StageStats,
    window: int,
) -> Iterator[dict]:
    """One candidate per problem with a complete sample: a right and a wrong solution
    (picked as pairs pick them, ``choose``), either None when the samples have none."""
    for group in by_problem_windows(problems, samples, window):
        for g in group:
            p = g.item
            traces = complete_samples(g["samples"], stats)
            if not traces:
                stats.drop("no complete sample", p.id)
                continue
            rng = random.Random(f"{params.seed}:pairs:{p.id}")
            wrong = _pick([t for t in traces if t.status == "incorrect"], params.choose, rng)
            right = _pick([t for t in traces if t.status == "correct"], params.choose, rng)
            yield {
                "id": p.id,
                "problem_id": p.id,
                "prompt": p.question,
                "chosen": right.text if right else None,
                "rejected": wrong.text if wrong else None,
                "reference_answer": p.reference_answer or "",
            }


def named_mixture(
    pools: dict[str, Iterable[dict]], parts: list[tuple[str, float]], seed: int, stats: StageStats
) -> Iterator[dict]:
    """The parts' ER mixtures one after another; ids carry the part so they stay unique.
    Streams when the pools are stages on disk (or ``Replay`` filters of them)."""
    for pool, er in parts:
        for row in mixture(pools[pool], er, seed, stats, part=f"{pool}@{er:g}"):
            yield {**row, "id": f"{pool}/{row['id']}"}

"""Critiques of flawed paths, filtered, refined, and turned into SFT rows."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from supdata.builders.critique.critic import CritiqueJob, critique_all
from supdata.builders.critique.filters import WRONG, inconsistency, refinement_shortcut
from supdata.builders.critique.format import render_critique
from supdata.builders.critique.params import CritiqueBuilder
from supdata.core.records import Problem, Trace
from supdata.core.stats import StageStats
from supdata.engines import Engine, Request, SamplingParams
from supdata.hygiene.normalize import dedup_key
from supdata.ops.sampling import problem_seed
from supdata.ops.steps import segment, strip_steps
from supdata.ops.verdict import verdict_word
from supdata.prompts import load_prompt
from supdata.verify import VerifyConfig, verify_many


def critique_rows(
    paths: list[Trace],
    problems: dict[str, Problem],
    params: CritiqueBuilder,
    actor: Engine,
    critic: Engine,
    *,
    strategy: str,
    verify: VerifyConfig,
    stats: StageStats,
) -> list[dict]:
    """The rows of the paths whose critique passed the consistency and refinement
    filters (``problems``: at least the paths' problems, by id)."""
    stats.n_in += len(paths)
    jobs = []
    for t in paths:
        k = t.sampling["known_error_step"]
        hint = {"hint_step": k + 1, "hint_type": t.sampling.get("error_type")} if k >= 0 else {}
        jobs.append(_job(t, problems[t.problem_id], **hint))
    results = critique_all(
        jobs,
        critic,
        prompt_ref=params.critic_prompt,
        max_tokens_per_step=params.critic_max_tokens_per_step,
        seed=params.seed,
    )
    consistent = []
    for t, r in zip(paths, results, strict=True):
        if r.critique is None:
            stats.drop(f"critique rejected: {r.rejected}", t.id)
            continue
        why = inconsistency(
            r.critique,
            solution_correct=t.status == "correct",
            method=t.sampling["method"],
            known_step=t.sampling["known_error_step"],
            rg2_tolerance=params.rg2_tolerance,
            rg3_tolerance=params.rg3_tolerance,
        )
        if why is not None:
            stats.drop(why, t.id)
            continue
        stats.tally(f"consistent: {t.sampling['method']}")
        consistent.append((t, r.critique))
    texts = {t.id: render_critique(c, strip_steps(t.steps)) for t, c in consistent}
    refined = refine_many(
        [(t, texts[t.id]) for t, _ in consistent], problems, params, actor, verify=verify
    )
    rows = []
    n = params.refine_n
    for (t, critique), hits in zip(consistent, refined, strict=True):
        stats.tally(f"refinements correct: {len(hits)}/{n}")
        if len(hits) < params.refine_k:
            stats.drop(f"refinement filter: fewer than {params.refine_k} of {n} correct", t.id)
            continue
        p = problems[t.problem_id]
        refinement = first_honest(
            hits, t.text, params, reference=p.reference_solution, strategy=strategy, stats=stats
        )
        rows.append(
            {
                "id": t.id,
                "problem_id": t.problem_id,
                "question": p.question,
                "response": t.text,
                "steps": t.steps,
                "critique": texts[t.id],
                "labels": critique.labels,
                "first_error_step": critique.first_error_step,
                "final_verdict": verdict_word(critique.final_correct),
                "final_correct": t.status == "correct",
                "method": t.sampling["method"],
                "known_error_step": t.sampling["known_error_step"],
                "error_type": t.sampling.get("error_type"),  # null (absent) for RG1 paths
                "refine_success_rate": len(hits) / n,
                "refinement": refinement,
                "reference_answer": p.reference_answer or "",
                "actor": actor.fingerprint,
                "critic": critic.fingerprint,
                "critique_format": critique.format,
                **provenance(params, params.critic_prompt),
                "label_sets": [ls.to_row() for ls in t.label_sets] or None,
            }
        )
    stats.n_out += len(rows)
    return rows


def refine_many(
    items: list[tuple[Trace, str]],
    problems: dict[str, Problem],
    params: CritiqueBuilder,
    actor: Engine,
    *,
    verify: VerifyConfig,
) -> list[list[str]]:
    """The actor refines each (response, critique) refine_n times; per item, the
    refinements math-verify finds correct."""
    if not items:
        return []
    prompt = load_prompt(params.refine_prompt)
    n = params.refine_n
    completions = actor.generate(
        [
            Request(
                prompt.render(
                    question=problems[t.problem_id].question,
                    response=t.text,
                    steps=strip_steps(t.steps),
                    critique=critique,
                ),
                SamplingParams(
                    n=n,
                    temperature=params.refine_temperature,
                    max_tokens=params.max_tokens,
                    seed=problem_seed(params.seed + 23, t.id, n),
                ),
                continue_final=prompt.continues,
                id=f"{t.id}/refine",
            )
            for t, critique in items
        ],
        desc=f"refine ({actor.name})",
    )
    candidates = [
        (t, text) for (t, _), c in zip(items, completions, strict=True) for text in c.texts
    ]
    judged = list(
        verify_many(
            [(text, problems[t.problem_id].reference_answer) for t, text in candidates], verify
        )
    )
    return [
        [candidates[i * n + j][1] for j in range(n) if judged[i * n + j].status == "correct"]
        for i in range(len(items))
    ]


def first_honest(
    refinements: list[str],
    response: str,
    params: CritiqueBuilder,
    *,
    reference: str,
    strategy: str,
    stats: StageStats,
) -> str | None:
    """The first refinement that passes the anti-shortcut check (``params.shortcut``), or
    None. One refinement per critique at most: the published ``reserved_new_data=1``."""
    for text in refinements:
        why = refinement_shortcut(
            params.shortcut,
            text,
            segment(text, strategy),
            reference=reference,
            response=response,
            min_ratio=params.min_number_ratio,
        )
        if why is None:
            return text
        stats.tally(f"refinement rejected: {why}")
    return None


def _job(trace: Trace, problem: Problem, *, reference: bool = True, **hint: Any) -> CritiqueJob:
    """The critic's view of a response: problem, reference (unless ``reference`` is
    false: the trained critic's view), steps (and any hint)."""
    return CritiqueJob(
        id=trace.id,
        question=problem.question,
        steps=trace.steps,
        reference=problem.reference_solution if reference else "",
        **hint,
    )


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def provenance(params: CritiqueBuilder, prompt_ref: str) -> dict[str, str]:
    """Which preset and which template (``id@version`` or ``file:<name>@<sha>``) made a row."""
    return {"prompt_set": params.prompts, "prompt_ref": load_prompt(prompt_ref).ref}


def critic_sft(rows: Iterable[dict], params: CritiqueBuilder, stats: StageStats) -> Iterator[dict]:
    """The critic's task as it is at test time: no reference, no hint, text format."""
    prompt = load_prompt(params.critic_prompt)
    made = provenance(params, params.critic_prompt)
    for r in rows:
        stats.n_in += 1
        stats.n_out += 1
        yield {
            "id": r["id"],
            "problem_id": r["problem_id"],
            "prompt": list(
                prompt.render(
                    question=r["question"],
                    reference="",
                    steps=strip_steps(r["steps"]),
                    hint_step=None,
                    hint_type=None,
                    json_format=False,
                )
            ),
            "completion": _assistant(r["critique"]),
            "source": r["method"],
            **made,
        }


def refine_sft(rows: Iterable[dict], params: CritiqueBuilder, stats: StageStats) -> Iterator[dict]:
    prompt = load_prompt(params.refine_prompt)
    made = provenance(params, params.refine_prompt)
    for r in rows:
        stats.n_in += 1
        if r["refinement"] is None:
            stats.drop("no refinement passed the anti-shortcut check", r["id"])
            continue
        messages = prompt.render(
            question=r["question"],
            response=r["response"],
            steps=strip_steps(r["steps"]),
            critique=r["critique"],
        )
        stats.n_out += 1
        yield {
            "id": r["id"],
            "problem_id": r["problem_id"],
            "prompt": list(messages),
            "completion": _assistant(r["refinement"]),
            "source": r["method"],
            **made,
        }


def selfimprove_sft(
    samples: list[Trace],
    problems: dict[str, Problem],
    params: CritiqueBuilder,
    actor: Engine,
    critic: Engine,
    *,
    strategy: str,
    verify: VerifyConfig,
    stats: StageStats,
) -> list[dict]:
    """One critique-in-the-loop round: keep the correct samples; critique the wrong ones
    (given the reference: an oracle critique, unlike the paper's loop, which is
    ``selfimprove:``), refine, and keep correct refinements that carry reasoning; drop
    duplicates. Requests the critiques stage made come from the request cache.
    ``samples``: whole problems' samples (a window of the stage); the rows come problem by
    problem, its correct samples before its refinements."""
    checks = {"strategy": strategy, "verify": verify, "stats": stats}
    refined = critique_and_refine(
        samples, problems, params, actor, critic, reference=True, **checks
    )
    candidates = [(t.problem_id, t.id, t.text, "sampled") for t in samples if t.status == "correct"]
    candidates += [
        (t.problem_id, f"{t.id}/refined", text, "refined")
        for t, _, _, text in refined
        if text is not None
    ]
    order = {pid: i for i, pid in enumerate(dict.fromkeys(t.problem_id for t in samples))}
    candidates.sort(key=lambda c: order[c[0]])  # stable: sampled before refined
    stats.n_in += len(samples)
    seen: set[tuple[str, str]] = set()
    out = []
    for problem_id, rid, text, source in candidates:
        key = (problem_id, dedup_key(text))
        if key in seen:
            stats.drop("duplicate", rid)
            continue
        seen.add(key)
        stats.tally(f"source: {source}")
        out.append(sft_row(problems[problem_id], rid, text, source, params))
    stats.n_out += len(out)
    return out


def critique_and_refine(
    samples: list[Trace],
    problems: dict[str, Problem],
    params: CritiqueBuilder,
    actor: Engine,
    critic: Engine,
    *,
    reference: bool,
    strategy: str,
    verify: VerifyConfig,
    stats: StageStats,
) -> list[tuple[Trace, str, int, str | None]]:
    """Critique each wrong answer of ``samples`` (the critic sees the reference only if
    ``reference``),
    refine it ``refine_n`` times, and take the first correct refinement that passes the
    anti-shortcut check: (trace, critique text, correct refinements, the kept one or None)
    per parsed critique.
    Tallies ``critique rejected: ...``, ``refinements correct: k/n`` and the shortcut
    rejections."""
    wrong = [t for t in samples if t.status in WRONG]
    results = critique_all(
        [_job(t, problems[t.problem_id], reference=reference) for t in wrong],
        critic,
        prompt_ref=params.critic_prompt,
        max_tokens_per_step=params.critic_max_tokens_per_step,
        seed=params.seed,
    )
    parsed = []
    for t, r in zip(wrong, results, strict=True):
        if r.critique is None:
            stats.tally(f"critique rejected: {r.rejected}")
            continue
        parsed.append((t, render_critique(r.critique, strip_steps(t.steps))))
    refined = refine_many(parsed, problems, params, actor, verify=verify)
    out = []
    for (t, critique), hits in zip(parsed, refined, strict=True):
        stats.tally(f"refinements correct: {len(hits)}/{params.refine_n}")
        reference_text = problems[t.problem_id].reference_solution
        text = first_honest(
            hits, t.text, params, reference=reference_text, strategy=strategy, stats=stats
        )
        out.append((t, critique, len(hits), text))
    return out


def sft_row(
    problem: Problem, rid: str, text: str, source: str, params: CritiqueBuilder
) -> dict[str, Any]:
    """A problem-to-solution SFT row in the actor's solve template."""
    return {
        "id": rid,
        "problem_id": problem.id,
        "prompt": list(load_prompt(params.prompt).render(question=problem.question)),
        "completion": _assistant(text),
        "source": source,
        **provenance(params, params.prompt),
    }

"""Perturbed solutions: step errors injected by rule or by model, labels by construction."""

from __future__ import annotations

from dataclasses import dataclass

from supdata.builders.perturb.params import PerturbBuilder
from supdata.core.records import Problem, StepAnnotation, Trace
from supdata.core.stats import StageStats
from supdata.engines import Engine
from supdata.ops.perturb import LEAKY_WORDS, CannotPerturb, given_quantities, perturb
from supdata.ops.perturb.generate import StepEdit, inject_errors
from supdata.ops.perturb.rewrite import assemble, first_wrong_step
from supdata.prompts import load_prompt


@dataclass(frozen=True)
class Job:
    """One row to try: a base solution, a target SWER, where and what kind of error."""

    base: Trace
    target: float
    position: str | int
    error_type: str
    seed: int

    @property
    def id(self) -> str:
        stem = self.base.problem_id if self.base.origin == "reference" else self.base.id
        return f"{stem}/perturbed-swer{round(self.target * 100):03d}"


def plan_jobs(bases: list[Trace], params: PerturbBuilder, stats: StageStats) -> list[Job]:
    """Every usable base at every grid target, cycling through (position, type)."""
    combos = [(p, t) for p in params.positions for t in params.types]
    jobs = []
    for b_index, base in enumerate(bases):
        if base.status != "correct":
            stats.drop(f"{base.origin} not verified correct", base.id)
            continue
        if LEAKY_WORDS.search(base.text):
            stats.drop(f"{base.origin} has an error-announcing word", base.id)
            continue
        for g_index, target in enumerate(params.swer_grid):
            position, error_type = combos[(b_index + g_index) % len(combos)]
            seed = params.seed * 1_000_003 + b_index * 101 + g_index
            jobs.append(Job(base, target, position, error_type, seed))
    stats.n_in = len(jobs)
    return jobs


def rule_trace(
    job: Job, params: PerturbBuilder, stats: StageStats, question: str = ""
) -> Trace | None:
    """The job's rule error; a carried chain never rewrites a quantity ``question`` gives."""
    if isinstance(job.position, int) and job.position > len(job.base.steps):
        n = len(job.base.steps)
        stats.drop(f"position {job.position} is past the last step", f"{job.base.id} ({n} steps)")
        return None
    try:
        p = perturb(
            job.base.steps,
            error_type=job.error_type,
            target_swer=job.target,
            position=job.position,
            carry=params.carry,
            seed=job.seed,
            givens=given_quantities(question),
        )
    except CannotPerturb as exc:
        stats.drop(f"{job.error_type}: {exc}", job.base.id)
        return None
    sampling = {
        "method": "rule",
        "rule": job.error_type,
        "position": job.position,
        "carry": params.carry,
        "target_swer": job.target,
    }
    return _trace(job, p.steps, StepAnnotation(p.labels, "construction", p.error_types), sampling)


def _trace(job: Job, steps: list[str], annotation: StepAnnotation, sampling: dict) -> Trace:
    return Trace(
        id=job.id,
        problem_id=job.base.problem_id,
        text="".join(steps),
        steps=steps,
        origin="perturbed",
        sampling=sampling,
        seed=job.seed,
        parent_id=job.base.id,
        annotation=annotation,
    )


def model_traces(
    jobs: list[Job],
    params: PerturbBuilder,
    actor: Engine,
    rewriter: Engine,
    *,
    problems: dict[str, Problem],
    strategy: str,
    stats: StageStats,
) -> list[Trace]:
    """Rewrite step k of each base with the job's error type, then let the actor go on.

    The final answer is checked afterwards, by the stage's verification."""
    if not jobs:
        return []
    ks = [first_wrong_step(len(j.base.steps), j.target) for j in jobs]
    questions = [problems[j.base.problem_id].question for j in jobs]
    injected = inject_errors(
        [
            StepEdit(j.id, q, j.base.steps, k, j.error_type, j.seed)
            for j, q, k in zip(jobs, questions, ks, strict=True)
        ],
        actor,
        rewriter,
        rewrite_prompt=params.rewrite_prompt,
        continue_prompt=params.continue_prompt,
        temperature=params.temperature,
        max_tokens=params.max_tokens,
        desc="continue after rewrite",
    )
    out = []
    for j, k, x in zip(jobs, ks, injected, strict=True):
        step, c = x.step, x.completion
        if c.finish_reasons[0] == "length":
            stats.drop(f"{j.error_type}: continuation hit max_tokens", j.base.id)
            continue
        try:
            made = assemble(
                j.base.steps,
                k,
                step,
                c.texts[0],
                error_type=j.error_type,
                target=j.target,
                tolerance=params.swer_tolerance,
                length_ratio=params.length_ratio,
                strategy=strategy,
            )
        except CannotPerturb as exc:
            stats.drop(f"{j.error_type}: {exc}", j.base.id)
            continue
        sampling = {
            "method": "model",
            "error_type": j.error_type,
            "target_swer": j.target,
            "first_error_step": k,
            "rewriter": rewriter.fingerprint,
            "rewrite_prompt": load_prompt(params.rewrite_prompt).ref,
            "continue_prompt": load_prompt(params.continue_prompt).ref,
            "temperature": params.temperature,
        }
        trace = _trace(
            j, made.steps, StepAnnotation(made.labels, "construction", made.error_types), sampling
        )
        trace.model = actor.fingerprint
        out.append(trace)
    return out

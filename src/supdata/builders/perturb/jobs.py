"""Perturbed solutions: step errors injected by rule or by model.

Labels: a rule row's Wrong steps are the steps its edit changed (``construction``); a
model row's rewritten step is Wrong by construction and a later step is Wrong only on
evidence: the carried chain (``construction+chain``) or the recipe's annotator
(``construction+annotator:<model>``). SWER (wrong / all steps) is measured on those
labels and checked against the target in one place, ``meets_target``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from supdata.builders.perturb.params import PerturbBuilder
from supdata.core.records import Problem, StepAnnotation, Trace
from supdata.core.stats import StageStats
from supdata.engines import Engine
from supdata.ops.annotate import annotate
from supdata.ops.perturb import LEAKY_WORDS, CannotPerturb, given_quantities, perturb
from supdata.ops.perturb.generate import StepEdit, inject_errors
from supdata.ops.perturb.rewrite import assemble, rewrite_position
from supdata.ops.perturb.target import swer_meets
from supdata.prompts import load_prompt

CHAIN = "construction+chain"


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


def iter_jobs(bases: Iterable[Trace], params: PerturbBuilder, stats: StageStats) -> Iterator[Job]:
    """Every usable base at every grid target, cycling through (position, type); streamed,
    the jobs of one base at a time."""
    combos = [(p, t) for p in params.positions for t in params.types]
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
            stats.n_in += 1
            yield Job(base, target, position, error_type, seed)


def _past_end(job: Job, stats: StageStats) -> bool:
    """A step-number position beyond the base's last step: counted, not tried."""
    n = len(job.base.steps)
    if isinstance(job.position, int) and job.position > n:
        stats.drop(f"position {job.position} is past the last step", f"{job.base.id} ({n} steps)")
        return True
    return False


def rule_trace(
    job: Job, params: PerturbBuilder, stats: StageStats, question: str = ""
) -> Trace | None:
    """The job's rule error; a carried chain never rewrites a quantity ``question`` gives."""
    if _past_end(job, stats):
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
            tolerance=params.swer_tolerance,
        )
    except CannotPerturb as exc:
        stats.drop(f"{job.error_type}: {exc}", job.base.id)
        return None
    sampling = {
        "method": "rule",
        "rule": job.error_type,
        "position": str(job.position),  # the struct's field is a string
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
    """Rewrite step k of each base with the job's error type (k from the job's position),
    then let the actor go on; label the result by the carried chain.

    The final answer is checked afterwards, by the stage's verification, and the SWER
    after the labels are final (``meets_target``)."""
    jobs = [j for j in jobs if not _past_end(j, stats)]
    if not jobs:
        return []
    ks = [rewrite_position(len(j.base.steps), j.target, j.position, j.seed) for j in jobs]
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
    for j, k, q, x in zip(jobs, ks, questions, injected, strict=True):
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
                length_ratio=params.length_ratio,
                strategy=strategy,
                givens=given_quantities(q),
            )
        except CannotPerturb as exc:
            stats.drop(f"{j.error_type}: {exc}", j.base.id)
            continue
        sampling = {
            "method": "model",
            "error_type": j.error_type,
            "target_swer": j.target,
            "position": str(j.position),
            "first_error_step": k,
            "rewriter": rewriter.fingerprint,
            "rewrite_prompt": load_prompt(params.rewrite_prompt).ref,
            "continue_prompt": load_prompt(params.continue_prompt).ref,
            "temperature": params.temperature,
        }
        trace = _trace(
            j, made.steps, StepAnnotation(made.labels, CHAIN, made.error_types), sampling
        )
        trace.model = actor.fingerprint
        out.append(trace)
    return out


def annotate_continuations(
    traces: list[Trace],
    problems: dict[str, Problem],
    annotator: Engine,
    prompt_ref: str,
    stats: StageStats,
) -> list[Trace]:
    """Model rows labelled by ``annotator`` (``ops.annotate``, given the reference) after
    the rewritten step: the base's prefix stays Correct and the rewritten step Wrong (by
    construction), every later step takes the annotator's label. A row whose labels do
    not align is dropped and counted; where the annotator and the carried chain differ
    is counted too. Error types stay on the rewritten step and on later Wrong steps the
    chain also marks."""
    chains = {t.id: t.annotation for t in traces}
    for t in traces:
        t.annotation = None
    annotate(traces, problems, annotator, prompt_ref, stats)
    kept = []
    for t in traces:
        chain, judged = chains[t.id], t.annotation
        if judged is None:
            stats.drop(f"{t.sampling['error_type']}: annotator labels rejected", t.parent_id)
            continue
        k = chain.first_error_step
        labels = [True] * k + [False] + judged.labels[k + 1 :]
        if judged.labels[: k + 1] != labels[: k + 1]:
            stats.tally("annotator overruled on the prefix or the rewritten step")
        differ = sum(a != b for a, b in zip(labels[k + 1 :], chain.labels[k + 1 :], strict=True))
        if differ:
            stats.tally("annotator and chain differ on a later step", differ)
        types = [
            chain.error_types[i] if ok is False else None  # type: ignore[index]
            for i, ok in enumerate(labels)
        ]
        t.annotation = StepAnnotation(labels, f"construction+{judged.source}", types)
        kept.append(t)
    return kept


def meets_target(trace: Trace, params: PerturbBuilder, stats: StageStats) -> bool:
    """The row's measured SWER (wrong / all steps) meets its target (``swer_meets``);
    a row that misses is counted."""
    if swer_meets(trace.annotation.labels, trace.sampling["target_swer"], params.swer_tolerance):
        return True
    kind = trace.sampling.get("rule") or trace.sampling.get("error_type")
    stats.drop(f"{kind}: measured SWER off target", trace.parent_id)
    return False

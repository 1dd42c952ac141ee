"""Stages of the ``perturb`` builder: ``perturbed`` (rule-only builds stream, one base
at a time; model types gather their jobs for the engine) and, with ``er_grid``, the
mixtures over references (``perturbed_candidates``, then one ``perturbed_erXX`` each)."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from supdata.builders.perturb.jobs import (
    Job,
    annotate_continuations,
    iter_jobs,
    meets_target,
    model_traces,
    rule_trace,
)
from supdata.builders.perturb.params import PerturbBuilder
from supdata.builders.sample.stages import stage_params
from supdata.core import progress
from supdata.core.records import Problem, Trace
from supdata.core.records.models import PerturbedRow
from supdata.core.runner import BuildContext, Output, Stage
from supdata.core.stats import StageStats
from supdata.ops.figures import trace_config
from supdata.ops.joins import Follow, windows
from supdata.ops.labels.stage import Labeller
from supdata.ops.mixture import (
    CandidateRow,
    MixRow,
    er_figures,
    er_name,
    mixture,
)
from supdata.ops.perturb.types import MODEL_TYPES, RULE_TYPES
from supdata.ops.stages import verify
from supdata.ops.verification import InFlightAnswers, verify_traces

if TYPE_CHECKING:
    from supdata.recipe import Recipe

PERTURBED = (
    "a correct solution with step errors injected (rule or model), labelled per step: "
    "only erroneous steps are Wrong"
)


def er_description(rate: str = "XX") -> str:
    return (
        f"one solution per problem with a verified reference: the reference, or for exactly "
        f"{rate}% of them one of its perturbations (wrong by construction)"
    )


def perturb_stages(builder: PerturbBuilder, recipe: Recipe, check: dict) -> list[Stage]:
    samples = ("samples",) if "correct_samples" in builder.apply_to else ()
    needs = ("source", "references", *samples)
    params = stage_params(builder, recipe, check)
    stages = [
        Stage(
            "perturbed",
            PerturbedRow,
            needs,
            params,
            _perturbed(builder),
            description=PERTURBED,
            figures=trace_config(),
        )
    ]
    if builder.er_grid:
        stages.append(
            Stage(
                "perturbed_candidates",
                CandidateRow,
                ("source", "references", "perturbed"),
                {"seed": builder.er_seed},
                _candidates(builder),
                publish=False,
            )
        )
    for er in builder.er_grid:
        name = er_name(er, "perturbed")
        stages.append(
            Stage(
                name,
                MixRow,
                ("perturbed_candidates",),
                {"er": er, "seed": builder.er_seed},
                _mixture(builder, er),
                description=er_description(name.rpartition("_er")[2]),
                figures=er_figures,
            )
        )
    return stages


def _rules_only(builder: PerturbBuilder) -> bool:
    """Rule types alone, no annotator, no label sources: every row is made from its base
    alone, without an engine, so the stage streams base by base; otherwise
    ``runner.window`` jobs at a time go to the engines (and the label sources)."""
    return not builder.model_types and builder.annotator is None and not builder.labels


def _bases(ctx: BuildContext, builder: PerturbBuilder) -> Iterator[tuple[Trace, Problem]]:
    """Each base with its problem, read side by side from disk (both follow source order)."""
    streams = []
    if "references" in builder.apply_to:
        streams.append(ctx.outputs["references"])
    if "correct_samples" in builder.apply_to:
        streams.append(t for t in ctx.outputs["samples"] if t.status == "correct")
    for bases in streams:
        source = Follow(ctx.outputs["source"], lambda p: p.id, "source")
        problem = None
        for base in bases:
            if problem is None or problem.id != base.problem_id:
                problem = source.seek(base.problem_id)
            yield base, problem


def _rule_rows(ctx: BuildContext, builder: PerturbBuilder, stats: StageStats) -> Iterator[Trace]:
    """The streaming path: plan, perturb, verify and check each base's rows as they come."""
    answers = InFlightAnswers()
    problems: dict[str, Problem] = {}

    def bases() -> Iterator[Trace]:
        for base, problem in _bases(ctx, builder):
            problems[base.id] = problem  # one entry per base between here and rule_trace
            yield base

    def traces() -> Iterator[Trace]:
        for job in iter_jobs(bases(), builder, stats):
            problem = problems[job.base.id]
            trace = rule_trace(job, builder, stats, problem.question)
            if trace is not None:
                answers.hold(problem)
                yield trace
            if len(problems) > 1:  # the previous bases are done
                for key in [k for k in problems if k != job.base.id]:
                    del problems[key]

    config = ctx.recipe.verification.to_config()
    bar = progress.bar("verify perturbed", unit="trace")
    for t in verify_traces(traces(), answers, config, stats):
        answers.release(t.problem_id)
        bar.update()
        if meets_target(t, builder, stats):
            _count_kept(t, stats)
            yield t
    bar.close()


def _count_kept(t: Trace, stats: StageStats) -> None:
    kind = t.sampling.get("rule") or t.sampling.get("error_type")
    stats.tally(f"type:{kind}")
    stats.tally(f"method:{t.sampling['method']}")
    stats.tally(f"swer target:{t.sampling['target_swer']:g}")
    stats.n_out += 1


def _perturbed(builder: PerturbBuilder):
    def run(ctx: BuildContext, stats: StageStats) -> Output:
        if _rules_only(builder):
            return Output(_rule_rows(ctx, builder, stats))
        facts: dict = {}
        labeller = (
            Labeller(ctx, builder.labels, stats, facts, baseline="construction")
            if builder.labels
            else None
        )
        return Output(_model_rows(ctx, builder, stats, labeller), facts)

    return run


def _model_rows(
    ctx: BuildContext,
    builder: PerturbBuilder,
    stats: StageStats,
    labeller: Labeller | None = None,
) -> Iterator[Trace]:
    """Model types (or an annotator, or label sources): ``runner.window`` jobs at a time
    go to the engines, their bases and problems read side by side from disk; rows keep
    the order of their jobs, whatever the window. ``labeller`` labels each window's rows."""
    problems: dict[str, Problem] = {}

    def bases() -> Iterator[Trace]:
        for base, problem in _bases(ctx, builder):
            problems[problem.id] = problem
            yield base

    for jobs in windows(iter_jobs(bases(), builder, stats), ctx.recipe.runner.window):
        here = {j.base.problem_id: problems[j.base.problem_id] for j in jobs}
        rows = _window_rows(ctx, builder, jobs, here, stats)
        if labeller is not None:
            labeller.label(rows, here.values())
        yield from rows
        last = jobs[-1].base.problem_id  # the only problem the next window may still need
        for key in [k for k in problems if k != last]:
            del problems[key]


def _window_rows(
    ctx: BuildContext,
    builder: PerturbBuilder,
    jobs: list[Job],
    problems: dict[str, Problem],
    stats: StageStats,
) -> list[Trace]:
    """One window of jobs: rule rows, model rewrites and continuations, verification,
    the annotator; the kept rows in job order."""
    traces = []
    for j in (j for j in jobs if j.error_type in RULE_TYPES):
        question = problems[j.base.problem_id].question
        if (t := rule_trace(j, builder, stats, question)) is not None:
            traces.append(t)
    model_jobs = [j for j in jobs if j.error_type in MODEL_TYPES]
    if model_jobs:
        actor = ctx.engines[builder.engine]
        rewriter = ctx.engines[builder.rewriter or builder.engine]
        strategy = ctx.recipe.segmentation.strategy
        traces += model_traces(
            model_jobs,
            builder,
            actor,
            rewriter,
            problems=problems,
            strategy=strategy,
            stats=stats,
        )
    checked = []
    for t in verify(ctx, traces, stats, "verify perturbed", list(problems.values())):
        if t.sampling["method"] == "model" and t.status != "incorrect":
            kind = t.sampling["error_type"]
            stats.drop(f"{kind}: final answer not wrong ({t.status})", t.parent_id)
            continue
        checked.append(t)
    if builder.annotator is not None:
        model_rows = [t for t in checked if t.sampling["method"] == "model"]
        labelled = annotate_continuations(
            model_rows, problems, ctx.engines[builder.annotator], builder.label_prompt, stats
        )
        keep = {t.id for t in labelled} | {t.id for t in checked if t.sampling["method"] != "model"}
        checked = [t for t in checked if t.id in keep]
    order = {j.id: i for i, j in enumerate(jobs)}
    kept = sorted(
        (t for t in checked if meets_target(t, builder, stats)), key=lambda t: order[t.id]
    )
    for t in kept:
        _count_kept(t, stats)
    return kept


def _candidates(builder: PerturbBuilder):
    """Per problem with a verified reference: the reference (chosen) and one of its
    perturbations (rejected, picked with ``er_seed``; None when none was kept). Source,
    references and perturbed rows are merged side by side from disk: each follows the
    order of the one before."""

    def run(ctx: BuildContext, stats: StageStats) -> Iterator[dict]:
        source = Follow(ctx.outputs["source"], lambda p: p.id, "source")
        perturbed = Follow(ctx.outputs["perturbed"], lambda t: t.parent_id, "perturbed")
        for ref in ctx.outputs["references"]:
            stats.n_in += 1
            if ref.status != "correct":
                stats.drop(f"reference {ref.status}", ref.problem_id)
                continue
            problem = source.seek(ref.problem_id)
            rows = perturbed.take(ref.id)
            rng = random.Random(f"{builder.er_seed}:perturbed:{ref.problem_id}")
            stats.tally("with a perturbation" if rows else "without a perturbation")
            stats.n_out += 1
            yield {
                "id": ref.problem_id,
                "problem_id": ref.problem_id,
                "prompt": problem.question,
                "chosen": ref.text,
                "rejected": rng.choice(rows).text if rows else None,
                "reference_answer": problem.reference_answer or "",
            }
        stray = next(
            (
                t
                for t in perturbed.rest()
                if t.origin == "perturbed" and t.parent_id.endswith("/reference")
            ),
            None,
        )
        if stray is not None:
            raise RuntimeError(
                f"perturbed row {stray.id!r} (of {stray.parent_id!r}) is out of reference order"
            )

    return run


def _mixture(builder: PerturbBuilder, er: float):
    """Exactly round(ER x M) of the M candidates take their perturbation (``mixture``:
    decided from two columns on disk, then the rows stream)."""

    def run(ctx: BuildContext, stats: StageStats) -> Iterable[dict]:
        candidates = ctx.outputs["perturbed_candidates"]
        return mixture(candidates, er, builder.er_seed, stats, part="perturbed")

    return run

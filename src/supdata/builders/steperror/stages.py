"""Stages of the ``steperror`` builder.

samples -> pairs -> hard_erXX; with ``decompose:`` subtasks -> sub_samples -> sub_pairs
-> sub_erXX; with ``rephrase:`` rephrased (-> rephrased_erXX); then ``mix_<name>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from supdata.builders.sample.stages import samples_stage, stage_params
from supdata.builders.steperror.decompose import decompose_problems
from supdata.builders.steperror.figures import (
    mixture_figures,
    negative_figures,
    pair_figures,
    subtask_figures,
    teacher_er_figures,
    teacher_sample_figures,
)
from supdata.builders.steperror.models import (
    NegativeRow,
    PairRow,
    RephrasedRow,
    TeacherSampleRow,
)
from supdata.builders.steperror.negatives import synthetic_negatives
from supdata.builders.steperror.pairs import (
    build_pairs,
    named_mixture,
    selection_candidates,
)
from supdata.builders.steperror.params import (
    MIX_POOLS,
    SteperrorBuilder,
    parse_part,
    teacher_config,
)
from supdata.builders.steperror.rephrase import rephrase_pairs
from supdata.core.records import Problem, Trace
from supdata.core.records.models import SampleRow, SubtaskRow
from supdata.core.runner import BuildContext, Output, Stage
from supdata.core.stats import StageStats
from supdata.ops.figures import trace_config
from supdata.ops.joins import windows
from supdata.ops.mixture import (
    MixRow,
    Replay,
    er_figures,
    er_name,
    mix_rows,
    mixture,
    select,
    sides,
)
from supdata.ops.sampling import SamplingSection
from supdata.ops.stages import (
    by_problem,
    contamination_report,
    references,
    report_facts,
    sample,
)

if TYPE_CHECKING:
    from supdata.recipe import Recipe

PAIRS = "a preference pair: chosen (correct, or the restyled reference) and rejected (wrong)"
SUBTASKS = "a self-contained subproblem of a hard problem, solution taken from its reference"
SUB_SAMPLES = "a sampled solution of a subproblem, split into steps and verified"
SUB_PAIRS = "a preference pair on a subproblem (chosen correct, rejected wrong)"
REPHRASED = "a pair with task, chosen and rejected paraphrased; answers verified unchanged"
NEGATIVES = (
    "a pair whose rejected solution is a synthetic negative: the chosen solution rewritten "
    "with a computation error or a wrong method, or (error_kind composed) composed from its "
    "subproblems' negatives (0.7-1.3x its words, answer verified wrong)"
)
MIXTURE = "a named mixture: each part's rows at its own exact outcome error rate"
TEACHER_SAMPLES = (
    "a teacher's sampled solution (same problems and prompt as the actor), split into steps, "
    "verified and, with an annotator, labelled; `teacher` names the engine"
)
TEACHER_ER = (
    "one teacher's complete solution per problem, wrong for round(ER x M) of its M problems; "
    "slots its samples cannot fill are left out and counted"
)
_POOL_WHAT = {"hard": "paired problem", "sub": "paired subproblem", "rephrased": "rephrased pair"}


def er_description(pool: str, rate: str = "XX") -> str:
    return f"one solution per {_POOL_WHAT[pool]}; exactly {rate}% of them the wrong one"


def steperror_stages(builder: SteperrorBuilder, recipe: Recipe, check: dict) -> list[Stage]:
    base = stage_params(builder, recipe, check)
    stages = [
        samples_stage(
            builder,
            base,
            annotator=builder.annotator,
            label_prompt=builder.label_prompt,
            judge=builder.judge,
            judge_prompt=builder.judge_prompt,
        )
    ]

    def pairs(ctx: BuildContext, stats: StageStats) -> list[dict]:
        refs = ctx.outputs["references"]
        return _pairs(ctx, builder, ctx.outputs["source"], refs, samples="samples", stats=stats)

    stages.append(
        Stage(
            "pairs",
            PairRow,
            ("source", "references", "samples"),
            base,
            pairs,
            description=PAIRS,
            figures=pair_figures,
        )
    )
    if builder.pools == "all":
        stages += _er_stages(builder, "hard", builder.er_grid)
    if builder.decompose is not None:
        stages += _decompose_stages(builder, base)
    if builder.pools == "matched":  # after sub_pairs, which decides the matched problems
        stages += _er_stages(builder, "hard", builder.er_grid)
    if builder.rephrase is not None:

        def rephrased(ctx: BuildContext, stats: StageStats) -> Output:
            params = builder.rephrase
            engine = ctx.engines[params.engine or builder.engine]
            report = contamination_report(ctx)

            def rows() -> Iterator[dict]:
                for chunk in windows(ctx.outputs["pairs"], ctx.recipe.runner.window):
                    yield from rephrase_pairs(
                        chunk,
                        params,
                        engine,
                        verify=ctx.recipe.verification.to_config(),
                        seed=builder.seed,
                        stats=stats,
                        screen=report.check if report else None,
                    )

            return Output(rows(), report_facts(report))

        stages.append(
            Stage(
                "rephrased",
                RephrasedRow,
                ("pairs",),
                base,
                rephrased,
                description=REPHRASED,
                figures=pair_figures,
            )
        )
        stages += _er_stages(builder, "rephrased", builder.rephrase.er_grid)
    if builder.negatives is not None:
        compose = builder.negatives.compose_from_subtasks and builder.decompose is not None

        def negatives(ctx: BuildContext, stats: StageStats) -> Iterator[dict]:
            params = builder.negatives
            return synthetic_negatives(
                ctx.outputs["pairs"],
                params,
                ctx.engines[params.engine or builder.engine],
                verify=ctx.recipe.verification.to_config(),
                seed=builder.seed,
                stats=stats,
                window=ctx.recipe.runner.window,
                subtasks=ctx.outputs["subtasks"] if compose else None,
            )

        stages.append(
            Stage(
                "negatives",
                NegativeRow,
                ("pairs", "subtasks") if compose else ("pairs",),
                base,
                negatives,
                description=NEGATIVES,
                figures=negative_figures,
            )
        )
    stages += _teacher_stages(builder, base)
    for name, parts in builder.mixtures.items():
        parsed = [parse_part(p) for p in parts]

        def mix(ctx: BuildContext, stats: StageStats, parsed=parsed) -> list[dict]:
            pools = {pool: _pool(ctx, builder, pool, stats) for pool, _ in parsed}
            return named_mixture(pools, parsed, builder.er_seed, stats)

        needs = tuple(sorted({n for pool, _ in parsed for n in _pool_needs(builder, pool)}))
        params = {"parts": parts, "seed": builder.er_seed}
        stages.append(
            Stage(
                f"mix_{name}",
                MixRow,
                needs,
                params,
                mix,
                description=MIXTURE,
                figures=mixture_figures(parts),
            )
        )
    return stages


def _labelled_samples(builder: SteperrorBuilder, params: SamplingSection, problems: str):
    """A stage's run: ``params`` samples the problems of output ``problems``, and the
    builder's annotator (if any) labels every step."""

    def run(ctx: BuildContext, stats: StageStats) -> Output:
        traces, facts = sample(
            ctx,
            params,
            ctx.outputs[problems],
            stats,
            annotator=builder.annotator,
            label_prompt=builder.label_prompt,
        )
        return Output(traces, facts)

    return run


def _teacher_stages(builder: SteperrorBuilder, base: dict) -> list[Stage]:
    """Each teacher samples the source problems like the actor (one intermediate stage
    per teacher, with its own sampling facts and resume marker), verified and labelled by
    the builder's annotator; ``teacher_samples`` publishes them all; with
    ``teacher_target_er`` each teacher's selection at that outcome ER."""
    if not builder.teachers:
        return []
    stages = []
    names = [t.engine for t in builder.teachers]
    for teacher in builder.teachers:
        run = _labelled_samples(builder, teacher.sampling(builder), "source")
        stages.append(
            Stage(f"teacher_samples_{teacher.engine}", SampleRow, ("source",), base, run, False)
        )

    def combined(ctx: BuildContext, stats: StageStats) -> Iterator[tuple[str, Trace]]:
        for name in names:
            for t in ctx.outputs[f"teacher_samples_{name}"]:
                stats.n_in += 1
                stats.n_out += 1
                yield name, replace(t, id=f"{name}/{t.id}")

    stages.append(
        Stage(
            "teacher_samples",
            TeacherSampleRow,
            tuple(f"teacher_samples_{name}" for name in names),
            base,
            combined,
            description=TEACHER_SAMPLES,
            figures=teacher_sample_figures(names),
        )
    )
    er = builder.teacher_target_er
    if er is None:
        return stages
    for name in names:

        def selected(ctx: BuildContext, stats: StageStats, name: str = name) -> Output:
            problems, window = ctx.outputs["source"], ctx.recipe.runner.window

            def candidates(tally: StageStats) -> Iterator[dict]:
                samples = (t for who, t in ctx.outputs["teacher_samples"] if who == name)
                return selection_candidates(problems, samples, builder, tally, window)

            # two passes over the stage on disk: the sides, then the rows (counted once)
            right, wrong = sides(candidates(stats))
            selection = select(right, wrong, er, builder.er_seed)
            again = candidates(StageStats(stats.name))
            rows = mix_rows(again, selection, er, stats, part=f"teacher:{name}")
            facts = {
                "teacher": name,
                "er_target": er,
                "problems": len(problems),
                "candidates": len(right),
            }
            return Output(rows, {"selection": facts})

        stages.append(
            Stage(
                teacher_config(er, name),
                MixRow,
                ("source", "teacher_samples"),
                {"er": er, "seed": builder.er_seed, "teacher": name},
                selected,
                description=TEACHER_ER,
                figures=teacher_er_figures,
            )
        )
    return stages


def _pairs(
    ctx: BuildContext,
    builder: SteperrorBuilder,
    problems: Iterable[Problem],
    refs: Iterable[Trace],
    *,
    samples: str,
    stats: StageStats,
) -> Iterator[dict]:
    engine = ctx.engines[builder.engine]
    config = ctx.recipe.verification.to_config()
    window = ctx.recipe.runner.window
    yield from build_pairs(
        problems, refs, ctx.outputs[samples], builder, engine, config, stats, window
    )


def _matched(builder: SteperrorBuilder, pool: str) -> bool:
    return builder.pools == "matched" and pool in ("hard", "rephrased")


def _pool_needs(builder: SteperrorBuilder, pool: str) -> tuple[str, ...]:
    extra = ("subtasks", "sub_pairs") if _matched(builder, pool) else ()
    return (MIX_POOLS[pool], *extra)


def _pool(
    ctx: BuildContext, builder: SteperrorBuilder, pool: str, stats: StageStats
) -> Iterable[dict]:
    """A pool's rows (a stage on disk); with ``pools: matched`` only problems that kept a
    subtask pair, a ``Replay`` filter over it (only the kept problem ids are held)."""
    rows = ctx.outputs[MIX_POOLS[pool]]
    if not _matched(builder, pool):
        return rows
    parent = {s.id: s.meta["parent_id"] for s in ctx.outputs["subtasks"]}
    kept = {parent[r["problem_id"]] for r in ctx.outputs["sub_pairs"]}
    matched = sum(r["problem_id"] in kept for r in rows)
    stats.tally(f"{pool}: problems in the matched pool", matched)
    stats.tally(f"{pool}: problems without a subtask pair (left out)", len(rows) - matched)
    return Replay(lambda: (r for r in rows if r["problem_id"] in kept))


def _er_stages(builder: SteperrorBuilder, pool: str, grid: list[float]) -> list[Stage]:
    stages = []
    for er in grid:

        def mix(ctx: BuildContext, stats: StageStats, er: float = er) -> Iterable[dict]:
            rows = _pool(ctx, builder, pool, stats)
            return mixture(rows, er, builder.er_seed, stats, part=pool)

        name = er_name(er, pool)
        stages.append(
            Stage(
                name,
                MixRow,
                _pool_needs(builder, pool),
                {"er": er, "seed": builder.er_seed},
                mix,
                description=er_description(pool, name.rpartition("_er")[2]),
                figures=er_figures,
            )
        )
    return stages


def _subtasks(
    ctx: BuildContext, builder: SteperrorBuilder, stats: StageStats, report: Any
) -> Iterator[Problem]:
    """The paired problems' subproblems, ``runner.window`` problems per engine batch:
    source, references and pairs joined from disk (all three in source order)."""
    params = builder.decompose
    for window, runs in by_problem(ctx, "references", "pairs"):
        paired = {r["problem_id"] for r in runs["pairs"]}
        verified = {t.problem_id for t in runs["references"] if t.status == "correct"}
        problems = []
        for p in (p for p in window if p.id in paired):
            if p.id in verified:
                problems.append(p)
            else:
                stats.drop("reference not verified correct", p.id)
        yield from decompose_problems(
            problems,
            params,
            ctx.engines[params.engine or builder.engine],
            solve_prompt=builder.prompt,
            verify=ctx.recipe.verification.to_config(),
            seed=builder.seed,
            stats=stats,
            screen=report.check if report else None,
        )


def _decompose_stages(builder: SteperrorBuilder, base: dict) -> list[Stage]:
    params = builder.decompose

    def subtasks(ctx: BuildContext, stats: StageStats) -> Output:
        report = contamination_report(ctx)
        return Output(_subtasks(ctx, builder, stats, report), report_facts(report))

    def sub_pairs(ctx: BuildContext, stats: StageStats) -> Iterator[dict]:
        subs = ctx.outputs["subtasks"]
        part = stats.part("sub references")
        refs = references(ctx, subs, part, "verify sub-solutions")
        yield from _pairs(ctx, builder, subs, refs, samples="sub_samples", stats=stats)
        stats.absorb(part)

    return [
        Stage(
            "subtasks",
            SubtaskRow,
            ("source", "references", "pairs"),
            base,
            subtasks,
            description=SUBTASKS,
            figures=subtask_figures,
        ),
        Stage(
            "sub_samples",
            SampleRow,
            ("subtasks",),
            base,
            _labelled_samples(builder, builder, "subtasks"),
            description=SUB_SAMPLES,
            figures=trace_config(pass_rate_plot=True),
        ),
        Stage(
            "sub_pairs",
            PairRow,
            ("subtasks", "sub_samples"),
            base,
            sub_pairs,
            description=SUB_PAIRS,
            figures=pair_figures,
        ),
        *_er_stages(builder, "sub", params.er_grid),
    ]

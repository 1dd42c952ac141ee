"""Stages of the ``sample`` and ``steperror`` builders.

samples -> pairs -> hard_erXX; with ``decompose:`` subtasks -> sub_samples -> sub_pairs
-> sub_erXX; with ``rephrase:`` rephrased (-> rephrased_erXX); then ``mix_<name>``.
"""

from __future__ import annotations

from supdata.builders.config import MIX_POOLS, SampleBuilder, SteperrorBuilder, er_name, parse_part
from supdata.plan.common import (
    contamination_report,
    engines_of,
    references,
    sample,
    save_report,
)
from supdata.recipe import Recipe
from supdata.records import Problem, Trace
from supdata.runner import BuildContext, Stage
from supdata.stages.decompose import decompose_problems
from supdata.stages.rephrase import REPHRASED_SCHEMA, rephrase_pairs
from supdata.stages.steperror import MIX_SCHEMA, PAIR_SCHEMA, build_pairs, er_mixture, named_mixture
from supdata.stats import StageStats


def sample_stages(builder: SampleBuilder, recipe: Recipe, check: dict) -> list[Stage]:
    params = {"builder": builder.model_dump(mode="json"), **engines_of(builder, recipe), **check}

    def run(ctx: BuildContext, stats: StageStats) -> list[Trace]:
        return sample(ctx, builder, ctx.outputs["source"], stats)

    return [Stage("samples", Trace, ("source",), params, run)]


def steperror_stages(builder: SteperrorBuilder, recipe: Recipe, check: dict) -> list[Stage]:
    stages = sample_stages(builder, recipe, check)
    base = stages[0].params

    def pairs(ctx: BuildContext, stats: StageStats) -> list[dict]:
        refs = ctx.outputs["references"]
        return _pairs(ctx, builder, ctx.outputs["source"], refs, samples="samples", stats=stats)

    stages.append(
        Stage("pairs", dict, ("source", "references", "samples"), base, pairs, PAIR_SCHEMA)
    )
    stages += _er_stages(builder, "hard", builder.er_grid)
    if builder.decompose is not None:
        stages += _decompose_stages(builder, base)
    if builder.rephrase is not None:

        def rephrased(ctx: BuildContext, stats: StageStats) -> list[dict]:
            params = builder.rephrase
            engine = ctx.engines[params.engine or builder.engine]
            config = ctx.recipe.verification.to_config()
            pairs = ctx.outputs["pairs"]
            report = contamination_report(ctx)
            rows = rephrase_pairs(
                pairs,
                params,
                engine,
                verify=config,
                seed=builder.seed,
                stats=stats,
                screen=report.check if report else None,
            )
            save_report(ctx, "rephrased", report)
            return rows

        stages.append(Stage("rephrased", dict, ("pairs",), base, rephrased, REPHRASED_SCHEMA))
        stages += _er_stages(builder, "rephrased", builder.rephrase.er_grid)
    for name, parts in builder.mixtures.items():
        parsed = [parse_part(p) for p in parts]

        def mix(ctx: BuildContext, stats: StageStats, parsed=parsed) -> list[dict]:
            pools = {pool: ctx.outputs[MIX_POOLS[pool]] for pool, _ in parsed}
            return named_mixture(pools, parsed, builder.er_seed, stats)

        needs = tuple(sorted({MIX_POOLS[pool] for pool, _ in parsed}))
        params = {"parts": parts, "seed": builder.er_seed}
        stages.append(Stage(f"mix_{name}", dict, needs, params, mix, MIX_SCHEMA))
    return stages


def _pairs(
    ctx: BuildContext,
    builder: SteperrorBuilder,
    problems: list[Problem],
    refs: list[Trace],
    *,
    samples: str,
    stats: StageStats,
) -> list[dict]:
    engine = ctx.engines[builder.engine]
    config = ctx.recipe.verification.to_config()
    return build_pairs(problems, refs, ctx.outputs[samples], builder, engine, config, stats)


def _er_stages(builder: SteperrorBuilder, pool: str, grid: list[float]) -> list[Stage]:
    stages = []
    for er in grid:

        def mix(ctx: BuildContext, stats: StageStats, er: float = er) -> list[dict]:
            return er_mixture(ctx.outputs[MIX_POOLS[pool]], er, builder.er_seed, stats, part=pool)

        params = {"er": er, "seed": builder.er_seed}
        stages.append(Stage(er_name(er, pool), dict, (MIX_POOLS[pool],), params, mix, MIX_SCHEMA))
    return stages


def _decompose_stages(builder: SteperrorBuilder, base: dict) -> list[Stage]:
    params = builder.decompose

    def subtasks(ctx: BuildContext, stats: StageStats) -> list[Problem]:
        verified = {t.problem_id for t in ctx.outputs["references"] if t.status == "correct"}
        hard = {row["problem_id"] for row in ctx.outputs["pairs"]}
        problems = [p for p in ctx.outputs["source"] if p.id in hard]
        for p in problems:
            if p.id not in verified:
                stats.drop("reference not verified correct", p.id)
        report = contamination_report(ctx)
        kept = decompose_problems(
            [p for p in problems if p.id in verified],
            params,
            ctx.engines[params.engine or builder.engine],
            solve_prompt=builder.prompt,
            verify=ctx.recipe.verification.to_config(),
            seed=builder.seed,
            stats=stats,
            screen=report.check if report else None,
        )
        save_report(ctx, "subtasks", report)
        return kept

    def sub_samples(ctx: BuildContext, stats: StageStats) -> list[Trace]:
        return sample(ctx, builder, ctx.outputs["subtasks"], stats, name="sub_samples")

    def sub_pairs(ctx: BuildContext, stats: StageStats) -> list[dict]:
        subs = ctx.outputs["subtasks"]
        refs = references(ctx, subs, StageStats("sub_references"), "verify sub-solutions")
        return _pairs(ctx, builder, subs, refs, samples="sub_samples", stats=stats)

    return [
        Stage("subtasks", Problem, ("source", "references", "pairs"), base, subtasks),
        Stage("sub_samples", Trace, ("subtasks",), base, sub_samples),
        Stage("sub_pairs", dict, ("subtasks", "sub_samples"), base, sub_pairs, PAIR_SCHEMA),
        *_er_stages(builder, "sub", params.er_grid),
    ]

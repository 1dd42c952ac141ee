"""Stages of the ``critique`` builder.

critique_samples (internal) -> flawed (internal: RG1/RG2/RG3 paths) -> critiques ->
critic_sft, refine_sft; critique_samples + critiques -> selfimprove_sft.
"""

from __future__ import annotations

from supdata.builders.config import CritiqueBuilder
from supdata.critique.flawed import bases, rg1, rg2, rg3
from supdata.critique.rows import (
    CRITIQUE_SCHEMA,
    SFT_SCHEMA,
    critic_sft,
    critique_rows,
    refine_sft,
    selfimprove_sft,
)
from supdata.plan.common import engines_of, sample, verify
from supdata.recipe import Recipe
from supdata.records import Trace
from supdata.runner import BuildContext, Stage
from supdata.stats import StageStats


def critique_stages(builder: CritiqueBuilder, recipe: Recipe, check: dict) -> list[Stage]:
    params = {"builder": builder.model_dump(mode="json"), **engines_of(builder, recipe), **check}

    def samples(ctx: BuildContext, stats: StageStats) -> list[Trace]:
        return sample(ctx, builder, ctx.outputs["source"], stats, name="critique_samples")

    def flawed(ctx: BuildContext, stats: StageStats) -> list[Trace]:
        problems = ctx.outputs["source"]
        drawn = ctx.outputs["critique_samples"]
        questions = {p.id: p.question for p in problems}
        answers = {p.id: p.reference_answer for p in problems}
        actor = ctx.engines[builder.engine]
        strategy = ctx.recipe.segmentation.strategy
        config = ctx.recipe.verification.to_config()
        paths = []
        if "rg1" in builder.methods:
            refs = ctx.outputs["references"]
            paths += rg1(drawn, refs, builder.rg1_correct_share, builder.seed, stats)
        starts = []
        if {"rg2", "rg3"} & set(builder.methods):
            starts = bases(problems, ctx.outputs["references"], drawn, stats)
        if "rg2" in builder.methods:
            paths += rg2(
                starts,
                questions,
                answers,
                builder,
                actor,
                strategy=strategy,
                verify=config,
                stats=stats,
            )
        if "rg3" in builder.methods:
            rewriter = ctx.engines[builder.rewriter or builder.engine]
            made = rg3(starts, questions, builder, actor, rewriter, strategy=strategy, stats=stats)
            paths += verify(ctx, made, StageStats("rg3 verify"), "verify rg3")
        stats.n_in = len(problems)
        stats.n_out = len(paths)
        for t in paths:
            stats.tally(f"method:{t.sampling['method']}")
        return paths

    def critiques(ctx: BuildContext, stats: StageStats) -> list[dict]:
        return critique_rows(
            ctx.outputs["flawed"],
            {p.id: p for p in ctx.outputs["source"]},
            builder,
            ctx.engines[builder.engine],
            ctx.engines[builder.critic],
            strategy=ctx.recipe.segmentation.strategy,
            verify=ctx.recipe.verification.to_config(),
            stats=stats,
        )

    def critic(ctx: BuildContext, stats: StageStats) -> list[dict]:
        return critic_sft(ctx.outputs["critiques"], builder.critic_prompt, stats)

    def refine(ctx: BuildContext, stats: StageStats) -> list[dict]:
        return refine_sft(ctx.outputs["critiques"], builder.refine_prompt, stats)

    def selfimprove(ctx: BuildContext, stats: StageStats) -> list[dict]:
        return selfimprove_sft(
            ctx.outputs["critique_samples"],
            {p.id: p for p in ctx.outputs["source"]},
            builder,
            ctx.engines[builder.engine],
            ctx.engines[builder.critic],
            strategy=ctx.recipe.segmentation.strategy,
            verify=ctx.recipe.verification.to_config(),
            stats=stats,
        )

    return [
        Stage("critique_samples", Trace, ("source",), params, samples, publish=False),
        Stage(
            "flawed",
            Trace,
            ("source", "references", "critique_samples"),
            params,
            flawed,
            publish=False,
        ),
        Stage("critiques", dict, ("source", "flawed"), params, critiques, CRITIQUE_SCHEMA),
        Stage("critic_sft", dict, ("critiques",), params, critic, SFT_SCHEMA),
        Stage("refine_sft", dict, ("critiques",), params, refine, SFT_SCHEMA),
        Stage(
            "selfimprove_sft",
            dict,
            ("source", "critique_samples"),
            params,
            selfimprove,
            SFT_SCHEMA,
        ),
    ]

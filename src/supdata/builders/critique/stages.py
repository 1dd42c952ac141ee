"""Stages of the ``critique`` builder.

critique_samples (internal) -> flawed (internal: RG1/RG2/RG3 paths) -> critiques ->
critic_sft, refine_sft; critique_samples + critiques -> selfimprove_sft.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supdata.builders.critique.figures import critique_figures, sft_figures
from supdata.builders.critique.flawed import bases, rg1, rg2, rg3
from supdata.builders.critique.models import CritiqueRow, SftRow
from supdata.builders.critique.params import CritiqueBuilder
from supdata.builders.critique.rows import (
    critic_sft,
    critique_rows,
    refine_sft,
    selfimprove_sft,
)
from supdata.builders.sample.stages import stage_params
from supdata.core.records import Trace
from supdata.core.records.models import SampleRow, TraceRow
from supdata.core.runner import BuildContext, Output, Stage
from supdata.core.stats import StageStats
from supdata.ops.stages import sample, verify

if TYPE_CHECKING:
    from supdata.recipe import Recipe

CRITIQUES = (
    "a flawed path with a step-level critique that passed the consistency and refinement filters"
)
CRITIC_SFT = "critic training: problem and numbered steps to the critique"
REFINE_SFT = "refinement training: problem, response and critique to a correct refinement"
SELFIMPROVE_SFT = "one critique-in-the-loop round: problem to a correct or refined solution"


def critique_stages(builder: CritiqueBuilder, recipe: Recipe, check: dict) -> list[Stage]:
    params = stage_params(builder, recipe, check)

    def samples(ctx: BuildContext, stats: StageStats) -> Output:
        return Output(*sample(ctx, builder, ctx.outputs["source"], stats))

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
            part = stats.part("rg3 verify")
            paths += verify(ctx, made, part, "verify rg3")
            stats.absorb(part)
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
        return critic_sft(ctx.outputs["critiques"], builder, stats)

    def refine(ctx: BuildContext, stats: StageStats) -> list[dict]:
        return refine_sft(ctx.outputs["critiques"], builder, stats)

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
        Stage("critique_samples", SampleRow, ("source",), params, samples, publish=False),
        Stage(
            "flawed",
            TraceRow,
            ("source", "references", "critique_samples"),
            params,
            flawed,
            publish=False,
        ),
        Stage(
            "critiques",
            CritiqueRow,
            ("source", "flawed"),
            params,
            critiques,
            description=CRITIQUES,
            figures=critique_figures,
        ),
        Stage(
            "critic_sft",
            SftRow,
            ("critiques",),
            params,
            critic,
            description=CRITIC_SFT,
            figures=sft_figures,
        ),
        Stage(
            "refine_sft",
            SftRow,
            ("critiques",),
            params,
            refine,
            description=REFINE_SFT,
            figures=sft_figures,
        ),
        Stage(
            "selfimprove_sft",
            SftRow,
            ("source", "critique_samples"),
            params,
            selfimprove,
            description=SELFIMPROVE_SFT,
            figures=sft_figures,
        ),
    ]

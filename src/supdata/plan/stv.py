"""Stages of the ``stv`` builder.

samples (rollouts) -> verdicts (internal: S informed + S uninformed feedbacks per binned
attempt) -> distill -> vil; samples -> verifier_rl.
"""

from __future__ import annotations

from supdata.builders.config import StvBuilder
from supdata.plan.common import engines_of, sample
from supdata.recipe import Recipe
from supdata.records import Trace
from supdata.runner import BuildContext, Stage
from supdata.stats import StageStats
from supdata.stv.attempts import Attempt, binned_attempts
from supdata.stv.bins import parse_bins
from supdata.stv.feedback import ROLES, feedback_rows
from supdata.stv.rows import (
    DISTILL_SCHEMA,
    VERDICT_SCHEMA,
    VERIFIER_RL_SCHEMA,
    VIL_SCHEMA,
    distill_rows,
    verifier_rl_rows,
    vil_rows,
)


def stv_stages(builder: StvBuilder, recipe: Recipe, check: dict) -> list[Stage]:
    params = {"builder": builder.model_dump(mode="json"), **engines_of(builder, recipe), **check}
    bins = parse_bins(builder.bins)

    def attempts(ctx: BuildContext, stats: StageStats | None = None) -> list[Attempt]:
        return binned_attempts(ctx.outputs["samples"], ctx.outputs["source"], bins, stats)

    def samples(ctx: BuildContext, stats: StageStats) -> list[Trace]:
        # every rollout counts toward pass@1: no solution dedup here
        return sample(ctx, builder, ctx.outputs["source"], stats, dedup=False)

    def verdicts(ctx: BuildContext, stats: StageStats) -> list[dict]:
        todo = attempts(ctx, stats)
        verifier = ctx.engines[builder.verifier]
        rows = [r for role in ROLES for r in feedback_rows(todo, builder, verifier, role)]
        stats.n_in, stats.n_out = len(todo), len(rows)
        for r in rows:
            if r["verdict_asked"]:
                stats.tally(f"{r['role']}: verdict asked after the feedback")
            if r["verdict"] is None:
                stats.tally(f"{r['role']}: no verdict")
            else:
                hit = "matches" if r["verdict"] == r["truth"] else "misses"
                stats.tally(f"{r['role']}: verdict {hit} the truth")
        return rows

    def distill(ctx: BuildContext, stats: StageStats) -> list[dict]:
        return distill_rows(ctx.outputs["verdicts"], attempts(ctx), builder, stats)

    def verifier_rl(ctx: BuildContext, stats: StageStats) -> list[dict]:
        return verifier_rl_rows(attempts(ctx), builder, stats)

    def vil(ctx: BuildContext, stats: StageStats) -> list[dict]:
        return vil_rows(ctx.outputs["distill"], attempts(ctx), builder, stats)

    return [
        Stage("samples", Trace, ("source",), params, samples),
        Stage(
            "verdicts",
            dict,
            ("source", "samples"),
            params,
            verdicts,
            VERDICT_SCHEMA,
            publish=False,
        ),
        Stage("distill", dict, ("source", "samples", "verdicts"), params, distill, DISTILL_SCHEMA),
        Stage("verifier_rl", dict, ("source", "samples"), params, verifier_rl, VERIFIER_RL_SCHEMA),
        Stage("vil", dict, ("source", "samples", "distill"), params, vil, VIL_SCHEMA),
    ]

"""Stages of the ``stv`` builder.

samples (rollouts) -> verdicts (internal: S feedbacks per binned attempt from each of the
informed teacher, the teacher told the verdict, and the uninformed student) -> distill;
samples -> verifier_rl; samples -> vil (the verifier engine's feedback) or distill -> vil
(the informed teacher's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supdata.builders.sample.stages import SAMPLES, stage_params
from supdata.builders.stv.attempts import Attempt, binned_attempts
from supdata.builders.stv.bins import parse_bins
from supdata.builders.stv.feedback import ROLES, feedback_rows
from supdata.builders.stv.figures import stv_figures, verifier_figures
from supdata.builders.stv.models import DistillRow, VerdictRow, VerifierRlRow, VilRow
from supdata.builders.stv.params import StvBuilder
from supdata.builders.stv.rows import (
    distill_rows,
    teacher_feedback,
    verifier_feedback,
    verifier_rl_rows,
    vil_rows,
)
from supdata.core.records.models import SampleRow
from supdata.core.runner import BuildContext, Output, Stage
from supdata.core.stats import StageStats
from supdata.ops.figures import trace_config
from supdata.ops.stages import sample

if TYPE_CHECKING:
    from supdata.recipe import Recipe

DISTILL = (
    "STV targets: informed-verifier feedback matching the truth, with student and teacher prompts"
)
VERIFIER_RL = "student verifier prompts with the true verdict (RL on verdict reward)"
VIL = "verifier-in-the-loop prompts: problem, attempt, a verifier's feedback; ground-truth answer"


def stv_stages(builder: StvBuilder, recipe: Recipe, check: dict) -> list[Stage]:
    params = stage_params(builder, recipe, check)
    bins = parse_bins(builder.bins)

    def attempts(ctx: BuildContext, stats: StageStats | None = None) -> list[Attempt]:
        return binned_attempts(ctx.outputs["samples"], ctx.outputs["source"], bins, stats)

    def samples(ctx: BuildContext, stats: StageStats) -> Output:
        # every rollout counts toward pass@1: no solution dedup here
        return Output(*sample(ctx, builder, ctx.outputs["source"], stats, dedup=False))

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
        todo = attempts(ctx)
        if builder.vil.feedback == "informed_teacher":
            feedback = teacher_feedback(ctx.outputs["distill"])
            return vil_rows(feedback, "informed_teacher", todo, builder, stats)
        # the student prompt: the trained verifier sees no reference. With the build's own
        # verifier as the engine these are the verdicts stage's requests, served by the cache
        engine = ctx.engines[builder.vil_engine]
        feedback = verifier_feedback(feedback_rows(todo, builder, engine, "student"), stats)
        return vil_rows(feedback, f"verifier_engine:{builder.vil_engine}", todo, builder, stats)

    return [
        Stage(
            "samples",
            SampleRow,
            ("source",),
            params,
            samples,
            description=SAMPLES,
            figures=trace_config(pass_rate_plot=True),
        ),
        Stage(
            "verdicts",
            VerdictRow,
            ("source", "samples"),
            params,
            verdicts,
            publish=False,
            figures=verifier_figures(builder),
        ),
        Stage(
            "distill",
            DistillRow,
            ("source", "samples", "verdicts"),
            params,
            distill,
            description=DISTILL,
            figures=stv_figures,
        ),
        Stage(
            "verifier_rl",
            VerifierRlRow,
            ("source", "samples"),
            params,
            verifier_rl,
            description=VERIFIER_RL,
            figures=stv_figures,
        ),
        Stage(
            "vil",
            VilRow,
            ("source", "samples", "distill")
            if builder.vil.feedback == "informed_teacher"
            else ("source", "samples"),
            params,
            vil,
            description=VIL,
            figures=stv_figures,
        ),
    ]

"""Stages of the ``stv`` builder.

samples (rollouts) -> verdicts (internal: S feedbacks per binned attempt from each of the
informed teacher, the teacher told the verdict, and the uninformed student) -> distill;
samples -> verifier_rl; samples -> vil (the verifier engine's feedback) or distill -> vil
(the informed teacher's).
"""

from __future__ import annotations

from collections.abc import Iterator
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
from supdata.ops.stages import by_problem, sample

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

    def attempts(
        ctx: BuildContext, *stages: str, stats: StageStats | None = None
    ) -> Iterator[tuple[list[Attempt], dict[str, list]]]:
        """``runner.window`` problems at a time: their binned attempts (pass rates are per
        problem) and their records of ``stages``, joined from disk."""
        for problems, runs in by_problem(ctx, "samples", *stages):
            yield binned_attempts(runs["samples"], problems, bins, stats), runs

    def samples(ctx: BuildContext, stats: StageStats) -> Output:
        # every rollout counts toward pass@1: no solution dedup here
        return Output(*sample(ctx, builder, ctx.outputs["source"], stats, dedup=False))

    def verdicts(ctx: BuildContext, stats: StageStats) -> Iterator[dict]:
        verifier = ctx.engines[builder.verifier]
        for todo, _ in attempts(ctx, stats=stats):
            rows = [r for role in ROLES for r in feedback_rows(todo, builder, verifier, role)]
            order = {a.trace.id: i for i, a in enumerate(todo)}
            rows.sort(key=lambda r: order[r["attempt_id"]])  # by problem, as the source
            stats.n_in += len(todo)
            stats.n_out += len(rows)
            for r in rows:
                if r["verdict_asked"]:
                    stats.tally(f"{r['role']}: verdict asked after the feedback")
                if r["verdict"] is None:
                    stats.tally(f"{r['role']}: no verdict")
                else:
                    hit = "matches" if r["verdict"] == r["truth"] else "misses"
                    stats.tally(f"{r['role']}: verdict {hit} the truth")
            yield from rows

    def distill(ctx: BuildContext, stats: StageStats) -> Iterator[dict]:
        for todo, runs in attempts(ctx, "verdicts"):
            yield from distill_rows(runs["verdicts"], todo, builder, stats)

    def verifier_rl(ctx: BuildContext, stats: StageStats) -> Iterator[dict]:
        for todo, _ in attempts(ctx):
            yield from verifier_rl_rows(todo, builder, stats)

    def vil(ctx: BuildContext, stats: StageStats) -> Iterator[dict]:
        if builder.vil.feedback == "informed_teacher":
            for todo, runs in attempts(ctx, "distill"):
                feedback = teacher_feedback(runs["distill"])
                yield from vil_rows(feedback, "informed_teacher", todo, builder, stats)
            return
        # the student prompt: the trained verifier sees no reference. With the build's own
        # verifier as the engine these are the verdicts stage's requests, served by the cache
        engine = ctx.engines[builder.vil_engine]
        source = f"verifier_engine:{builder.vil_engine}"
        for todo, _ in attempts(ctx):
            feedback = verifier_feedback(feedback_rows(todo, builder, engine, "student"), stats)
            yield from vil_rows(feedback, source, todo, builder, stats)

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

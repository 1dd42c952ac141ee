"""Stages of the ``perturb`` builder."""

from __future__ import annotations

from typing import TYPE_CHECKING

from supdata.builders.perturb.jobs import (
    annotate_continuations,
    meets_target,
    model_traces,
    plan_jobs,
    rule_trace,
)
from supdata.builders.perturb.params import PerturbBuilder
from supdata.builders.sample.stages import stage_params
from supdata.core.records.models import PerturbedRow
from supdata.core.runner import BuildContext, Output, Stage
from supdata.core.stats import StageStats
from supdata.ops.figures import trace_config
from supdata.ops.labels.stage import label_traces
from supdata.ops.perturb.types import MODEL_TYPES, RULE_TYPES
from supdata.ops.stages import verify

if TYPE_CHECKING:
    from supdata.recipe import Recipe

PERTURBED = (
    "a correct solution with step errors injected (rule or model), labelled per step: "
    "only erroneous steps are Wrong"
)


def perturb_stages(builder: PerturbBuilder, recipe: Recipe, check: dict) -> list[Stage]:
    samples = ("samples",) if "correct_samples" in builder.apply_to else ()
    needs = ("source", "references", *samples)
    params = stage_params(builder, recipe, check)
    return [
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


def _perturbed(builder: PerturbBuilder):
    def run(ctx: BuildContext, stats: StageStats) -> Output:
        bases = []
        if "references" in builder.apply_to:
            bases += ctx.outputs["references"]
        if "correct_samples" in builder.apply_to:
            bases += [t for t in ctx.outputs["samples"] if t.status == "correct"]
        jobs = plan_jobs(bases, builder, stats)
        problems = {p.id: p for p in ctx.outputs["source"]}
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
        for t in verify(ctx, traces, stats, "verify perturbed"):
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
            keep = {t.id for t in labelled} | {
                t.id for t in checked if t.sampling["method"] != "model"
            }
            checked = [t for t in checked if t.id in keep]
        kept = []
        for t in checked:
            if not meets_target(t, builder, stats):
                continue
            kind = t.sampling.get("rule") or t.sampling.get("error_type")
            stats.tally(f"type:{kind}")
            stats.tally(f"method:{t.sampling['method']}")
            stats.tally(f"swer target:{t.sampling['target_swer']:g}")
            kept.append(t)
        stats.n_out = len(kept)
        facts = {}
        if builder.labels:
            facts["labels"] = label_traces(
                ctx, kept, list(problems.values()), builder.labels, stats, baseline="construction"
            )
        return Output(kept, facts)

    return run

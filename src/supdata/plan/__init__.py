"""A recipe's stages, in order: source and references, then each builder's."""

from __future__ import annotations

from supdata.plan.common import references, verify
from supdata.plan.critique import critique_stages
from supdata.plan.perturb import perturb_stages
from supdata.plan.steperror import sample_stages, steperror_stages
from supdata.plan.stv import stv_stages
from supdata.recipe import Recipe
from supdata.records import Problem, Trace
from supdata.runner import BuildContext, Stage
from supdata.sources import load_problems
from supdata.stats import StageStats

BUILDER_STAGES = {
    "sample": sample_stages,
    "steperror": steperror_stages,
    "perturb": perturb_stages,
    "critique": critique_stages,
    "stv": stv_stages,
}


def plan(recipe: Recipe) -> list[Stage]:
    check = {
        "segmentation": recipe.segmentation.model_dump(mode="json"),
        "verification": recipe.verification.model_dump(mode="json", exclude={"workers"}),
    }
    stages = [
        Stage(
            "source", Problem, (), {"source": recipe.source.model_dump(mode="json")}, _run_source
        ),
        Stage("references", Trace, ("source",), check, _run_references),
    ]
    for builder in recipe.builders:
        stages += BUILDER_STAGES[builder.kind](builder, recipe, check)
    return stages


def _run_source(ctx: BuildContext, stats: StageStats) -> list[Problem]:
    problems = list(load_problems(ctx.recipe.source, stats))
    if not problems:
        raise RuntimeError(
            f"source produced no problems ({stats.n_in} rows read, dropped: "
            f"{dict(stats.dropped) or 'none'})"
        )
    return problems


def _run_references(ctx: BuildContext, stats: StageStats) -> list[Trace]:
    return references(ctx, ctx.outputs["source"], stats, "verify references")


__all__ = ["BUILDER_STAGES", "plan", "verify"]

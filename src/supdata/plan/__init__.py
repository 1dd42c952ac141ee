"""A recipe's stages, in order: source and references, then each builder's."""

from __future__ import annotations

from supdata.hygiene.screen import ProblemScreen
from supdata.plan.common import decontaminator, references, verify
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
    source = {"source": recipe.source.model_dump(mode="json")}
    if recipe.decontaminate is not None:
        source["decontaminate"] = recipe.decontaminate.fingerprint()
    if recipe.dedup is not None:
        source["dedup"] = recipe.dedup.model_dump(mode="json")
    stages = [
        Stage("source", Problem, (), source, _run_source),
        Stage("references", Trace, ("source",), check, _run_references),
    ]
    for builder in recipe.builders:
        stages += BUILDER_STAGES[builder.kind](builder, recipe, check)
    return stages


def _run_source(ctx: BuildContext, stats: StageStats) -> list[Problem]:
    """Read, normalize and filter the source; with hygiene sections, drop contaminated
    and duplicate problems here, before any generation."""
    dedup = ctx.recipe.dedup
    screen = None
    if ctx.recipe.decontaminate is not None or (dedup is not None and dedup.problems is not None):
        screen = ProblemScreen(decontaminator(ctx), dedup.problems if dedup else None)
    problems = list(load_problems(ctx.recipe.source, stats, screen))
    if screen is not None:
        ctx.extra.setdefault("source", {})["hygiene"] = screen.to_dict()
    if not problems:
        raise RuntimeError(
            f"source produced no problems ({stats.n_in} rows read, dropped: "
            f"{dict(stats.dropped) or 'none'})"
        )
    return problems


def _run_references(ctx: BuildContext, stats: StageStats) -> list[Trace]:
    return references(ctx, ctx.outputs["source"], stats, "verify references")


__all__ = ["BUILDER_STAGES", "plan", "verify"]

"""A build: plan the stages a recipe asks for, run them (resumably), publish the folder.

This is the generic loop. Everything a builder brings (its stages, row models, config
descriptions, figures, card section) comes from its spec in ``supdata.builders``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from supdata import __version__
from supdata.builders import spec_of
from supdata.core.records import Problem
from supdata.core.records.models import ProblemRow, ReferenceRow
from supdata.core.runner import BuildContext, Output, Plot, Runner, Stage
from supdata.core.stats import StageStats, spent_output_tokens
from supdata.engines.budget import Budget
from supdata.engines.cache import RequestCache
from supdata.engines.registry import BackendPool, Engines
from supdata.hygiene.screen import ProblemScreen
from supdata.hygiene.summary import hygiene_summary
from supdata.ops.figures import plot_steps, trace_config
from supdata.ops.stages import decontaminator, references
from supdata.publish.card import CITATIONS, card_header, render_card, render_section
from supdata.publish.folder import DatasetFolder, check_out
from supdata.publish.usage import build_usage
from supdata.recipe import Recipe
from supdata.sources import SourceError, input_fingerprint, load_problems
from supdata.sources.inputs import input_files
from supdata.verify import pool_session

log = logging.getLogger("supdata.build")

PROBLEMS = "a normalized source problem with its reference solution and answer"
REFERENCES = "a reference solution split into steps, verified against its answer"


def plan(recipe: Recipe) -> list[Stage]:
    """The recipe's stages, in order: source and references, then each builder's."""
    check = {
        "segmentation": recipe.segmentation.model_dump(mode="json"),
        "verification": recipe.verification.model_dump(mode="json", exclude={"workers"}),
    }
    source = {
        "source": recipe.source.model_dump(mode="json"),
        "inputs": input_fingerprint(recipe.source),  # the content read, not just the path
    }
    if recipe.decontaminate is not None:
        source["decontaminate"] = recipe.decontaminate.fingerprint()
    if recipe.dedup is not None:
        source["dedup"] = recipe.dedup.model_dump(mode="json")
    stages = [
        Stage("source", ProblemRow, (), source, _run_source, description=PROBLEMS),
        Stage(
            "references",
            ReferenceRow,
            ("source",),
            check,
            _run_references,
            description=REFERENCES,
            figures=trace_config(),
        ),
    ]
    for builder in recipe.builders:
        stages += spec_of(builder.kind).stages(builder, recipe, check)
    return stages


def _with_limit(recipe: Recipe, limit: int | None) -> Recipe:
    """The recipe with its source cut to ``limit`` problems (unchanged without one)."""
    if limit is None:
        return recipe
    return recipe.model_copy(update={"source": recipe.source.model_copy(update={"limit": limit})})


def _cluster(recipe: Recipe) -> contextlib.AbstractContextManager:
    """The build's Ray cluster (``runner: ray``), joined once for engines and verifiers."""
    if recipe.runner.kind != "ray":
        return contextlib.nullcontext()
    from supdata.engines.ray_backend import ray_session

    return ray_session(recipe.runner)


def _run_source(ctx: BuildContext, stats: StageStats) -> Output:
    """Read, normalize and filter the source; with hygiene sections, drop contaminated
    and duplicate problems here, before any generation."""
    dedup = ctx.recipe.dedup
    screen = None
    if ctx.recipe.decontaminate is not None or (dedup is not None and dedup.problems is not None):
        screen = ProblemScreen(decontaminator(ctx), dedup.problems if dedup else None)
    facts: dict[str, Any] = {}

    def problems() -> Iterator[Problem]:  # streamed into the stage's shards
        count = 0
        for problem in load_problems(ctx.recipe.source, stats, screen):
            count += 1
            yield problem
        if not count:
            files = ", ".join(str(p) for p in input_files(ctx.recipe.source))
            raise SourceError(
                f"source {files or ctx.recipe.source.kind} produced no problems "
                f"({stats.n_in} rows read, dropped: "
                f"{dict(stats.dropped) or 'none'})"
            )
        if screen is not None:
            facts["hygiene"] = screen.to_dict()

    return Output(problems(), facts)


def _run_references(ctx: BuildContext, stats: StageStats) -> Iterator:
    return references(ctx, ctx.outputs["source"], stats, "verify references")


def build(
    recipe: Recipe,
    out: str | Path,
    *,
    limit: int | None = None,
    use_cache: bool = True,
    cache_path: str | Path | None = None,
    force: bool = False,
    backends: BackendPool | None = None,
    max_output_tokens: int | None = None,
) -> dict[str, Any]:
    """Build ``recipe`` into ``out`` and return the stats written to stats.json.

    Engines start on first use, once, shared by every stage. A build that dies resumes
    from the stages it finished (markers in ``.<out>.work/``) and the request cache.
    ``out`` is checked first: supdata replaces only a folder it built (``force``
    overrides that, never for the current folder or one holding an input file).
    ``backends`` shares loaded models with other builds of the same process.
    ``max_output_tokens`` (else the recipe's ``budget``) stops the build before a
    request that could pass it (``BudgetExceeded``; nothing published, work kept).
    """
    recipe = _with_limit(recipe, limit)
    out = check_out(out, force=force, protect=tuple(input_files(recipe.source)))
    started = time.perf_counter()
    cache = RequestCache(cache_path) if use_cache and recipe.engines else None
    runner = Runner(out.parent / f".{out.name}.work", log=log.info)
    if max_output_tokens is None and recipe.budget is not None:
        max_output_tokens = recipe.budget.max_output_tokens
    budget = None
    if max_output_tokens is not None:
        budget = Budget(max_output_tokens, lambda: spent_output_tokens(runner.stats.values()))
    before = os.environ.get("SUPDATA_ENGINE_LOG")
    os.environ["SUPDATA_ENGINE_LOG"] = str(runner.work / "logs" / "engine.log")
    try:
        on_ray = recipe.runner.kind == "ray"
        with (
            _cluster(recipe),
            Engines(recipe.engines, cache, recipe.runner, pool=backends, budget=budget) as engines,
            pool_session(  # one verification pool per build, on Ray with runner.verifiers
                recipe.verification.to_config(),
                ray_actors=recipe.runner.verifiers if on_ray else 0,
            ) as verifying,
        ):
            ctx = BuildContext(recipe, engines)
            runner.run(plan(recipe), ctx)
            started_engines = engines.started()
            replica_starts = engines.replica_starts()
            verified_on_ray = verifying.on_ray
    finally:
        if before is None:
            os.environ.pop("SUPDATA_ENGINE_LOG", None)
        else:
            os.environ["SUPDATA_ENGINE_LOG"] = before
    stats = {
        "supdata_version": __version__,
        "recipe": recipe.name,
        "stages": {name: s.to_dict() for name, s in runner.stats.items()},
        "resumed_stages": runner.resumed,
        "engines_started": started_engines,
        **({"replica_starts": replica_starts} if replica_starts else {}),
        **({"verified_on_ray": verified_on_ray} if verified_on_ray else {}),
        "usage": build_usage(runner.stats.values(), recipe.cost),
        "hygiene": hygiene_summary(recipe.decontaminate, recipe.dedup, ctx.facts),
        "measured": {},
        "seconds": round(time.perf_counter() - started, 3),
    }
    publish(recipe, out, ctx, stats, force=force)
    runner.clean()
    return stats


def dry_run(recipe: Recipe, *, limit: int | None = None) -> dict[str, Any]:
    """The build's plan without a model: the source read and counted (before hygiene,
    which only removes problems), every stage with the engines it may use, and the engine
    calls known before any generation (each sampling builder's samples of the source
    problems) with an upper bound of their output tokens, priced with ``cost:``. Calls
    on generated text (labels, pairs, critiques) depend on it and are listed as such."""
    recipe = _with_limit(recipe, limit)
    counted = StageStats("source")
    problems = sum(1 for _ in load_problems(recipe.source, counted, None))
    stages = []
    for stage in plan(recipe):
        engines = sorted((stage.params.get("engines") or {}) if stage.params else {})
        stages.append({"stage": stage.name, "needs": list(stage.needs), "engines": engines})
    calls = []
    for i, builder in enumerate(recipe.builders):
        for call in builder.planned_calls(problems):
            price = recipe.cost.get(call["engine"])
            if price is not None:  # an upper bound: every sample at max_tokens
                call["max_output_cost"] = round(
                    call["max_output_tokens"] / 1e6 * price.output_per_mtok, 6
                )
            calls.append({"builder": f"builders[{i}] ({builder.kind})", **call})
    return {
        "recipe": recipe.name,
        "problems": problems,
        "source_dropped": dict(counted.dropped),
        "stages": stages,
        "known_calls": calls,
        "known_max_output_tokens": sum(c["max_output_tokens"] for c in calls),
        "budget": recipe.budget.max_output_tokens if recipe.budget else None,
    }


def config_of(stage: str) -> str:
    return "problems" if stage == "source" else stage


def publish(
    recipe: Recipe, out: Path, ctx: BuildContext, stats: dict[str, Any], *, force: bool = False
) -> None:
    """Check every row against its row model, write each config with its figures, the
    card (with each builder's section), the recipe and stats.json, in one commit."""
    by_config = {config_of(s.name): s for s in ctx.stages.values() if s.publish}
    configs = recipe.outputs.configs or list(by_config)
    with DatasetFolder(out, force=force) as folder:
        plots: list[Plot] = []
        steps: dict[str, list[int]] = {}
        stats["empty_configs"] = []
        for config in configs:
            stage = by_config[config]
            records = ctx.outputs[stage.name]
            if not records:
                stats["empty_configs"].append(config)
                continue
            folder.add_config(  # streamed from the stage's shards, one batch at a time
                config,
                records.batches(),
                recipe.outputs.split,
                shard_rows=recipe.outputs.shard_rows,
                row=stage.row,
                num_rows=len(records),
                schema=stage.row.arrow_schema(),
            )
            if stage.figures is not None:
                figures = stage.figures(config, records, ctx)
                if figures.measured is not None:
                    stats["measured"][config] = figures.measured
                stats.update(figures.stats)
                plots += figures.plots
                if figures.steps is not None:
                    steps[config] = figures.steps
        for stage in ctx.stages.values():  # intermediates with card facts (STV verdicts)
            if not stage.publish and stage.figures is not None and ctx.outputs.get(stage.name):
                figures = stage.figures(stage.name, ctx.outputs[stage.name], ctx)
                stats.update(figures.stats)
                plots += figures.plots
        if steps:
            plots.append(
                Plot(
                    "plots/steps_per_solution.png",
                    "Steps per solution",
                    lambda path: plot_steps(steps, path),
                )
            )
        for plot in plots:
            plot.draw(folder.path / plot.path)
        descriptions = {c: by_config[c].description for c in folder.configs}
        card = _card(recipe, out, ctx, stats, folder=folder, plots=plots, what=descriptions)
        folder.write_text("README.md", card)
        folder.write_yaml("recipe.yaml", recipe.model_dump(mode="json"))
        folder.write_json("stats.json", stats)
        folder.commit()


def _sections(recipe: Recipe, stats: dict[str, Any]) -> list[str]:
    """Each builder's card section, rendered with the figures of its own configs."""
    sections = []
    for builder in recipe.builders:
        spec = spec_of(builder.kind)
        if spec.card is None:
            continue
        mine = set(builder.configs())
        measured = {c: m for c, m in stats["measured"].items() if c in mine}
        text = render_section(spec.card, stats=stats, measured=measured, params=builder)
        if text.strip():
            sections.append(text.strip() + "\n")
    return sections


def _card(
    recipe: Recipe,
    out: Path,
    ctx: BuildContext,
    stats: dict[str, Any],
    *,
    folder: DatasetFolder,
    plots: list[Plot],
    what: dict[str, str],
) -> str:
    configs = [
        {"name": name, "rows": rows, "what": what[name], **folder.sizes[name]}
        for name, rows in folder.configs.items()
    ]
    papers = []
    for b in recipe.builders:
        paper = spec_of(b.kind).paper
        if paper is not None and paper not in papers:
            papers.append(paper)
    source_paper = CITATIONS.get(recipe.source.normalizer)
    models = {f["engine"]: f["model"] for f in ctx.facts.values() if "engine" in f}
    header = card_header(
        license=recipe.publish.license,
        pretty_name=recipe.name,
        configs=[{**c, "schema": folder.schemas[c["name"]]} for c in configs],
        split=recipe.outputs.split,
        source_datasets=[recipe.source.path] if recipe.source.kind == "hf" else [],
        total_rows=sum(folder.configs.values()),
    )
    return header + render_card(
        "README.md.j2",
        name=recipe.name,
        description=recipe.description or recipe.name,
        version=__version__,
        license=recipe.publish.license,
        split=recipe.outputs.split,
        configs=configs,
        total_rows=sum(folder.configs.values()),
        source={
            "kind": recipe.source.kind,
            "label": recipe.source.label,
            "normalizer": recipe.source.normalizer,
        },
        segmentation=recipe.segmentation.strategy,
        timeout_s=recipe.verification.timeout_s,
        engines={
            name: {
                "kind": e.kind,
                "model": e.model,
                "revision": e.revision,
                "fingerprint": models.get(name),
            }
            for name, e in recipe.engines.items()
        },
        generation=ctx.facts,
        stats=stats,
        plots=[{"path": p.path, "what": p.what} for p in plots],
        sections=_sections(recipe, stats),
        papers=papers,
        source_paper=source_paper,
        repo_or_path=recipe.publish.repo or str(out),
    )


__all__ = ["build", "config_of", "dry_run", "plan", "publish"]

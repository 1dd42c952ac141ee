"""A build: plan the stages a recipe asks for, run them (resumably), publish the folder."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from supdata import __version__
from supdata.annotate.labels import annotate
from supdata.builders.config import PerturbBuilder, SampleBuilder, SteperrorBuilder, er_name
from supdata.engines.cache import RequestCache
from supdata.engines.registry import Engines
from supdata.publish.card import CITATIONS, render_card
from supdata.publish.figures import (
    plot_first_errors,
    plot_pass_rates,
    plot_steps,
    plot_swer,
    trace_figures,
)
from supdata.publish.folder import DatasetFolder
from supdata.recipe import Recipe
from supdata.records import Problem, Trace
from supdata.runner import BuildContext, Runner, Stage
from supdata.sources import load_problems
from supdata.stages.perturbed import perturbed_traces
from supdata.stages.reference import reference_traces
from supdata.stages.sample import sample_traces
from supdata.stages.steperror import MIX_SCHEMA, PAIR_SCHEMA, build_pairs, er_mixture
from supdata.stages.verify import verify_traces
from supdata.stats import StageStats

log = logging.getLogger("supdata.build")

CONFIG_DESCRIPTIONS = {
    "problems": "a normalized source problem with its reference solution and answer",
    "references": "a reference solution split into steps, verified against its answer",
    "samples": "a sampled solution split into steps, verified against the reference answer",
    "perturbed": "a reference solution with step errors injected by rule, labelled per step",
    "pairs": "a preference pair: chosen (correct, or the restyled reference) and rejected (wrong)",
}


def build(
    recipe: Recipe,
    out: str | Path,
    *,
    limit: int | None = None,
    use_cache: bool = True,
    cache_path: str | Path | None = None,
) -> dict[str, Any]:
    """Build ``recipe`` into ``out`` and return the stats written to stats.json.

    Engines start on first use, once, shared by every stage. A build that dies resumes
    from the stages it finished (markers in ``.<out>.work/``) and the request cache.
    """
    if limit is not None:
        recipe = recipe.model_copy(
            update={"source": recipe.source.model_copy(update={"limit": limit})}
        )
    out = Path(out)
    started = time.perf_counter()
    cache = RequestCache(cache_path) if use_cache and recipe.engines else None
    runner = Runner(out.parent / f".{out.name}.work", log=log.info)
    with Engines(recipe.engines, cache) as engines:
        ctx = BuildContext(recipe, engines)
        runner.run(plan(recipe), ctx)
    stats = {
        "supdata_version": __version__,
        "recipe": recipe.name,
        "stages": {name: s.to_dict() for name, s in runner.stats.items()},
        "resumed_stages": runner.resumed,
        "measured": {},
        "seconds": round(time.perf_counter() - started, 3),
    }
    publish(recipe, out, ctx, stats)
    runner.clean()
    return stats


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


def _sample_stages(builder: SampleBuilder, recipe: Recipe, check: dict) -> list[Stage]:
    engines = {
        name: recipe.engines[name].model_dump(mode="json")
        for name in builder.engine_refs().values()
    }
    params = {"builder": builder.model_dump(mode="json"), "engines": engines, **check}
    return [Stage("samples", Trace, ("source",), params, _sample_stage(builder))]


def _perturb_stages(builder: PerturbBuilder, recipe: Recipe, check: dict) -> list[Stage]:
    params = {"builder": builder.model_dump(mode="json"), **check}
    return [Stage("perturbed", Trace, ("source", "references"), params, _perturb_stage(builder))]


def _perturb_stage(builder: PerturbBuilder):
    def run(ctx: BuildContext, stats: StageStats) -> list[Trace]:
        traces = perturbed_traces(ctx.outputs["references"], builder, stats)
        return _verify(ctx, traces, stats, "verify perturbed")

    return run


def _run_source(ctx: BuildContext, stats: StageStats) -> list[Problem]:
    problems = list(load_problems(ctx.recipe.source, stats))
    if not problems:
        raise RuntimeError(
            f"source produced no problems ({stats.n_in} rows read, dropped: "
            f"{dict(stats.dropped) or 'none'})"
        )
    return problems


def _verify(ctx: BuildContext, traces: list[Trace], stats: StageStats, desc: str) -> list[Trace]:
    from tqdm import tqdm

    answers = {p.id: p.reference_answer for p in ctx.outputs["source"]}
    config = ctx.recipe.verification.to_config()
    bar = tqdm(total=len(traces), desc=desc, unit="trace", disable=None)
    verified = []
    for trace in verify_traces(traces, answers, config, stats):
        verified.append(trace)
        bar.update()
    bar.close()
    return verified


def _run_references(ctx: BuildContext, stats: StageStats) -> list[Trace]:
    problems = ctx.outputs["source"]
    traces = list(reference_traces(problems, ctx.recipe.segmentation.strategy, stats))
    return _verify(ctx, traces, stats, "verify references")


def _sample_stage(builder: SampleBuilder):
    def run(ctx: BuildContext, stats: StageStats) -> list[Trace]:
        engine = ctx.engines[builder.engine]
        ctx.extra["samples"] = {
            "engine": builder.engine,
            "model": engine.fingerprint,
            "prompt": builder.prompt,
            "sampling": builder.model_dump(exclude={"kind", "engine", "prompt"}),
        }
        traces = sample_traces(
            ctx.outputs["source"], builder, engine, ctx.recipe.segmentation.strategy, stats
        )
        traces = _verify(ctx, traces, stats, "verify samples")
        annotator = getattr(builder, "annotator", None)
        if annotator is not None:
            problems = {p.id: p for p in ctx.outputs["source"]}
            annotate(traces, problems, ctx.engines[annotator], builder.label_prompt, stats)
        return traces

    return run


def _steperror_stages(builder: SteperrorBuilder, recipe: Recipe, check: dict) -> list[Stage]:
    stages = _sample_stages(builder, recipe, check)
    base = stages[0].params

    def pairs(ctx: BuildContext, stats: StageStats) -> list[dict]:
        return build_pairs(
            ctx.outputs["source"],
            ctx.outputs["references"],
            ctx.outputs["samples"],
            builder,
            ctx.engines[builder.engine],
            ctx.recipe.verification.to_config(),
            stats,
        )

    stages.append(
        Stage("pairs", dict, ("source", "references", "samples"), base, pairs, PAIR_SCHEMA)
    )
    for er in builder.er_grid:

        def mix(ctx: BuildContext, stats: StageStats, er: float = er) -> list[dict]:
            return er_mixture(ctx.outputs["pairs"], er, builder.er_seed, stats)

        params = {"er": er, "seed": builder.er_seed}
        stages.append(Stage(er_name(er), dict, ("pairs",), params, mix, MIX_SCHEMA))
    return stages


BUILDER_STAGES = {
    "sample": _sample_stages,
    "steperror": _steperror_stages,
    "perturb": _perturb_stages,
}


def publish(recipe: Recipe, out: Path, ctx: BuildContext, stats: dict[str, Any]) -> None:
    made = ["problems" if name == "source" else name for name in ctx.stages]
    configs = recipe.outputs.configs or made
    with DatasetFolder(out) as folder:
        plots: list[dict[str, str]] = []
        steps: dict[str, list[int]] = {}
        for config in configs:
            stage = ctx.stages[_stage_of(config)]
            records = ctx.outputs[stage.name]
            folder.add_config(
                config,
                stage.table(records),
                recipe.outputs.split,
                shard_rows=recipe.outputs.shard_rows,
            )
            if stage.record_type is dict:
                stats["measured"][config] = row_figures(config, records)
            if stage.record_type is Trace:
                figures = trace_figures(records)
                pass_rates = figures.pop("_pass_rates")
                relative = figures.pop("_first_error_relative", None)
                if relative:
                    name = f"plots/{config}_first_error.png"
                    plot_first_errors(relative, folder.path / name, f"{config}: first error")
                    plots.append({"path": name, "what": f"First error position ({config})"})
                steps[config] = figures.pop("_steps")
                stats["measured"][config] = figures
                swers = [t.annotation.swer for t in records if t.annotation is not None]
                swers = [x for x in swers if x is not None]
                if swers:
                    name = f"plots/{config}_swer.png"
                    plot_swer(swers, folder.path / name, f"{config}: step-wise error rate")
                    plots.append({"path": name, "what": f"Step-wise error rate ({config})"})
                if config in ("samples",) and pass_rates:
                    name = f"plots/{config}_pass_rate.png"
                    plot_pass_rates(pass_rates, folder.path / name, f"{config}: pass rate")
                    plots.append({"path": name, "what": f"Pass rate per problem ({config})"})
        if steps:
            plot_steps(steps, folder.path / "plots/steps_per_solution.png")
            plots.append({"path": "plots/steps_per_solution.png", "what": "Steps per solution"})
        folder.write_text("README.md", _card(recipe, out, ctx, stats, folder=folder, plots=plots))
        folder.write_yaml("recipe.yaml", recipe.model_dump(mode="json"))
        folder.write_json("stats.json", stats)
        folder.commit()


def row_figures(config: str, rows: list[dict]) -> dict[str, Any]:
    if config == "pairs":
        restyled = sum(1 for r in rows if r["chosen_origin"] == "restyled")
        return {"pairs": len(rows), "chosen_restyled": restyled}
    wrong = sum(1 for r in rows if not r["correct"])
    return {
        "rows": len(rows),
        "er_target": rows[0]["er_target"] if rows else None,
        "outcome_error_rate": round(wrong / len(rows), 4) if rows else None,
    }


def _description(config: str) -> str:
    if config.startswith("hard_er"):
        return f"one solution per paired problem; exactly {config[7:]}% of them the wrong one"
    return CONFIG_DESCRIPTIONS[config]


def _stage_of(config: str) -> str:
    return "source" if config == "problems" else config


def _card(
    recipe: Recipe,
    out: Path,
    ctx: BuildContext,
    stats: dict[str, Any],
    *,
    folder: DatasetFolder,
    plots: list[dict[str, str]],
) -> str:
    configs = [
        {"name": name, "rows": rows, "what": _description(name), **folder.sizes[name]}
        for name, rows in folder.configs.items()
    ]
    papers = [CITATIONS["guiding"]] if recipe.builders else []
    source_paper = CITATIONS.get(recipe.source.normalizer)
    return render_card(
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
                "fingerprint": ctx.extra.get("samples", {}).get("model")
                if ctx.extra.get("samples", {}).get("engine") == name
                else None,
            }
            for name, e in recipe.engines.items()
        },
        generation=ctx.extra,
        stats=stats,
        plots=plots,
        papers=papers,
        source_paper=source_paper,
        repo_or_path=recipe.publish.repo or str(out),
    )

"""A build: plan the stages a recipe asks for, run them (resumably), publish the folder."""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

from supdata import __version__
from supdata.builders.config import parse_part
from supdata.engines.cache import RequestCache
from supdata.engines.registry import Engines
from supdata.hygiene.summary import hygiene_summary
from supdata.plan import plan
from supdata.publish.card import CITATIONS, render_card
from supdata.publish.figures import (
    plot_accuracy_gap,
    plot_first_errors,
    plot_pass_rates,
    plot_steps,
    plot_swer,
    trace_figures,
)
from supdata.publish.folder import DatasetFolder
from supdata.recipe import Recipe
from supdata.records import Problem, Trace
from supdata.runner import BuildContext, Runner
from supdata.stv.rows import accuracy_figures
from supdata.stv.rows import config_figures as stv_config_figures

log = logging.getLogger("supdata.build")

CONFIG_DESCRIPTIONS = {
    "problems": "a normalized source problem with its reference solution and answer",
    "references": "a reference solution split into steps, verified against its answer",
    "samples": "a sampled solution split into steps, verified against the reference answer",
    "perturbed": "a correct solution with step errors injected (rule or model), labelled per step",
    "pairs": "a preference pair: chosen (correct, or the restyled reference) and rejected (wrong)",
    "subtasks": "a self-contained subproblem of a hard problem, solution taken from its reference",
    "sub_samples": "a sampled solution of a subproblem, split into steps and verified",
    "sub_pairs": "a preference pair on a subproblem (chosen correct, rejected wrong)",
    "rephrased": "a pair with task, chosen and rejected paraphrased; answers verified unchanged",
    "critiques": "a flawed path with a step-level critique that passed the consistency and "
    "refinement filters",
    "critic_sft": "critic training: problem and numbered steps to the critique",
    "refine_sft": "refinement training: problem, response and critique to a correct refinement",
    "selfimprove_sft": "one critique-in-the-loop round: problem to a correct or refined solution",
    "distill": "STV targets: informed-verifier feedback matching the truth, with student and "
    "teacher prompts",
    "verifier_rl": "student verifier prompts with the true verdict (RL on verdict reward)",
    "vil": "verifier-in-the-loop prompts: problem, attempt, feedback; ground-truth answer",
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
    with Engines(recipe.engines, cache, recipe.runner) as engines:
        ctx = BuildContext(recipe, engines)
        runner.run(plan(recipe), ctx)
    stats = {
        "supdata_version": __version__,
        "recipe": recipe.name,
        "stages": {name: s.to_dict() for name, s in runner.stats.items()},
        "resumed_stages": runner.resumed,
        "hygiene": hygiene_summary(recipe.decontaminate, recipe.dedup, ctx.extra),
        "measured": {},
        "seconds": round(time.perf_counter() - started, 3),
    }
    publish(recipe, out, ctx, stats)
    runner.clean()
    return stats


def publish(recipe: Recipe, out: Path, ctx: BuildContext, stats: dict[str, Any]) -> None:
    made = [
        "problems" if name == "source" else name
        for name, stage in ctx.stages.items()
        if stage.publish
    ]
    configs = recipe.outputs.configs or made
    with DatasetFolder(out) as folder:
        plots: list[dict[str, str]] = []
        steps: dict[str, list[int]] = {}
        stats["empty_configs"] = []
        for config in configs:
            stage = ctx.stages[_stage_of(config)]
            records = ctx.outputs[stage.name]
            if not records:
                stats["empty_configs"].append(config)
                continue
            folder.add_config(
                config,
                stage.table(records),
                recipe.outputs.split,
                shard_rows=recipe.outputs.shard_rows,
            )
            if stage.record_type is dict:
                figures = row_figures(config, records, stage.params)
                rates = figures.pop("_refine_rates", None)
                if rates:
                    name = f"plots/{config}_refine_success.png"
                    plot_pass_rates(rates, folder.path / name, f"{config}: refinement success rate")
                    plots.append({"path": name, "what": f"Refinement success rate ({config})"})
                stats["measured"][config] = figures
            if stage.record_type is Problem and config != "problems":
                stats["measured"][config] = subtask_figures(records)
            if stage.record_type is Trace:
                figures = trace_figures(records)
                steps[config] = figures.pop("_steps")
                plots += trace_plots(config, records, figures, folder.path)
                stats["measured"][config] = figures
        if ctx.outputs.get("verdicts"):
            plots.append(verifier_figures(recipe, ctx.outputs["verdicts"], stats, folder.path))
        if steps:
            plot_steps(steps, folder.path / "plots/steps_per_solution.png")
            plots.append({"path": "plots/steps_per_solution.png", "what": "Steps per solution"})
        folder.write_text("README.md", _card(recipe, out, ctx, stats, folder=folder, plots=plots))
        folder.write_yaml("recipe.yaml", recipe.model_dump(mode="json"))
        folder.write_json("stats.json", stats)
        folder.commit()


def trace_plots(
    config: str, records: list[Trace], figures: dict[str, Any], folder: Path
) -> list[dict[str, str]]:
    """A Trace config's plots: first error position, SWER, pass rate per problem."""
    plots = []
    pass_rates = figures.pop("_pass_rates")
    relative = figures.pop("_first_error_relative", None)
    if relative:
        name = f"plots/{config}_first_error.png"
        plot_first_errors(relative, folder / name, f"{config}: first error")
        plots.append({"path": name, "what": f"First error position ({config})"})
    swers = [t.annotation.swer for t in records if t.annotation is not None]
    swers = [x for x in swers if x is not None]
    if swers:
        name = f"plots/{config}_swer.png"
        plot_swer(swers, folder / name, f"{config}: step-wise error rate")
        plots.append({"path": name, "what": f"Step-wise error rate ({config})"})
    if config in ("samples", "sub_samples") and pass_rates:
        name = f"plots/{config}_pass_rate.png"
        plot_pass_rates(pass_rates, folder / name, f"{config}: pass rate")
        plots.append({"path": name, "what": f"Pass rate per problem ({config})"})
    return plots


def verifier_figures(
    recipe: Recipe, verdicts: list[dict], stats: dict[str, Any], folder: Path
) -> dict[str, str]:
    """STV: informed vs uninformed verdict accuracy into stats, and its plot."""
    stv = next(b for b in recipe.builders if b.kind == "stv")
    stats["verifier_setup"] = {
        "samples_per_attempt": stv.samples_per_attempt,
        "informed_verdict": stv.informed_verdict,
    }
    stats["verifier_accuracy"] = accuracy_figures(verdicts, list(stv.bins))
    name = "plots/verifier_accuracy.png"
    plot_accuracy_gap(stats["verifier_accuracy"], folder / name)
    return {"path": name, "what": "Verdict accuracy, informed vs uninformed"}


def row_figures(config: str, rows: list[dict], params: dict[str, Any]) -> dict[str, Any]:
    if config == "critiques":
        return critique_figures(rows)
    if config in ("distill", "verifier_rl", "vil"):
        return stv_config_figures(config, rows)
    if config.endswith("_sft"):
        return {"rows": len(rows), "sources": dict(Counter(r["source"] for r in rows))}
    if "chosen" in (rows[0] if rows else {}) or config in ("pairs", "sub_pairs", "rephrased"):
        restyled = sum(1 for r in rows if r["chosen_origin"] == "restyled")
        return {"pairs": len(rows), "chosen_restyled": restyled}
    figures = _er_figures(rows)
    if config.startswith("mix_"):
        parts = [f"{pool}@{er:g}" for pool, er in map(parse_part, params["parts"])]
        figures["parts"] = {
            part: _er_figures([r for r in rows if r["part"] == part]) for part in parts
        }
    else:
        figures["er_target"] = rows[0]["er_target"] if rows else None
    return figures


def _er_figures(rows: list[dict]) -> dict[str, Any]:
    wrong = sum(1 for r in rows if not r["correct"])
    return {"rows": len(rows), "outcome_error_rate": round(wrong / len(rows), 4) if rows else None}


def critique_figures(rows: list[dict]) -> dict[str, Any]:
    labels = [x for r in rows for x in r["labels"]]
    first = Counter(
        "none" if r["first_error_step"] < 0 else f"step {r['first_error_step'] + 1}" for r in rows
    )
    rates = [r["refine_success_rate"] for r in rows]
    return {
        "critiques": len(rows),
        "methods": dict(Counter(r["method"] for r in rows)),
        "steps_labelled": {"correct": sum(labels), "wrong": len(labels) - sum(labels)},
        "first_error_step": dict(sorted(first.items())),
        "final_verdicts": dict(Counter(r["final_verdict"] for r in rows)),
        "mean_refine_success_rate": round(sum(rates) / len(rates), 4) if rates else None,
        "_refine_rates": rates,
    }


def subtask_figures(problems: list[Problem]) -> dict[str, Any]:
    parents = {p.meta["parent_id"] for p in problems}
    rates = [p.meta["reproduced"] / p.meta["reproduce_samples"] for p in problems]
    return {
        "subproblems": len(problems),
        "parent_problems": len(parents),
        "mean_reproduce_rate": round(sum(rates) / len(rates), 4) if rates else None,
    }


_POOL_WHAT = {"hard": "paired problem", "sub": "paired subproblem", "rephrased": "rephrased pair"}


def _description(config: str) -> str:
    pool, _, rate = config.rpartition("_er")
    if pool in _POOL_WHAT and rate.isdigit():
        return f"one solution per {_POOL_WHAT[pool]}; exactly {rate}% of them the wrong one"
    if config.startswith("mix_"):
        return "a named mixture: each part's rows at its own exact outcome error rate"
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
    paper_of = {"sample": "guiding", "steperror": "guiding", "perturb": "guiding"}
    kinds = dict.fromkeys(paper_of.get(b.kind, b.kind) for b in recipe.builders)
    papers = [CITATIONS[k] for k in kinds if k in CITATIONS]
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
                "fingerprint": next(
                    (x["model"] for x in ctx.extra.values() if x.get("engine") == name), None
                ),
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

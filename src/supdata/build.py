"""The build: source -> reference traces -> verification -> a validated dataset folder.

Later builders add their stages between the reference traces and the folder.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from supdata import __version__
from supdata.engines.cache import RequestCache
from supdata.engines.registry import Engines
from supdata.publish import DatasetFolder, render_card
from supdata.recipe import Recipe
from supdata.records import Problem, Trace
from supdata.records.arrow import to_table
from supdata.sources import load_problems
from supdata.stages.reference import reference_traces
from supdata.stages.verify import verify_traces
from supdata.stats import StageStats

CONFIG_DESCRIPTIONS = {
    "problems": "a normalized source problem with its reference solution and answer",
    "references": "a reference solution split into steps, verified against its answer",
}


def build(
    recipe: Recipe,
    out: str | Path,
    *,
    limit: int | None = None,
    use_cache: bool = True,
    cache_path: str | Path | None = None,
) -> dict[str, Any]:
    """Build ``recipe`` into ``out``; return the stats that were written to stats.json.

    Engines named in the recipe start on first use, once, and are shared by every stage;
    ``use_cache=False`` neither reads nor writes the request cache.
    """
    cache = RequestCache(cache_path) if use_cache and recipe.engines else None
    with Engines(recipe.engines, cache) as engines:
        return _build(recipe, out, engines, limit=limit)


def _build(
    recipe: Recipe, out: str | Path, engines: Engines, *, limit: int | None
) -> dict[str, Any]:
    if limit is not None:
        recipe = recipe.model_copy(
            update={"source": recipe.source.model_copy(update={"limit": limit})}
        )
    started = time.perf_counter()
    source_stats = StageStats("source")
    with source_stats:
        problems = list(load_problems(recipe.source, source_stats))
    if not problems:
        raise RuntimeError(
            f"source produced no problems ({source_stats.n_in} rows read, dropped: "
            f"{dict(source_stats.dropped) or 'none'})"
        )

    segment_stats, verify_stats = StageStats("segment"), StageStats("verify")
    answers = {p.id: p.reference_answer for p in problems}
    with segment_stats:
        traces = list(reference_traces(problems, recipe.segmentation.strategy, segment_stats))
    with verify_stats:
        bar = tqdm(total=len(traces), desc="verify references", unit="trace", disable=None)
        verified: list[Trace] = []
        for trace in verify_traces(traces, answers, recipe.verification.to_config(), verify_stats):
            verified.append(trace)
            bar.update()
        bar.close()

    stats = {
        "supdata_version": __version__,
        "recipe": recipe.name,
        "stages": {s.name: s.to_dict() for s in (source_stats, segment_stats, verify_stats)},
        "measured": _measured(verified),
        "seconds": round(time.perf_counter() - started, 3),
    }
    _publish(recipe, out, problems, verified, stats)
    return stats


def _measured(traces: list[Trace]) -> dict[str, Any]:
    steps = [len(t.steps) for t in traces]
    correct = sum(1 for t in traces if t.status == "correct")
    return {
        "reference_verified_correct": f"{correct}/{len(traces)}",
        "steps_per_solution_mean": round(statistics.fmean(steps), 2) if steps else None,
        "steps_per_solution_median": statistics.median(steps) if steps else None,
    }


def _publish(
    recipe: Recipe, out: str | Path, problems: list[Problem], traces: list[Trace], stats: dict
) -> None:
    out = Path(out)
    with DatasetFolder(out) as folder:
        folder.add_config("problems", to_table(problems, Problem))
        folder.add_config("references", to_table(traces, Trace))
        configs = [
            {"name": name, "rows": rows, "what": CONFIG_DESCRIPTIONS[name], **folder.sizes[name]}
            for name, rows in folder.configs.items()
        ]
        folder.write_text(
            "README.md",
            render_card(
                "README.md.j2",
                name=recipe.name,
                description=recipe.description or recipe.name,
                version=__version__,
                configs=configs,
                total_rows=sum(folder.configs.values()),
                source={
                    "kind": recipe.source.kind,
                    "label": recipe.source.label,
                    "normalizer": recipe.source.normalizer,
                },
                segmentation=recipe.segmentation.strategy,
                timeout_s=recipe.verification.timeout_s,
                stats=stats,
                repo_or_path=str(out),
            ),
        )
        folder.write_yaml("recipe.yaml", recipe.model_dump(mode="json"))
        folder.write_json("stats.json", stats)
        folder.commit()

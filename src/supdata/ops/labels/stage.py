"""Label a stage's traces with the recipe's ``labels:`` sources (one home for every builder)."""

from __future__ import annotations

from itertools import combinations
from typing import Any

from supdata.core.records import Problem, Trace
from supdata.core.runner import BuildContext
from supdata.core.stats import StageStats
from supdata.ops.labels.agreement import agreement
from supdata.ops.labels.sources import engines_of, run_sources


def label_traces(
    ctx: BuildContext,
    traces: list[Trace],
    problems: list[Problem],
    sources: list,
    stats: StageStats,
    *,
    use: str | None = None,
    baseline: str | None = None,
) -> dict[str, Any]:
    """Give every trace one label set per source (``trace.label_sets``); ``use`` names
    the set whose hard labels become the trace's ``annotation``. Returns the card's
    facts: each set's provenance and engine cost, and how far the sets agree with each
    other and, named ``baseline``, with the labels the traces already had (construction
    labels of perturbed rows, the given labels of a source)."""
    by_id = {p.id: p for p in problems}
    pairs = [(by_id[t.problem_id], t) for t in traces if t.steps]
    engines = {name: ctx.engines[name] for name in sorted(engines_of(sources))}
    costs: dict = {}
    verify = ctx.recipe.verification.to_config()
    sets = run_sources(pairs, sources, engines, verify, stats, costs=costs)
    facts: dict[str, Any] = {"use": use, "sets": {}, "agreement": []}
    if baseline is not None:  # before ``use`` replaces the annotation
        had = [t.annotation.labels if t.annotation else [None] * len(t.steps) for _, t in pairs]
        for name in sets:
            figures = agreement(had, [x.labels for x in sets[name]])
            facts["agreement"].append({"a": baseline, "b": name, **figures})
    for i, (_, trace) in enumerate(pairs):
        trace.label_sets = [sets[name][i] for name in sets]
        chosen = sets[use][i] if use else None
        if chosen is not None and any(x is not None for x in chosen.labels):
            trace.annotation = chosen.as_annotation()
    for s in sources:
        name = s.label_name
        labelled = sum(any(x is not None for x in ls.labels) for ls in sets[name])
        entry = {"kind": s.kind, "settings": s.model_dump(exclude={"name", "kind"}),
                 "traces": len(pairs), "labelled": labelled}  # fmt: skip
        if name in costs and costs[name].rounds:
            entry["cost"] = dict(costs[name].__dict__)
        facts["sets"][name] = entry
    for a, b in combinations(list(sets), 2):
        figures = agreement([x.labels for x in sets[a]], [x.labels for x in sets[b]])
        facts["agreement"].append({"a": a, "b": b, **figures})
    return facts

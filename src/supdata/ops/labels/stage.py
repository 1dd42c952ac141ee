"""Label a stage's traces with the recipe's ``labels:`` sources (one home for every builder)."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations
from typing import Any

from supdata.core.records import Problem, Trace
from supdata.core.runner import BuildContext
from supdata.core.stats import StageStats
from supdata.ops.labels.agreement import Agreement
from supdata.ops.labels.rollouts import RolloutCost
from supdata.ops.labels.sources import engines_of, run_sources


class Labeller:
    """The recipe's ``labels:`` sources over a stage, window by window: ``label`` gives
    each window's traces their label sets and keeps ``facts["labels"]`` (the stage's
    card facts, read once its rows are down) up to date over the whole stage, from
    counters (agreement, kappa, engine cost); an empty stage has its zero figures."""

    def __init__(
        self,
        ctx: BuildContext,
        sources: list,
        stats: StageStats,
        facts: dict[str, Any],
        *,
        use: str | None = None,
        baseline: str | None = None,
    ) -> None:
        self.ctx, self.sources, self.stats, self.into = ctx, sources, stats, facts
        self.use, self.baseline = use, baseline
        self.names = [s.label_name for s in sources]
        self.traces = 0
        self.labelled = dict.fromkeys(self.names, 0)
        self.costs = {name: RolloutCost() for name in self.names}
        self.with_baseline = {name: Agreement() for name in self.names}
        self.between = {pair: Agreement() for pair in combinations(self.names, 2)}
        facts["labels"] = self.facts()

    def label(self, traces: Iterable[Trace], problems: Iterable[Problem]) -> None:
        """Label one window's traces (``problems``: at least theirs)."""
        by_id = {p.id: p for p in problems}
        pairs = [(by_id[t.problem_id], t) for t in traces if t.steps]
        ctx = self.ctx
        engines = {name: ctx.engines[name] for name in sorted(engines_of(self.sources))}
        costs: dict[str, RolloutCost] = {}
        verify = ctx.recipe.verification.to_config()
        sets = run_sources(pairs, self.sources, engines, verify, self.stats, costs=costs)
        self.traces += len(pairs)
        if self.baseline is not None:  # before ``use`` replaces the annotation
            had = [t.annotation.labels if t.annotation else [None] * len(t.steps) for _, t in pairs]
            for name in sets:
                self.with_baseline[name].add(had, [x.labels for x in sets[name]])
        for i, (_, trace) in enumerate(pairs):
            trace.label_sets = [sets[name][i] for name in sets]
            chosen = sets[self.use][i] if self.use else None
            if chosen is not None and any(x is not None for x in chosen.labels):
                trace.annotation = chosen.as_annotation()
        for name in self.names:
            self.labelled[name] += sum(any(x is not None for x in ls.labels) for ls in sets[name])
            if name in costs:
                self.costs[name] += costs[name]
        for (a, b), acc in self.between.items():
            acc.add([x.labels for x in sets[a]], [x.labels for x in sets[b]])
        self.into["labels"] = self.facts()

    def facts(self) -> dict[str, Any]:
        """Each set's provenance and engine cost, and how far the sets agree with each
        other and, named ``baseline``, with the labels the traces already had
        (construction labels of perturbed rows, the given labels of a source)."""
        facts: dict[str, Any] = {"use": self.use, "sets": {}, "agreement": []}
        if self.baseline is not None:
            for name, acc in self.with_baseline.items():
                facts["agreement"].append({"a": self.baseline, "b": name, **acc.result()})
        for s in self.sources:
            name = s.label_name
            entry = {"kind": s.kind, "settings": s.model_dump(exclude={"name", "kind"}),
                     "traces": self.traces, "labelled": self.labelled[name]}  # fmt: skip
            if self.costs[name].rounds:
                entry["cost"] = dict(self.costs[name].__dict__)
            facts["sets"][name] = entry
        for (a, b), acc in self.between.items():
            facts["agreement"].append({"a": a, "b": b, **acc.result()})
        return facts

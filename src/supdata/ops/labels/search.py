"""Binary search for the first error (OmegaPRM): O(log n) prefixes instead of n.

A prefix's Monte-Carlo value comes from k rollouts. Values are taken as monotone: once
a prefix cannot reach the answer (value 0) no longer one can. A solution whose own final
answer is right has no first error and costs no rollout (OmegaPRM searches wrong
solutions only); for a wrong one the search keeps [lo, hi] with value(hi) = 0 and probes
the middle: value > 0 moves lo right of it, value 0 moves hi to it. Each round submits
one probe for every solution still searching, so the engine batches across solutions.
Steps before the found error are labelled right, the error wrong, the steps after it
unlabelled. A probe with no judgeable rollout stops that solution's search: it is left
unlabelled and counted.
"""

from __future__ import annotations

from supdata.core.records import Problem, Trace
from supdata.core.records.labels import LabelSet, labels_from_first_error
from supdata.core.stats import StageStats
from supdata.engines import Engine
from supdata.ops.labels.mc import own_value
from supdata.ops.labels.rollouts import RolloutCost, RolloutSettings, own_status, run_probes
from supdata.verify import VerifyConfig


def binary_search_labels(
    pairs: list[tuple[Problem, Trace]],
    engine: Engine,
    settings: RolloutSettings,
    verify: VerifyConfig,
    stats: StageStats,
    *,
    cost: RolloutCost | None = None,
) -> list[LabelSet]:
    cost = cost if cost is not None else RolloutCost()
    provenance = settings.provenance(engine)
    n_steps = [len(t.steps) for _, t in pairs]
    soft: list[list[float | None]] = [[None] * n for n in n_steps]
    result: list[LabelSet | None] = [None] * len(pairs)
    bounds: dict[int, list[int]] = {}  # solution index -> [lo, hi], value(hi) == 0
    for i, status in enumerate(own_status(pairs, verify)):
        value = own_value(status)
        soft[i][-1] = value
        if value is None:
            stats.tally(f"unlabelled: own answer {status}")
            result[i] = LabelSet("binary_search", [None] * n_steps[i], soft[i], provenance)
        elif value > 0:
            stats.tally("right final answer: no first error")
            result[i] = LabelSet("binary_search", [True] * n_steps[i], soft[i], provenance)
        else:
            bounds[i] = [0, n_steps[i] - 1]
    round_ = 0
    while bounds:
        round_ += 1
        todo = [i for i, (lo, hi) in bounds.items() if lo < hi]
        for i in [i for i, (lo, hi) in bounds.items() if lo >= hi]:
            first = bounds.pop(i)[0]
            labels = labels_from_first_error(n_steps[i], first)
            result[i] = LabelSet("binary_search", labels, soft[i], provenance)
            stats.tally("first error found")
        if not todo:
            break
        mids = {i: (bounds[i][0] + bounds[i][1]) // 2 for i in todo}
        probes = [(*pairs[i], mids[i]) for i in todo]
        desc = f"binary search round {round_} ({engine.name})"
        values = run_probes(probes, engine, settings, verify, cost=cost, stats=stats, desc=desc)
        for i, v in zip(todo, values, strict=True):
            soft[i][mids[i]] = v.value
            if v.value is None:
                bounds.pop(i)
                stats.tally("unlabelled: a probe had no judgeable rollout")
                result[i] = LabelSet("binary_search", [None] * n_steps[i], soft[i], provenance)
            elif v.value > 0:
                bounds[i][0] = mids[i] + 1
            else:
                bounds[i][1] = mids[i]
    return [r for r in result if r is not None]

"""Monte-Carlo step labels (Math-Shepherd): N rollouts from every step prefix.

The hard label of step k says whether some rollout from the prefix ending at step k
reaches the reference answer (Math-Shepherd's "hard estimation"); the soft label is the
share that do ("soft estimation"). The last step needs no rollout: its prefix is the
whole solution, so its value is the solution's own verdict. Unlike distilabel's version,
answers are compared by the verifier (math-verify), the last step is labelled, and a
prefix whose rollouts all end without a judgeable answer is left unlabelled.
"""

from __future__ import annotations

from supdata.core.records import Problem, Trace
from supdata.core.records.labels import LabelSet
from supdata.core.stats import StageStats
from supdata.engines import Engine
from supdata.ops.labels.rollouts import (
    RolloutCost,
    RolloutSettings,
    own_status,
    run_probes,
)
from supdata.verify import VerifyConfig


def own_value(status: str) -> float | None:
    """The last prefix's value: 1 for a right final answer, 0 for a wrong one, None when
    the solution's own answer cannot be judged."""
    return {"correct": 1.0, "incorrect": 0.0}.get(status)


def mc_labels(
    pairs: list[tuple[Problem, Trace]],
    engine: Engine,
    settings: RolloutSettings,
    verify: VerifyConfig,
    stats: StageStats,
    *,
    cost: RolloutCost | None = None,
) -> list[LabelSet]:
    """One label set per (problem, trace); all prefixes' rollouts in one submission."""
    cost = cost if cost is not None else RolloutCost()
    probes = [(p, t, k) for p, t in pairs for k in range(len(t.steps) - 1)]
    desc = f"mc rollouts ({engine.name})"
    values = iter(run_probes(probes, engine, settings, verify, cost=cost, stats=stats, desc=desc))
    provenance = settings.provenance(engine)
    out = []
    for (_, t), status in zip(pairs, own_status(pairs, verify), strict=True):
        soft = [next(values).value for _ in range(len(t.steps) - 1)]
        soft.append(own_value(status))
        labels = [None if v is None else v > 0 for v in soft]
        stats.tally(
            f"steps unlabelled: {labels.count(None)}"
            if None in labels
            else "solutions fully labelled"
        )
        out.append(LabelSet("mc", labels, soft, provenance))
    return out

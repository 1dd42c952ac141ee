"""Rollouts grouped per problem: pass rate, bin, and the attempts the verifiers judge."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from supdata.builders.stv.bins import Bin, bin_of
from supdata.core.records import Problem, Trace
from supdata.core.stats import StageStats


@dataclass(frozen=True)
class Attempt:
    trace: Trace
    problem: Problem
    truth: bool  # math-verify: the attempt's final answer is right
    bin: str
    pass_rate: float


def pass_rates(samples: list[Trace]) -> dict[str, float]:
    """pass@1 per problem over its judged rollouts (timeouts and the like do not count)."""
    judged: dict[str, list[bool]] = defaultdict(list)
    for t in samples:
        if t.correct is not None:
            judged[t.problem_id].append(t.correct)
    return {pid: sum(v) / len(v) for pid, v in judged.items()}


def binned_attempts(
    samples: list[Trace],
    problems: list[Problem],
    bins: list[Bin],
    stats: StageStats | None = None,
) -> list[Attempt]:
    """Every judged rollout of every problem whose pass rate falls in a bin."""
    rates = pass_rates(samples)
    by_id = {p.id: p for p in problems}
    where = {pid: bin_of(rate, bins) for pid, rate in rates.items()}
    if stats is not None:
        for pid in by_id:
            if pid not in rates:
                stats.tally("problems: no judged rollout")
            else:
                stats.tally(f"problems in bin: {where[pid] or 'none'}")
    out = []
    for t in samples:
        name = where.get(t.problem_id)
        if name is None or t.correct is None:
            continue
        out.append(Attempt(t, by_id[t.problem_id], t.correct, name, rates[t.problem_id]))
    return out

"""Turn each problem's reference solution into a segmented trace."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from supdata.core.records import Problem, Trace
from supdata.core.stats import StageStats
from supdata.ops.steps import segment


def reference_traces(
    problems: Iterable[Problem], strategy: str, stats: StageStats
) -> Iterator[Trace]:
    for problem in problems:
        stats.n_in += 1
        if not problem.reference_solution.strip():
            stats.drop("no reference solution", problem.id)
            continue
        stats.n_out += 1
        yield Trace(
            id=f"{problem.id}/reference",
            problem_id=problem.id,
            text=problem.reference_solution,
            steps=segment(problem.reference_solution, strategy),
            origin="reference",
        )

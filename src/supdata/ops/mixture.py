"""Outcome-error-rate mixtures: exactly round(ER x M) of M problems take their wrong
solution. One selection rule, shared by every builder that mixes (steperror's pools of
sampled pairs, perturb's references against their perturbations).

The selection needs only which side each candidate has (two booleans per problem), so a
mixture over a million problems decides from two bit columns (read with a polars scan)
and then streams its rows; ``er_mixture`` is the same rule over candidates in memory.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field

from supdata.core.rows import Row, Text
from supdata.core.stats import StageStats


class MixRow(Row):
    """One solution per problem of a pool; exactly round(ER x M) of the M rows take the
    wrong (rejected) solution."""

    id: Text
    problem_id: Text
    prompt: Text
    completion: Text
    correct: bool
    taken: Literal["chosen", "rejected"]
    er_target: Annotated[float, Field(ge=0, le=1)]
    reference_answer: str
    part: Annotated[
        str,
        Field(
            min_length=1,
            description="the pool (and for named mixtures the POOL@ER) the row came from",
        ),
    ]


class CandidateRow(Row):
    """A problem's right and wrong solution before a mixture takes one (either may be
    missing); an intermediate, never published."""

    id: Text
    problem_id: Text
    prompt: Text
    chosen: str | None
    rejected: str | None
    reference_answer: str


def er_name(er: float, pool: str = "hard") -> str:
    """The config of pool ``pool`` at outcome error rate ``er``: ``hard_er30``."""
    return f"{pool}_er{round(er * 100):02d}"


def check_er_grid(grid: list[float], pool: str) -> list[float]:
    """Rates in [0, 1] that name distinct configs (a recipe validator)."""
    bad = [g for g in grid if not 0 <= g <= 1]
    if bad:
        raise ValueError(f"outcome error rates must be in [0, 1]; got {bad}")
    names = [er_name(g, pool) for g in grid]
    if len(set(names)) != len(names):
        raise ValueError(f"two rates name the same config: {names}")
    return grid


def take_count(er: float, m: int) -> int:
    """round(ER x M), halves up (Python's round() would go to even)."""
    return int(er * m + 0.5)


@dataclass(frozen=True)
class Selection:
    """Which candidates take their wrong solution, and which are left out (a side the
    target needs is missing): indices into the candidates, in their order."""

    wrong: frozenset[int]
    empty: frozenset[int]
    short: str  # the side the left-out problems lacked: "right" or "wrong"


def select(has_right: Sequence[bool], has_wrong: Sequence[bool], er: float, seed: int) -> Selection:
    """Exactly round(ER x M) of the M candidates take the wrong solution.

    A candidate may lack a side (a problem with only right or only wrong solutions).
    Those take the side they have; when that leaves too few wrong (or right) solutions
    for the target, the slots that cannot be filled stay empty: their problems are left
    out, never filled from the other side. Complete candidates always hit the target."""
    m = len(has_right)
    k = take_count(er, m)
    rng = random.Random(f"{seed}:{er:.6f}")
    only_wrong = [i for i in range(m) if not has_right[i]]
    only_right = [i for i in range(m) if not has_wrong[i]]
    both = [i for i in range(m) if has_right[i] and has_wrong[i]]
    if len(only_wrong) > k:  # too few right solutions: some wrong-only problems go
        empty = set(rng.sample(only_wrong, len(only_wrong) - k))
        return Selection(frozenset(set(only_wrong) - empty), frozenset(empty), "right")
    picked = rng.sample(both, min(k - len(only_wrong), len(both)))
    wrong = {*only_wrong, *picked}
    missing = k - len(wrong)
    empty = set(rng.sample(only_right, missing)) if missing else set()
    return Selection(frozenset(wrong), frozenset(empty), "wrong")


def mix_rows(
    candidates: Iterable[dict[str, Any]],
    selection: Selection,
    er: float,
    stats: StageStats,
    *,
    part: str,
) -> Iterator[dict[str, Any]]:
    """The mixture's rows, streamed in candidate order; counts taken and left-out rows."""
    m = 0
    for i, pair in enumerate(candidates):
        m += 1
        if i in selection.empty:
            stats.drop(f"{part}: no complete {selection.short} sample for its slot", pair["id"])
            continue
        wrong = i in selection.wrong
        yield {
            "id": pair["id"],
            "problem_id": pair["problem_id"],
            "prompt": pair["prompt"],
            "completion": pair["rejected"] if wrong else pair["chosen"],
            "correct": not wrong,
            "taken": "rejected" if wrong else "chosen",
            "er_target": er,
            "reference_answer": pair["reference_answer"],
            "part": part,
        }
    stats.n_in += m
    stats.n_out += m - len(selection.empty)
    stats.tally(f"{part}: rejected taken", len(selection.wrong))
    stats.tally(f"{part}: chosen taken", m - len(selection.wrong) - len(selection.empty))


def er_mixture(
    pairs: list[dict], er: float, seed: int, stats: StageStats, *, part: str = "hard"
) -> list[dict]:
    """``select`` and ``mix_rows`` over candidates in memory (``chosen``/``rejected``
    None where a side is missing)."""
    chosen = [p["chosen"] is not None for p in pairs]
    rejected = [p["rejected"] is not None for p in pairs]
    return list(mix_rows(pairs, select(chosen, rejected, er, seed), er, stats, part=part))


def sides(candidates: Iterable[dict[str, Any]]) -> tuple[list[bool], list[bool]]:
    """Which candidates have a right and which a wrong solution: all ``select`` needs,
    read in one pass."""
    right, wrong = [], []
    for c in candidates:
        right.append(c["chosen"] is not None)
        wrong.append(c["rejected"] is not None)
    return right, wrong


class Replay:
    """Candidates that can be read again, each time from the start (a filter over a stage
    on disk): a mixture reads them twice, once for the sides and once for the rows."""

    def __init__(self, make: Callable[[], Iterable[dict[str, Any]]]) -> None:
        self._make = make

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._make())


def mixture(
    candidates: Iterable[dict[str, Any]], er: float, seed: int, stats: StageStats, *, part: str
) -> Iterable[dict[str, Any]]:
    """``er_mixture`` without holding the candidates: over a stage on disk the selection
    reads the two side columns with a polars scan, over a ``Replay`` one pass of two
    booleans per candidate; then the rows stream in candidate order. Anything else is
    read into memory."""
    from supdata.core.store import StageData

    if isinstance(candidates, StageData):
        import polars as pl

        columns = (
            candidates.scan()
            .select(pl.col("chosen").is_not_null(), pl.col("rejected").is_not_null())
            .collect()
        )
        right, wrong = columns["chosen"].to_list(), columns["rejected"].to_list()
    elif isinstance(candidates, Replay):
        right, wrong = sides(candidates)
    else:
        return er_mixture(list(candidates), er, seed, stats, part=part)
    return mix_rows(candidates, select(right, wrong, er, seed), er, stats, part=part)


def er_counts(rows: Iterable[dict[str, Any]]) -> tuple[int, int, float | None]:
    """(rows, wrong rows, ER target) of a mixture: from the parquet columns alone when
    the rows are a stage on disk, else one pass."""
    from supdata.core.store import StageData

    if isinstance(rows, StageData):
        import polars as pl

        df = (
            rows.scan()
            .select(
                pl.len().alias("n"),
                pl.col("correct").not_().sum().alias("wrong"),
                pl.col("er_target").first().alias("er"),
            )
            .collect()
        )
        return int(df["n"][0]), int(df["wrong"][0] or 0), df["er"][0]
    n = wrong = 0
    er = None
    for r in rows:
        n += 1
        wrong += not r["correct"]
        er = r["er_target"] if er is None else er
    return n, wrong, er


def er_figures(config: str, rows: Iterable[dict[str, Any]], ctx: Any) -> Any:
    """A mixture's measured outcome error rate beside its target."""
    from supdata.core.runner import Figures

    n, wrong, er = er_counts(rows)
    return Figures(
        measured={
            "rows": n,
            "outcome_error_rate": round(wrong / n, 4) if n else None,
            "er_target": er,
        }
    )

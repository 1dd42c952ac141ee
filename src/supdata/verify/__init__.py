"""Answer verification: extract the final answer, compare with math-verify, never hang."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from supdata.verify.compare import Judgement, judge
from supdata.verify.extract import Extracted, extract_answer, last_boxed

__all__ = [
    "Extracted",
    "Judgement",
    "VerifyConfig",
    "extract_answer",
    "judge",
    "last_boxed",
    "summarize",
    "verify_many",
]


@dataclass(frozen=True, slots=True)
class VerifyConfig:
    """How predictions are judged.

    workers: verification processes (0 = in this process, with math-verify's own soft
        timeouts only; no hard kill).
    timeout_s: hard wall-clock limit per item; a worker past it is killed and the item
        recorded as ``timeout``.
    last_number_fallback: when no boxed / ``####`` / "the answer is" answer is found, take
        the last number in the text.
    """

    workers: int = max(1, min(4, os.cpu_count() or 1))
    timeout_s: float = 10.0
    last_number_fallback: bool = True
    chunk_size: int = 8

    @property
    def soft_timeout_s(self) -> int:
        # Three math-verify calls per item (gold, prediction, compare) share the budget.
        return max(1, int(self.timeout_s / 3))


def verify_many(
    pairs: Iterable[tuple[str, str | None]], config: VerifyConfig = VerifyConfig()
) -> Iterator[Judgement]:
    """Judge (prediction, reference answer) pairs, yielding one Judgement each, in order."""
    from supdata.verify.worker import judge_item, timed_out

    args = ((pred, ref, config.last_number_fallback, config.soft_timeout_s) for pred, ref in pairs)
    if config.workers == 0:
        for a in args:
            yield judge_item(*a)
        return
    from supdata.verify.pool import HardTimeoutPool

    with HardTimeoutPool(
        judge_item,
        timed_out,
        workers=config.workers,
        timeout_s=config.timeout_s,
        chunk_size=config.chunk_size,
        preload=["supdata.verify.worker"],
    ) as pool:
        yield from pool.map(args)


def summarize(judgements: Iterable[Judgement]) -> dict[str, int]:
    """Count judgements per status (all five statuses present, zeros included)."""
    counts = Counter(
        {s: 0 for s in ("correct", "incorrect", "no_answer", "bad_reference", "timeout")}
    )
    counts.update(j.status for j in judgements)
    return dict(counts)

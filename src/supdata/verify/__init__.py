"""Answer verification: extract the final answer, compare with math-verify, never hang.

Two verbs: ``judge`` one (prediction, reference) pair, ``verify_many`` many (in worker
processes with a hard per-item deadline). See docs/verification.md for the rules and
policies.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from supdata.verify.compare import Judgement, judge
from supdata.verify.config import VerifyConfig
from supdata.verify.extract import RULES, Extracted, extract_answer, last_boxed

__all__ = [
    "RULES",
    "Extracted",
    "Judgement",
    "VerifyConfig",
    "extract_answer",
    "judge",
    "last_boxed",
    "summarize",
    "verify_many",
]


_DEFAULT = VerifyConfig()


def verify_many(
    pairs: Iterable[tuple[str, str | None]], config: VerifyConfig = _DEFAULT
) -> Iterator[Judgement]:
    """Judge (prediction, reference answer) pairs, yielding one Judgement each, in order."""
    from supdata.verify.worker import judge_item, timed_out

    args = ((pred, ref, config) for pred, ref in pairs)
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

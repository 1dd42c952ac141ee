"""Judge each trace's final answer against its problem's reference answer."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping

from supdata.core.records import Trace
from supdata.core.stats import StageStats
from supdata.verify import VerifyConfig, verify_many


def verify_traces(
    traces: Iterable[Trace],
    answers: Mapping[str, str | None],
    config: VerifyConfig,
    stats: StageStats,
) -> Iterator[Trace]:
    """Set ``status`` and ``final_answer`` on every trace; all traces pass through, and
    ``stats`` tallies their statuses. Streams: only the traces the verifier pool holds
    in flight are buffered here."""
    pending: deque[Trace] = deque()

    def pairs() -> Iterator[tuple[str, str | None]]:
        for trace in traces:
            pending.append(trace)
            yield trace.text, answers.get(trace.problem_id)

    for judgement in verify_many(pairs(), config):
        trace = pending.popleft()
        trace.status = judgement.status
        trace.final_answer = judgement.answer
        trace.extraction = judgement.extraction
        stats.tally(f"status:{judgement.status}")
        yield trace

"""Judge each trace's final answer against its problem's reference answer."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping

from supdata.core.records import Problem, Trace
from supdata.core.stats import StageStats
from supdata.verify import VerifyConfig, verify_many


class InFlightAnswers(dict):
    """The reference answers ``verify_traces`` looks up, held only while a trace of their
    problem is on its way through the verifier pool: a streaming stage holds what is in
    flight, never an answer per problem of the stage."""

    def __init__(self) -> None:
        super().__init__()
        self._held: Counter[str] = Counter()

    def hold(self, problem: Problem) -> None:
        self[problem.id] = problem.reference_answer
        self._held[problem.id] += 1

    def release(self, problem_id: str) -> None:
        self._held[problem_id] -= 1
        if not self._held[problem_id]:
            del self._held[problem_id], self[problem_id]


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

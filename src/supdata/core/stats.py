"""Per-stage counters: how many records went in, came out, and were dropped, by reason;
and what each engine spent for the stage (``usage``), charged by the engines themselves
to the stage that is running (``charge``)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

_RUNNING: ContextVar[StageStats | None] = ContextVar("supdata_running_stage", default=None)
# Engine calls charge a stage from several threads (a flow build), while the budget sums it
_USAGE = threading.Lock()


@dataclass
class StageStats:
    name: str
    n_in: int = 0
    n_out: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)  # first item dropped per reason
    counts: Counter[str] = field(default_factory=Counter)  # tallies that are not drops
    seconds: float = 0.0
    # per engine: requests, samples, generated, cached, prompt_tokens, output_tokens,
    # too_long (prompts that did not fit), seconds
    usage: dict[str, Counter[str]] = field(default_factory=dict)
    _started: float | None = field(default=None, repr=False)
    _token: Any = field(default=None, repr=False)

    def drop(self, reason: str, item: str = "") -> None:
        self.dropped[reason] += 1
        if item and reason not in self.examples:
            self.examples[reason] = item

    def tally(self, key: str, n: int = 1) -> None:
        self.counts[key] += n

    def part(self, prefix: str) -> StageStats:
        """Counters for a sub-step of this stage (verifying sub-references, say), folded
        into this stage's ``counts`` as ``<prefix>: ...`` by ``absorb``."""
        return StageStats(f"{self.name}/{prefix}")

    def absorb(self, part: StageStats) -> None:
        prefix = part.name.rsplit("/", 1)[-1]
        self.tally(f"{prefix}: in", part.n_in)
        self.tally(f"{prefix}: out", part.n_out)
        for reason, n in part.dropped.items():
            self.tally(f"{prefix}: dropped: {reason}", n)
        for key, n in part.counts.items():
            self.tally(f"{prefix}: {key}", n)

    def merge(self, other: StageStats) -> None:
        """Add the counters of ``other``, a ``step`` of this stage that ran in a thread of
        its own (``BuildContext.together``); drop examples already here stay. Its usage
        is not added: it charged this stage's as it went."""
        assert other.usage is self.usage, "merge takes a step of this stage (StageStats.step)"
        self.n_in += other.n_in
        self.n_out += other.n_out
        self.dropped.update(other.dropped)
        for reason, item in other.examples.items():
            self.examples.setdefault(reason, item)
        self.counts.update(other.counts)

    def step(self) -> StageStats:
        """Counters for a step of this stage run in a thread of its own, merged back by
        ``merge``; its engine calls charge this stage at once (``usage`` shared), so a
        budget sees what the step spent while the step still runs."""
        part = StageStats(self.name)
        part.usage = self.usage
        return part

    def _usage(self) -> dict[str, dict[str, Any]]:
        with _USAGE:
            return {
                engine: {k: round(v, 3) if isinstance(v, float) else v for k, v in u.items()}
                for engine, u in sorted(self.usage.items())
            }

    def __enter__(self) -> StageStats:
        self._started = time.perf_counter()
        self._token = _RUNNING.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _RUNNING.reset(self._token)
            self._token = None
        if self._started is not None:
            self.seconds += time.perf_counter() - self._started
            self._started = None

    def output_tokens(self) -> int:
        with _USAGE:
            return sum(int(u["output_tokens"]) for u in self.usage.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "in": self.n_in,
            "out": self.n_out,
            "dropped": dict(sorted(self.dropped.items())),
            "dropped_examples": dict(sorted(self.examples.items())),
            "counts": dict(sorted(self.counts.items())),
            "seconds": round(self.seconds, 3),
            "usage": self._usage(),
        }


def running_stage() -> StageStats | None:
    """The stage running in this thread (None outside a build)."""
    return _RUNNING.get()


def charge(engine: str, counts: Mapping[str, float]) -> None:
    """Add one engine call's counters to the stage running now (none outside a build)."""
    stage = _RUNNING.get()
    if stage is not None:
        with _USAGE:
            stage.usage.setdefault(engine, Counter()).update(counts)


def spent_output_tokens(stages: Iterable[StageStats]) -> int:
    return sum(s.output_tokens() for s in stages)

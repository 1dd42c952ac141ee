"""The engine front door: request cache and progress in front of any backend.

A backend only needs ``stream(requests)``, yielding ``(index, Completion)`` as each
request finishes, in any order. The front door looks every sample up in the cache,
sends only the missing ones (as contiguous runs, so n stays native), stores each
finished request at once, and reassembles the completions in request order.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from supdata.core import progress as bars
from supdata.core.stats import charge
from supdata.core.store import StageFailed
from supdata.engines.budget import Budget, BudgetExceeded
from supdata.engines.cache import CachedSample, RequestCache, sample_key
from supdata.engines.types import Completion, Request

log = logging.getLogger("supdata.engines")


class Backend(Protocol):
    """``stream`` may be called from several threads at once (the stages of a flow
    build) where the backend sets ``concurrent = True``: it then batches all of them
    together itself (vLLM's one driver, the OpenAI client's shared concurrency). Other
    backends get one call at a time (``Engine`` holds a lock per backend)."""

    kind: str
    fingerprint: str  # model id + revision or weights hash

    def stream(self, requests: Sequence[Request]) -> Iterator[tuple[int, Completion]]: ...

    def close(self) -> None: ...


@dataclass
class RunStats:
    requests: int = 0
    samples: int = 0
    generated: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    output_tokens: int = 0
    too_long: int = 0  # requests whose prompt did not fit the context
    seconds: float = 0.0

    def summary(self, name: str) -> str:
        return (
            f"{name}: {self.requests} requests, {self.samples} samples "
            f"({self.generated} generated, {self.cached} cached), tokens in {self.prompt_tokens} "
            f"out {self.output_tokens}, {self.seconds:.1f}s"
            + (f", {self.too_long} prompts too long" if self.too_long else "")
        )

    def counters(self) -> dict[str, float]:
        return dict(vars(self))


def derived_seed(base: int, request: Request) -> int:
    """A stable seed for a request that set none: builds stay reproducible."""
    digest = hashlib.sha256(request.prompt_key().encode()).digest()
    return (base + int.from_bytes(digest[:4], "big")) % (2**31 - 1024)


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """Contiguous runs (start, length) of sorted sample indices."""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][0] + runs[-1][1] == i:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((i, 1))
    return runs


class EngineStopped(StageFailed):
    """The build stopped the engine's calls (another stage failed, or Ctrl-C)."""


_LOCKS: dict[int, threading.Lock] = {}  # per backend that takes one call at a time
_LOCKS_GUARD = threading.Lock()
TOKENIZER_LOCK = threading.Lock()  # local tokenizers, called from the threads of a flow build


def _lock_for(backend: Backend) -> threading.Lock | None:
    if getattr(backend, "concurrent", False):
        return None
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(id(backend), threading.Lock())


class Engine:
    """A backend behind the request cache. One per build, shared by every stage (and
    by the threads of a flow build: ``generate`` may be called from several at once)."""

    def __init__(
        self, backend: Backend, cache: RequestCache | None = None, *, seed: int = 0, name: str = ""
    ) -> None:
        self.backend = backend
        self.cache = cache
        self.seed = seed
        self.name = name or backend.kind
        self._local = threading.local()  # each thread's last call
        self.budget: Budget | None = None  # the build's output-token budget, if it has one

    @property
    def last_run(self) -> RunStats:
        """The counters of this thread's last ``generate``."""
        return getattr(self._local, "last_run", None) or RunStats()

    @last_run.setter
    def last_run(self, stats: RunStats) -> None:
        self._local.last_run = stats

    @property
    def fingerprint(self) -> str:
        return self.backend.fingerprint

    @property
    def supports_structured(self) -> bool:
        """Whether requests may carry structured output (JSON schema, regex, choice)."""
        return self.backend.kind != "transformers"

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in this engine's own tokenizer (lengths relative to a reference)."""
        tokenizer = getattr(self.backend, "tokenizer", None)
        if tokenizer is None:
            raise ValueError(
                f"engine {self.name!r} has no local tokenizer to measure lengths with; "
                "set its `tokenizer:` (openai) or give max_tokens without a reference factor"
            )
        with TOKENIZER_LOCK:  # a fast tokenizer is not safe to call from threads at once
            return len(tokenizer.encode(text, add_special_tokens=False))

    def generate(
        self, requests: Sequence[Request], *, desc: str | None = None, progress: bool | None = None
    ) -> list[Completion]:
        started = time.perf_counter()
        desc = desc or self.name
        keys, samples, todo, where = self._lookup(requests)
        cached_flags = [[s is not None for s in row] for row in samples]
        admitted, reserved = self._admit(requests, samples)
        if admitted < len(requests):
            todo = [t for t, (j, _) in zip(todo, where, strict=True) if j < admitted]
            where = [w for w in where if w[0] < admitted]
        stats = RunStats(requests=admitted, samples=sum(len(k) for k in keys[:admitted]))
        stats.cached = stats.samples - sum(t.sampling.n for t in todo)
        bar = bars.bar(
            desc,
            total=len(todo),
            unit="req",
            disable=True if not todo else (None if progress is None else not progress),
            dynamic_ncols=True,
        )
        bar.set_postfix_str(f"cached {stats.cached}", refresh=False)
        prefix_hits: list[int | None] = [None] * len(requests)
        too_long: list[str] = []
        out_tokens = 0  # generated so far, for the bar
        lock = _lock_for(self.backend) if todo else None
        try:
            if lock is not None:
                lock.acquire()
            for k, completion in self.backend.stream(todo):
                j, start = where[k]
                if completion.too_long:  # not cached: a longer context may answer it
                    too_long.append(requests[j].id)
                self._keep(completion, samples[j], keys[j], start)
                prefix_hits[j] = completion.cached_prompt_tokens
                out_tokens += sum(completion.output_tokens)
                stats.generated += len(completion.texts)
                bar.update()
                elapsed = max(time.perf_counter() - started, 1e-9)
                bar.set_postfix_str(
                    f"out {out_tokens / elapsed:.0f} tok/s, cached {stats.cached}",
                    refresh=False,
                )
        except BaseException:
            if self.budget is not None:
                self.budget.release(reserved)
            raise
        finally:
            if lock is not None:
                lock.release()
            bar.close()
        completions = _assemble(requests[:admitted], samples, cached_flags, prefix_hits)
        stats.prompt_tokens = sum(c.prompt_tokens for c in completions)
        stats.output_tokens = sum(sum(c.output_tokens) for c in completions)
        stats.too_long = len(too_long)
        stats.seconds = time.perf_counter() - started
        self.last_run = stats
        charge(self.name, stats.counters())
        if self.budget is not None:  # spent now counts what the reservation held
            self.budget.release(reserved)
        self._report(stats, desc, too_long, progress)
        if admitted < len(requests):
            raise self._over_budget(desc, admitted, len(requests))
        return completions

    def _report(
        self, stats: RunStats, desc: str, too_long: list[str], progress: bool | None
    ) -> None:
        if too_long:
            log.warning(
                "%s: %d prompt(s) longer than engine %r's context, left unanswered "
                "(finish_reason prompt_too_long), e.g. %s",
                desc, len(too_long), self.name, too_long[0],
            )  # fmt: skip
        if progress is not False:
            log.info(stats.summary(desc))

    def _over_budget(self, desc: str, admitted: int, asked: int) -> BudgetExceeded:
        call = desc if f"({self.name})" in desc else f"{desc} ({self.name})"
        return BudgetExceeded(
            f"budget: {call} stopped before request {admitted + 1} of "
            f"{asked}: its worst case would pass the build's max_output_tokens "
            f"({self.budget.max_output_tokens}; spent {self.budget.spent()}). The "
            f"{admitted} request(s) before it are cached: re-run with a larger budget "
            "to go on, nothing is generated twice"
        )

    def _keep(
        self,
        completion: Completion,
        samples: list[CachedSample | None],
        keys: list[str],
        start: int,
    ) -> None:
        """Put a finished (sub-)request's samples in their places and in the cache."""
        new = {}
        for i, text in enumerate(completion.texts):
            sample = CachedSample(
                text,
                completion.finish_reasons[i],
                completion.prompt_tokens,
                completion.output_tokens[i],
            )
            samples[start + i] = sample
            new[keys[start + i]] = sample
        if self.cache is not None and not completion.too_long:
            self.cache.put_many(self.fingerprint, new)

    def _lookup(
        self, requests: Sequence[Request]
    ) -> tuple[
        list[list[str]], list[list[CachedSample | None]], list[Request], list[tuple[int, int]]
    ]:
        """Cache keys and cached samples per request, and the sub-requests still to send
        (contiguous runs of missing samples) with (request index, first sample) each."""
        seeds = [
            r.sampling.seed if r.sampling.seed is not None else derived_seed(self.seed, r)
            for r in requests
        ]
        keys = [
            [sample_key(self.fingerprint, r, s + i) for i in range(r.sampling.n)]
            for r, s in zip(requests, seeds, strict=True)
        ]
        found = self.cache.get_many([k for ks in keys for k in ks]) if self.cache else {}
        samples: list[list[CachedSample | None]] = [[found.get(k) for k in ks] for ks in keys]
        todo: list[Request] = []
        where: list[tuple[int, int]] = []
        for j, (r, s) in enumerate(zip(requests, seeds, strict=True)):
            missing = [i for i, x in enumerate(samples[j]) if x is None]
            for start, length in _runs(missing):
                sub = replace(r.sampling, n=length, seed=s + start)
                todo.append(replace(r, sampling=sub))
                where.append((j, start))
        return keys, samples, todo, where

    def _admit(
        self, requests: Sequence[Request], samples: list[list[CachedSample | None]]
    ) -> tuple[int, int]:
        """How many requests, in order, the budget lets through (all without one), and
        the output tokens held for them until this call is charged."""
        if self.budget is None:
            return len(requests), 0
        worst = [
            sum(s.output_tokens if s is not None else r.sampling.max_tokens for s in row)
            for r, row in zip(requests, samples, strict=True)
        ]
        return self.budget.reserve(worst)

    def stop(self) -> None:
        """Abandon what this engine is generating for every caller (a failed flow build:
        their calls raise); a backend that cannot is left to finish its call."""
        stop = getattr(self.backend, "stop", None)
        if stop is not None:
            stop()

    def close(self) -> None:
        self.backend.close()


def _assemble(
    requests: Sequence[Request],
    samples: list[list[CachedSample | None]],
    cached: list[list[bool]],
    prefix_hits: list[int | None],
) -> list[Completion]:
    """One completion per request, its samples in order, cached or new."""
    completions = []
    for j, r in enumerate(requests):
        row = samples[j]
        if any(s is None for s in row):
            raise RuntimeError(f"engine returned no answer for request {r.id!r}")
        completions.append(
            Completion(
                request_id=r.id,
                texts=[s.text for s in row],
                finish_reasons=[s.finish_reason for s in row],
                prompt_tokens=row[0].prompt_tokens,
                output_tokens=[s.output_tokens for s in row],
                cached=cached[j],
                cached_prompt_tokens=prefix_hits[j],
            )
        )
    return completions

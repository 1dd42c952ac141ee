"""The engine front door: request cache and progress in front of any backend.

A backend only needs ``stream(requests)``, yielding ``(index, Completion)`` as each
request finishes, in any order. The front door looks every sample up in the cache,
sends only the missing ones (as contiguous runs, so n stays native), stores each
finished request at once, and reassembles the completions in request order. A sample
another call is generating right now (two stages of a flow build asking the same
request) is not sent twice: the later call waits for it, as it would have found it in
the cache had the other call finished first.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import groupby
from operator import itemgetter
from typing import Any, Protocol

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


class _Claim:
    """A sample one call is generating: other calls that need it wait for it."""

    def __init__(self, owner: object) -> None:
        self.owner = owner
        self.landed = threading.Event()
        self.sample: CachedSample | None = None  # None once landed: its call failed

    def wait(self, request_id: str) -> CachedSample:
        self.landed.wait()
        if self.sample is None:
            raise EngineStopped(f"request {request_id!r}: the call generating it stopped")
        return self.sample


@dataclass
class _Call:
    """One ``generate`` call's samples as they come (cached, generated, or another
    call's), what it sends, and what it waits for; the owner of its claims."""

    keys: list[list[str]]  # per request, per sample
    samples: list[list[CachedSample | None]]
    todo: list[Request] = field(default_factory=list)  # sub-requests to send
    where: list[tuple[int, int]] = field(default_factory=list)  # each: (request, first sample)
    waits: list[tuple[int, int, _Claim]] = field(default_factory=list)  # another call's
    too_long: list[str] = field(default_factory=list)  # request ids

    def __post_init__(self) -> None:
        self.prefix_hits: list[int | None] = [None] * len(self.keys)


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
        self._claims: dict[str, _Claim] = {}  # cache key -> the call generating it now
        self._claims_lock = threading.Lock()
        self._stopped = threading.Event()  # the build stopped this engine (``stop``)
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
        self._check_stopped()
        started = time.perf_counter()
        desc = desc or self.name
        keys, seeds, samples = self._lookup(requests)
        admitted, reserved = self._admit(requests, samples)
        call = _Call(keys, samples)
        bar = None
        try:  # the reservation and the claims are given back however the call ends
            self._claim(requests[:admitted], seeds, call)
            # another call's samples count as cached: they are by the time they are read
            cached_flags = [[s is not None for s in row] for row in samples]
            for j, i, _ in call.waits:
                cached_flags[j][i] = True
            stats = RunStats(requests=admitted, samples=sum(len(k) for k in keys[:admitted]))
            stats.cached = stats.samples - sum(t.sampling.n for t in call.todo)
            bar = bars.bar(
                desc,
                total=len(call.todo),
                unit="req",
                disable=True if not call.todo else (None if progress is None else not progress),
                dynamic_ncols=True,
            )
            bar.set_postfix_str(f"cached {stats.cached}", refresh=False)
            self._send(call, stats, bar)
            for j, i, claim in call.waits:  # after its own: no two calls wait on each other
                samples[j][i] = claim.wait(requests[j].id)
            completions = _assemble(requests[:admitted], samples, cached_flags, call.prefix_hits)
            stats.prompt_tokens = sum(c.prompt_tokens for c in completions)
            stats.output_tokens = sum(sum(c.output_tokens) for c in completions)
            stats.too_long = len(call.too_long)
            stats.seconds = time.perf_counter() - started
            self.last_run = stats
            charge(self.name, stats.counters())  # before the release: spent counts it now
        finally:
            self._unclaim(call, [k for ks in keys[:admitted] for k in ks])
            if bar is not None:
                bar.close()
            if self.budget is not None:
                self.budget.release(reserved)
        self._report(stats, desc, call.too_long, progress)
        if admitted < len(requests):
            raise self._over_budget(desc, admitted, len(requests))
        return completions

    def _send(self, call: _Call, stats: RunStats, bar: Any) -> None:
        """Stream the call's sub-requests through the backend (one call at a time unless
        it takes several), keeping each finished one at once."""
        if not call.todo:
            return
        started, out_tokens = time.perf_counter(), 0
        lock = _lock_for(self.backend)
        if lock is not None:
            lock.acquire()
        try:
            for k, completion in self.backend.stream(call.todo):
                self._check_stopped()  # raising closes the stream: the rest is abandoned
                j, start = call.where[k]
                if completion.too_long:  # not cached: a longer context may answer it
                    call.too_long.append(call.todo[k].id)
                self._keep(completion, call, j, start)
                call.prefix_hits[j] = completion.cached_prompt_tokens
                out_tokens += sum(completion.output_tokens)
                stats.generated += len(completion.texts)
                bar.update()
                elapsed = max(time.perf_counter() - started, 1e-9)
                bar.set_postfix_str(
                    f"out {out_tokens / elapsed:.0f} tok/s, cached {stats.cached}",
                    refresh=False,
                )
        finally:
            if lock is not None:
                lock.release()

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

    def _keep(self, completion: Completion, call: _Call, j: int, start: int) -> None:
        """Put a finished sub-request's samples (request ``j``'s from ``start``) in their
        places and in the cache, and hand them to the calls waiting for them."""
        new = {}
        for i, text in enumerate(completion.texts):
            sample = CachedSample(
                text,
                completion.finish_reasons[i],
                completion.prompt_tokens,
                completion.output_tokens[i],
            )
            call.samples[j][start + i] = sample
            new[call.keys[j][start + i]] = sample
        if self.cache is not None and not completion.too_long:
            self.cache.put_many(self.fingerprint, new)
        with self._claims_lock:
            for key, sample in new.items():
                claim = self._claims.get(key)
                if claim is not None and claim.owner is call:
                    del self._claims[key]
                    claim.sample = sample
                    claim.landed.set()

    def _unclaim(self, call: _Call, keys: list[str]) -> None:
        """Release what ``call`` claimed and did not deliver (it failed or was stopped):
        the calls waiting for those samples raise."""
        with self._claims_lock:
            for key in keys:
                claim = self._claims.get(key)
                if claim is not None and claim.owner is call:
                    del self._claims[key]
                    claim.landed.set()

    def _lookup(
        self, requests: Sequence[Request]
    ) -> tuple[list[list[str]], list[int], list[list[CachedSample | None]]]:
        """Cache keys, effective seeds and cached samples (None: missing) per request."""
        seeds = [
            r.sampling.seed if r.sampling.seed is not None else derived_seed(self.seed, r)
            for r in requests
        ]
        keys = [
            [sample_key(self.fingerprint, r, s + i) for i in range(r.sampling.n)]
            for r, s in zip(requests, seeds, strict=True)
        ]
        found = self.cache.get_many([k for ks in keys for k in ks]) if self.cache else {}
        return keys, seeds, [[found.get(k) for k in ks] for ks in keys]

    def _claim(self, requests: Sequence[Request], seeds: list[int], call: _Call) -> None:
        """Plan ``call``: the sub-requests it sends (contiguous runs of samples neither
        cached nor being generated by another call, so n stays native; claimed until
        they land) and the samples it waits for instead."""
        claimed = []
        with self._claims_lock:
            for j in range(len(requests)):
                for i, sample in enumerate(call.samples[j]):
                    if sample is not None:
                        continue
                    claim = self._claims.setdefault(call.keys[j][i], _Claim(call))
                    if claim.owner is call:
                        claimed.append((j, i))
                    else:
                        call.waits.append((j, i, claim))
        for j, run in groupby(self._landed_meanwhile(call, claimed), key=itemgetter(0)):
            r, s = requests[j], seeds[j]
            for start, length in _runs([i for _, i in run]):
                sub = replace(r.sampling, n=length, seed=s + start)
                call.todo.append(replace(r, sampling=sub))
                call.where.append((j, start))

    def _landed_meanwhile(
        self, call: _Call, claimed: list[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """Take from the cache the samples another call landed between this call's cache
        lookup and its claims (``_keep`` caches a sample before it lets go of its claim);
        returns the claimed samples still to generate, in order."""
        found = self.cache.get_many([call.keys[j][i] for j, i in claimed]) if self.cache else {}
        if not found:
            return claimed
        with self._claims_lock:
            for j, i in claimed:
                sample = found.get(call.keys[j][i])
                if sample is not None:
                    call.samples[j][i] = sample
                    claim = self._claims.pop(call.keys[j][i])
                    claim.sample = sample
                    claim.landed.set()
        return [(j, i) for j, i in claimed if call.samples[j][i] is None]

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

    def _check_stopped(self) -> None:
        if self._stopped.is_set():
            raise EngineStopped(f"engine {self.name!r} was stopped: the build is ending")

    def stop(self) -> None:
        """Abandon what this engine is generating for every caller (a failed flow build:
        their calls raise); a backend that cannot is left to finish its call."""
        self._stopped.set()  # calls made from now on raise at once
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

"""Answer verification: extract the final answer, compare with math-verify, never hang.

Two verbs: ``judge`` one (prediction, reference) pair, ``verify_many`` many (in worker
processes with a hard per-item deadline). See docs/verification.md for the rules and
policies.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

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
    "pool_session",
    "summarize",
    "verify_many",
]


_DEFAULT = VerifyConfig()


def verify_many(
    pairs: Iterable[tuple[str, str | None]], config: VerifyConfig = _DEFAULT
) -> Iterator[Judgement]:
    """Judge (prediction, reference answer) pairs, yielding one Judgement each, in order."""
    from supdata.verify.worker import judge_item

    args = ((pred, ref, config) for pred, ref in pairs)
    if config.workers == 0:
        for a in args:
            yield judge_item(*a)
        return
    session = _SESSION[-1] if _SESSION else None
    if session is not None and session.fits(config):
        yield from session.map(args)
        return
    with _open_pool(config) as pool:
        yield from pool.map(args)


def _open_pool(config: VerifyConfig, ray_actors: int = 0):
    """A local hard-timeout pool, or with ``ray_actors`` one spread over the Ray cluster
    this process is connected to (``verify.ray_pool``)."""
    from supdata.verify.pool import HardTimeoutPool
    from supdata.verify.worker import judge_item, timed_out

    if ray_actors:
        from supdata.verify.ray_pool import RayVerifyPool

        return RayVerifyPool(
            judge_item,
            timed_out,
            actors=ray_actors,
            timeout_s=config.timeout_s,
            chunk_size=config.chunk_size,
            preload=["supdata.verify.worker"],
        )
    return HardTimeoutPool(
        judge_item,
        timed_out,
        workers=config.workers,
        timeout_s=config.timeout_s,
        chunk_size=config.chunk_size,
        preload=["supdata.verify.worker"],
    )


class _Session:
    """The worker pools of a build (``pool_session``): workers start once, not once per
    stage. A pool serves one map at a time; a map that finds every pool busy (stages
    verifying at once in a flow build) opens another, kept for later maps (with Ray
    actors, one pool on the cluster; a map that finds it busy gets a local pool for
    itself). A map left half read closes its pool (its workers may still hold that
    map's items)."""

    def __init__(self, config: VerifyConfig, ray_actors: int = 0) -> None:
        self.config = config
        self.ray_actors = ray_actors
        self.idle: list[Any] = []
        self.opened: list[Any] = []
        self.lock = threading.Lock()
        self.on_ray = 0  # items judged on the Ray cluster

    def fits(self, config: VerifyConfig) -> bool:
        keys = ("workers", "timeout_s", "chunk_size")
        return all(getattr(config, k) == getattr(self.config, k) for k in keys)

    def map(self, args):
        on_ray = False
        with self.lock:
            if self.idle:
                pool, kept, on_ray = self.idle.pop(), True, bool(self.ray_actors)
            elif self.ray_actors and self.opened:  # the cluster's actors are busy: a
                pool, kept = _open_pool(self.config).__enter__(), False  # local pool
            else:
                pool, kept, on_ray = (
                    _open_pool(self.config, self.ray_actors).__enter__(),
                    True,
                    bool(self.ray_actors),
                )
                self.opened.append(pool)
        finished = False
        try:
            for judgement in pool.map(args):
                if on_ray:
                    self.on_ray += 1
                yield judgement
            finished = True
        finally:
            with self.lock:
                if kept and finished:
                    self.idle.append(pool)
                elif kept:
                    self.opened.remove(pool)
            if not (kept and finished):
                pool.__exit__(None, None, None)

    def close(self) -> None:
        with self.lock:
            pools, self.opened, self.idle = self.opened, [], []
        for pool in pools:
            pool.__exit__(None, None, None)


_SESSION: list[_Session] = []


@contextlib.contextmanager
def pool_session(config: VerifyConfig = _DEFAULT, *, ray_actors: int = 0):
    """Share one verification pool among every ``verify_many`` call inside this block
    that uses the same workers / timeout (a build wraps its stages in one); with
    ``ray_actors``, a pool of that many actors on the connected Ray cluster."""
    session = _Session(config, ray_actors)
    _SESSION.append(session)
    try:
        yield session
    finally:
        _SESSION.remove(session)
        session.close()


def summarize(judgements: Iterable[Judgement]) -> dict[str, int]:
    """Count judgements per status (all five statuses present, zeros included)."""
    counts = Counter(
        {s: 0 for s in ("correct", "incorrect", "no_answer", "bad_reference", "timeout")}
    )
    counts.update(j.status for j in judgements)
    return dict(counts)

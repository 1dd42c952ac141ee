"""Answer verification on a Ray cluster: the same hard per-item deadline, many nodes.

``verifiers`` Ray actors each own a ``HardTimeoutPool`` of one worker process on their
node, so a stuck item is killed there and recorded ``timeout`` exactly as in a local
pool. Chunks of items go to whichever actor is free (``ray.util.ActorPool``) and come
back in order; only a window of chunks is in flight, so inputs can be arbitrarily long.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from supdata.verify.pool import HardTimeoutPool


class Verifier:
    """One verification actor: a one-process hard-timeout pool, for the whole build."""

    def __init__(
        self,
        fn: Callable[..., Any],
        on_timeout: Callable[[tuple, str], Any],
        timeout_s: float,
        chunk_size: int,
        preload: list[str],
    ) -> None:
        self.pool = HardTimeoutPool(
            fn, on_timeout, workers=1, timeout_s=timeout_s, chunk_size=chunk_size, preload=preload
        ).__enter__()

    def map(self, items: list[tuple]) -> list[Any]:
        return list(self.pool.map(items))

    def killed(self) -> int:
        return self.pool.killed

    def close(self) -> None:
        self.pool.close()


class RayVerifyPool:
    """``HardTimeoutPool``'s ``map`` over ``actors`` Ray actors (Ray must be connected)."""

    def __init__(
        self,
        fn: Callable[..., Any],
        on_timeout: Callable[[tuple, str], Any],
        *,
        actors: int,
        timeout_s: float,
        chunk_size: int = 4,
        preload: Iterable[str] = (),
        items_per_call: int = 64,
    ) -> None:
        import ray
        from ray.util import ActorPool

        if actors < 1:
            raise ValueError(f"actors must be >= 1, got {actors}")
        self._ray = ray
        remote = ray.remote(num_cpus=1)(Verifier)
        self._actors = [
            remote.remote(fn, on_timeout, timeout_s, chunk_size, list(preload))
            for _ in range(actors)
        ]
        self._pool = ActorPool(self._actors)
        self._per_call = items_per_call
        self.items = 0  # judged on the cluster

    def __enter__(self) -> RayVerifyPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def killed(self) -> int:
        return sum(self._ray.get([a.killed.remote() for a in self._actors]))

    def map(self, items: Iterable[tuple]) -> Iterator[Any]:
        source = iter(items)
        window = 4 * len(self._actors)
        pending = 0
        while True:
            while pending < window:
                chunk = list(islice(source, self._per_call))
                if not chunk:
                    break
                self._pool.submit(lambda actor, c: actor.map.remote(c), chunk)
                pending += 1
            if not pending:
                return
            results = self._pool.get_next()  # in submission order
            pending -= 1
            self.items += len(results)
            yield from results

    def close(self) -> None:
        for actor in self._actors:
            try:
                self._ray.get(actor.close.remote(), timeout=30)
                self._ray.kill(actor)
            except Exception:  # a dead actor (or cluster) has nothing left to close
                continue
        self._actors = []

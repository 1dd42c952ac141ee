"""Shards of a distributed generation, and the per-shard request caches they leave.

A generation's missing requests are cut into contiguous shards of whole requests (all n
samples of a request stay together, so n stays native and a request's samples never
depend on two engines). Each replica writes every finished request at once into its
shard's own sqlite cache, under a run folder that the driver holds a lock on. The
driver folds shard caches into the main cache when a generation ends, and at the start
of the next run folds in whatever a killed run left, so no finished request is
generated twice.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from pathlib import Path

from filelock import FileLock, Timeout

from supdata.engines.cache import RequestCache

log = logging.getLogger("supdata.engines")


def shard_bounds(count: int, shards: int) -> list[tuple[int, int]]:
    """``shards`` contiguous [start, end) ranges over ``count`` items, sizes differing by
    at most one (the split ``ray.data.from_items`` makes for as many blocks)."""
    shards = max(1, min(shards, count))
    size, extra = divmod(count, shards)
    return [(i * size + min(i, extra), (i + 1) * size + min(i + 1, extra)) for i in range(shards)]


def shard_count(requests: int, replicas: int, per_replica: int) -> int:
    """A multiple of ``replicas`` (so every replica gets work), never more than the requests."""
    if requests <= replicas:
        return max(1, requests)
    return replicas * max(1, min(per_replica, requests // replicas))


def shard_cache_path(run_dir: str | Path, shard: int) -> Path:
    return Path(run_dir) / f"shard-{shard:05d}.sqlite"


class ShardStore:
    """The folder of per-shard caches next to a main cache: one locked run folder per
    live run; unlocked folders are leftovers of runs that died."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.run_dir = self.root / f"run-{uuid.uuid4().hex[:12]}"
        self.run_dir.mkdir()
        self._lock = FileLock(self.root / f"{self.run_dir.name}.lock")
        self._lock.acquire()

    def recover(self, cache: RequestCache) -> int:
        """Fold every dead run's shard caches into ``cache``; returns the samples added."""
        added = 0
        for run in sorted(self.root.glob("run-*")):
            if run == self.run_dir or not run.is_dir():
                continue
            lock = FileLock(self.root / f"{run.name}.lock")
            try:
                lock.acquire(timeout=0)
            except Timeout:
                continue  # a live run (another build sharing this cache)
            try:
                added += _fold(run, cache)
                shutil.rmtree(run, ignore_errors=True)
            finally:
                lock.release()
                Path(lock.lock_file).unlink(missing_ok=True)
        if added:
            log.info("request cache: %d samples recovered from an interrupted run's shards", added)
        return added

    def collect(self, cache: RequestCache) -> int:
        """Fold this run's shard caches into ``cache`` and empty the run folder."""
        added = _fold(self.run_dir, cache)
        for path in self.run_dir.glob("shard-*"):
            path.unlink(missing_ok=True)
        return added

    def close(self) -> None:
        shutil.rmtree(self.run_dir, ignore_errors=True)
        self._lock.release()
        Path(self._lock.lock_file).unlink(missing_ok=True)


def _fold(run_dir: Path, cache: RequestCache) -> int:
    return sum(cache.merge_from(p) for p in sorted(run_dir.glob("shard-*.sqlite")))

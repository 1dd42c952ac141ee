"""vLLM on Ray: R engine replicas (Ray actors) that live for the whole build.

The engine front door (base.Engine) still finds the cache misses, so every builder's
stages run unchanged. This backend cuts the missing requests into shards of whole
requests (a multiple of R) and hands them to a fixed pool of R Ray Core actors, each
owning one ``VllmBackend`` (``vllm.LLM``), with n > 1 native. The actors start once, on
the first generation, and serve every generation of every stage until the build closes
its engines; ``ray.util.ActorPool`` gives each shard to whichever replica is free.
(Ray Data's actor pools, used before, live for one dataset: every generate() call
restarted every replica. Its LLM processor keeps only the first of n outputs.)

Each replica writes every request it finishes into its shard's sqlite cache at once; the
driver streams finished shards back to the front door (which stores them in the main
cache) and folds the shard caches in when the generation ends, or, after a crash, when
the next run starts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from supdata.engines.cache import CachedSample, RequestCache, sample_key
from supdata.engines.config import EngineConfig
from supdata.engines.models import resolve_model
from supdata.engines.runner_config import RAY_INSTALL, RunnerConfig
from supdata.engines.shards import ShardStore, shard_bounds, shard_cache_path, shard_count
from supdata.engines.types import Completion, Request

log = logging.getLogger("supdata.engines")


class RayBackend:
    kind = "vllm"  # the same engine, distributed: same fingerprint, same cache keys

    def __init__(
        self, config: EngineConfig, runner: RunnerConfig, cache: RequestCache | None = None
    ) -> None:
        try:
            import ray
        except ImportError as exc:
            raise RuntimeError(f"runner kind: ray needs Ray: `{RAY_INSTALL}`") from exc
        self._ray = ray
        self.config = config
        self.runner = runner
        self.cache = cache
        model = resolve_model(config)
        self.fingerprint = model.fingerprint("vllm")
        self._started_ray = connect(runner)
        from transformers import AutoTokenizer

        # Lengths relative to a reference are measured in the engine's own tokenizer.
        self.tokenizer = AutoTokenizer.from_pretrained(model.path, revision=config.revision)
        if runner.shard_dir is not None:
            root = Path(runner.shard_dir)
        elif cache is not None:
            root = Path(f"{cache.path}.shards")
        else:  # no cache to fold into: the run folder only hands out replica slots
            root = Path(tempfile.mkdtemp(prefix="supdata-shards-"))
        self.store: ShardStore | None = ShardStore(root)
        if cache is not None:
            self.store.recover(cache)
        gpus = runner.gpus_per_replica
        if gpus is None:
            has_gpus = ray.cluster_resources().get("GPU", 0) > 0
            gpus = float(config.tensor_parallel_size) if has_gpus else 0.0
        self.gpus = gpus
        self._actors: list[Any] = []
        self._pool: Any = None
        self._seen: set[str] = set()

    @property
    def replica_starts(self) -> int:
        """Replica processes that have served this backend (each reports its identity
        with every shard): R for a build, however many generations it makes."""
        return len(self._seen)

    def _replicas(self) -> Any:
        """The actor pool, started on first use with all R replicas."""
        if self._pool is None:
            from ray.util import ActorPool

            actor = self._ray.remote(num_cpus=self.runner.cpus_per_replica, num_gpus=self.gpus)(
                Replica
            )
            self._actors = [
                actor.remote(
                    config=self.config.model_dump(mode="json"),
                    fingerprint=self.fingerprint,
                    run_dir=str(self.store.run_dir) if self.store else None,
                    replicas=self.runner.replicas,
                )
                for _ in range(self.runner.replicas)
            ]
            self._pool = ActorPool(self._actors)
        return self._pool

    def stream(self, requests: Sequence[Request]) -> Iterator[tuple[int, Completion]]:
        if not requests:
            return
        bounds = shard_bounds(
            len(requests),
            shard_count(len(requests), self.runner.replicas, self.runner.shards_per_replica),
        )
        shards = [
            [(k, shard, pickle.dumps(requests[k])) for k in range(start, end)]
            for shard, (start, end) in enumerate(bounds)
        ]
        for result in self._replicas().map_unordered(lambda a, v: a.run.remote(v), shards):
            self._seen.add(result["replica"])
            for k, blob in result["done"]:
                yield k, pickle.loads(blob)
        if self.store is not None and self.cache is not None:
            self.store.collect(self.cache)  # all there already: the front door stored them

    def close(self) -> None:
        for actor in self._actors:  # vLLM's shutdown first, then the actor itself
            try:
                self._ray.get(actor.close.remote(), timeout=60)
            except Exception as exc:  # a dead replica has nothing left to close
                log.debug("ray replica close: %s", exc)
            self._ray.kill(actor)
        self._actors, self._pool = [], None
        if self.store is not None:
            if self.cache is not None:
                self.store.collect(self.cache)
            self.store.close()
            self.store = None
        if self._started_ray:
            self._ray.shutdown()
            self._started_ray = False


@contextlib.contextmanager
def ray_session(runner: RunnerConfig) -> Iterator[None]:
    """Connect to (or start) the build's Ray cluster once, for its engines and verifiers;
    a cluster this call started is shut down at the end."""
    started = connect(runner)
    try:
        yield
    finally:
        if started:
            import ray

            ray.shutdown()


def connect(runner: RunnerConfig) -> bool:
    """Start a local cluster or join one; True when this call started it."""
    import ray

    if ray.is_initialized():
        return False
    if runner.address == "local":
        spare = 2  # headroom beside the replicas (the driver's own tasks)
        needed = runner.replicas * runner.cpus_per_replica + runner.verifiers
        cpus = runner.num_cpus or max(os.cpu_count() or 1, int(needed + 0.999) + spare)
        ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=True)
    else:
        ray.init(address=runner.address, include_dashboard=False)
    log.info("ray: %s", ray.cluster_resources())
    return True


class Replica:
    """One vLLM engine in a Ray actor, for the whole build: shards of requests in, their
    completions out, each finished request stored in its shard's cache at once."""

    def __init__(
        self, config: dict[str, Any], fingerprint: str, run_dir: str | None, replicas: int
    ) -> None:
        self._slot = None
        if run_dir is not None:
            self._slot = _pin_cpus(Path(run_dir), replicas)
        from supdata.engines.vllm_backend import VllmBackend

        self.backend = VllmBackend(EngineConfig.model_validate(config))
        self.fingerprint = fingerprint
        self.run_dir = Path(run_dir) if run_dir else None
        self.identity = f"{os.getpid()}-{time.time_ns()}"

    def run(self, shard: list[tuple[int, int, bytes]]) -> dict[str, Any]:
        requests: list[Request] = [pickle.loads(blob) for _, _, blob in shard]
        caches: dict[int, RequestCache] = {}
        done = []
        try:
            for i, completion in self.backend.stream(requests):
                k, number, _ = shard[i]
                if self.run_dir is not None and not completion.too_long:
                    if number not in caches:
                        caches[number] = RequestCache(shard_cache_path(self.run_dir, number))
                    caches[number].put_many(
                        self.fingerprint, _samples(self.fingerprint, requests[i], completion)
                    )
                done.append((k, pickle.dumps(completion)))
        finally:
            for cache in caches.values():
                cache.close()
        return {"replica": self.identity, "done": done}

    def close(self) -> None:
        self.backend.close()


def _samples(fingerprint: str, request: Request, completion: Completion) -> dict[str, Any]:
    """The front door's cache entries for one finished request (same keys, same seeds)."""
    seed = request.sampling.seed or 0  # the front door seeds every request it sends
    return {
        sample_key(fingerprint, request, seed + i): CachedSample(
            text,
            completion.finish_reasons[i],
            completion.prompt_tokens,
            completion.output_tokens[i],
        )
        for i, text in enumerate(completion.texts)
    }


def _pin_cpus(run_dir: Path, replicas: int) -> Any:
    """On a CPU-only node, give each replica its own cores (vLLM binds its OpenMP threads
    to the cores it may use): replicas claim slots 0..R-1 through file locks."""
    import torch
    from filelock import FileLock, Timeout

    if replicas < 2 or torch.cuda.is_available() or not hasattr(os, "sched_setaffinity"):
        return None
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < replicas:
        return None
    per = len(cores) // replicas
    for slot in range(replicas):
        lock = FileLock(run_dir / f"slot-{slot}.lock")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue
        os.sched_setaffinity(0, cores[slot * per : (slot + 1) * per])
        return lock  # held for the actor's life
    return None

"""The build's engines: created on first use, once, and shared by every stage.

With ``runner: {kind: ray}`` a vLLM engine is a ``RayBackend`` (replicas on Ray) behind
the same front door; other kinds (openai, transformers) stay in the build process.
"""

from __future__ import annotations

import threading

from supdata.engines import Engine, create_engine
from supdata.engines.budget import Budget
from supdata.engines.cache import RequestCache
from supdata.engines.config import EngineConfig
from supdata.engines.runner_config import RunnerConfig


class BackendPool:
    """Backends kept across builds in one process (``supdata build A.yaml B.yaml``):
    two recipes that name the same engine settings share one loaded model, so a run of
    several builds starts each engine once."""

    def __init__(self) -> None:
        self._backends: dict[str, object] = {}

    def get(self, config: EngineConfig, make) -> object:
        key = config.model_dump_json()
        if key not in self._backends:
            self._backends[key] = make()
        return self._backends[key]

    def close(self) -> None:
        for backend in self._backends.values():
            backend.close()
        self._backends.clear()

    def __enter__(self) -> BackendPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Engines:
    def __init__(
        self,
        configs: dict[str, EngineConfig],
        cache: RequestCache | None,
        runner: RunnerConfig | None = None,
        *,
        pool: BackendPool | None = None,
        budget: Budget | None = None,
    ) -> None:
        self.configs = configs
        self.budget = budget
        self.cache = cache
        self.runner = runner or RunnerConfig()
        self.pool = pool
        self._started: dict[str, Engine] = {}
        self._creating = threading.Lock()  # stages of a flow build ask at once: one each

    def __getitem__(self, name: str) -> Engine:
        with self._creating:
            if name not in self._started:
                if name not in self.configs:
                    raise KeyError(
                        f"no engine named {name!r} in the recipe (engines: {sorted(self.configs)})"
                    )
                self._started[name] = self._create(name)
                self._started[name].budget = self.budget
            return self._started[name]

    def _create(self, name: str) -> Engine:
        config = self.configs[name]
        if self.runner.kind == "ray" and _is_vllm(config):
            from supdata.engines.ray_backend import RayBackend

            backend = RayBackend(config, self.runner, self.cache)
            return Engine(backend, self.cache, seed=config.seed, name=name)
        if self.pool is not None:
            from supdata.engines import BACKENDS

            backend = self.pool.get(config, lambda: BACKENDS[config.kind](config))
            return Engine(backend, self.cache, seed=config.seed, name=name)
        return create_engine(config, self.cache, name=name)

    def started(self) -> list[str]:
        """Engines whose model actually loaded (a lazy vLLM engine whose requests were
        all in the cache never starts)."""
        return sorted(
            name
            for name, engine in self._started.items()
            if getattr(engine.backend, "started", True)
        )

    def replica_starts(self) -> dict[str, int]:
        """Per engine on Ray: the replica processes that served it (R for a build)."""
        return {
            name: engine.backend.replica_starts
            for name, engine in sorted(self._started.items())
            if hasattr(engine.backend, "replica_starts")
        }

    def stop(self) -> None:
        """Abandon every call in flight (a flow build that failed or was interrupted)."""
        for engine in list(self._started.values()):
            engine.stop()

    def close(self) -> None:
        for engine in self._started.values():
            if self.pool is None or engine.backend not in self.pool._backends.values():
                engine.close()
        self._started.clear()
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> Engines:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_vllm(config: EngineConfig) -> bool:
    if config.kind == "auto":
        import importlib.util

        return importlib.util.find_spec("vllm") is not None
    return config.kind == "vllm"

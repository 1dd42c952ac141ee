"""The build's engines: created on first use, once, and shared by every stage."""

from __future__ import annotations

from supdata.engines import Engine, create_engine
from supdata.engines.cache import RequestCache
from supdata.engines.config import EngineConfig


class Engines:
    def __init__(self, configs: dict[str, EngineConfig], cache: RequestCache | None) -> None:
        self.configs = configs
        self.cache = cache
        self._started: dict[str, Engine] = {}

    def __getitem__(self, name: str) -> Engine:
        if name not in self._started:
            if name not in self.configs:
                raise KeyError(
                    f"no engine named {name!r} in the recipe (engines: {sorted(self.configs)})"
                )
            self._started[name] = create_engine(self.configs[name], self.cache, name=name)
        return self._started[name]

    def close(self) -> None:
        for engine in self._started.values():
            engine.close()
        self._started.clear()
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> Engines:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

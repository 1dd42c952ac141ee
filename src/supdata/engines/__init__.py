"""LLM engines: one protocol (requests in, completions out) over vLLM, OpenAI-compatible
servers and transformers, with a persistent request cache in front."""

from __future__ import annotations

from collections.abc import Callable

from supdata.engines.base import Backend, Engine, RunStats
from supdata.engines.cache import RequestCache
from supdata.engines.config import EngineConfig
from supdata.engines.types import (
    PROMPT_TOO_LONG,
    Completion,
    Request,
    SamplingParams,
    StructuredOutput,
)

__all__ = [
    "PROMPT_TOO_LONG",
    "Backend",
    "Completion",
    "Engine",
    "EngineConfig",
    "Request",
    "RequestCache",
    "RunStats",
    "SamplingParams",
    "StructuredOutput",
    "create_engine",
]


def _vllm(config: EngineConfig) -> Backend:
    from supdata.engines.vllm_backend import LazyVllm

    return LazyVllm(config)


def _openai(config: EngineConfig) -> Backend:
    from supdata.engines.openai_backend import OpenAIBackend

    return OpenAIBackend(config)


def _transformers(config: EngineConfig) -> Backend:
    from supdata.engines.transformers_backend import TransformersBackend

    return TransformersBackend(config)


def _auto(config: EngineConfig) -> Backend:
    import importlib.util
    import logging

    kind = "vllm" if importlib.util.find_spec("vllm") is not None else "transformers"
    logging.getLogger("supdata.engines").info(
        "engine kind auto -> %s%s", kind, "" if kind == "vllm" else " (vLLM is not installed)"
    )
    return BACKENDS[kind](config)


BACKENDS: dict[str, Callable[[EngineConfig], Backend]] = {
    "auto": _auto,
    "vllm": _vllm,
    "openai": _openai,
    "transformers": _transformers,
}


def create_engine(
    config: EngineConfig, cache: RequestCache | None = None, *, name: str = ""
) -> Engine:
    """Start the backend ``config`` names (loads the model) behind ``cache``."""
    return Engine(BACKENDS[config.kind](config), cache, seed=config.seed, name=name)

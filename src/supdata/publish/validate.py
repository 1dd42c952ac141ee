"""Check a dataset folder: every config's rows against its schema, and the card."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import yaml

from supdata.publish.schemas import validate_rows


class FolderError(ValueError):
    pass


def validate_folder(root: str | Path) -> dict[str, int]:
    """Rows per config; raises naming the file, row and field that are wrong."""
    root = Path(root)
    card = root / "README.md"
    if not card.is_file():
        raise FolderError(f"{root}: no README.md dataset card")
    text = card.read_text(encoding="utf-8")
    if not text.startswith("---\n") or "\n---\n" not in text[4:]:
        raise FolderError(f"{card}: no YAML metadata block at the top")
    meta = yaml.safe_load(text[4 : text.index("\n---\n", 4)])
    configs = [c["config_name"] for c in meta.get("configs", [])]
    if not configs:
        raise FolderError(f"{card}: metadata lists no configs")
    counts: dict[str, int] = {}
    for config in configs:
        files = sorted((root / config).glob("*.parquet"))
        if not files:
            raise FolderError(f"{root}: config {config!r} has no parquet files")
        counts[config] = 0
        for path in files:
            try:
                counts[config] += validate_rows(config, pq.read_table(path).to_pylist())
            except ValueError as exc:
                raise FolderError(f"{path.relative_to(root)}: {exc}") from None
    return counts

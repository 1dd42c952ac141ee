"""Check a dataset folder: every config's rows against its schema, and the card."""

from __future__ import annotations

import re
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
    meta = card_metadata(card)
    configs = [c["config_name"] for c in meta.get("configs", [])]
    if not configs:
        raise FolderError(f"{card}: metadata lists no configs")
    return validate_files(root, meta, checked_files(root, meta))


def card_metadata(card: Path) -> dict:
    """The card's metadata as the Hub reads it (``huggingface_hub.DatasetCard.load``)."""
    from huggingface_hub import DatasetCard

    try:
        meta = DatasetCard.load(card).data.to_dict()
    except (ValueError, yaml.YAMLError, OSError) as exc:
        raise FolderError(f"{card}: the dataset card does not load: {exc}") from None
    if not isinstance(meta, dict):
        raise FolderError(f"{card}: the card metadata is not a mapping")
    return meta


def checked_files(root: Path, meta: dict) -> list[Path]:
    """Every file of the folder, which must each be one validate reads: the card, the
    recipe, stats, the marker, plots, and the parquet shards of the configs the card
    lists. Anything else is an error (push uploads exactly this list)."""
    allowed = {"README.md", "recipe.yaml", "stats.json"}
    shard = re.compile(r"^(?P<split>\w+)-(?P<i>\d{5})-of-(?P<n>\d{5})\.parquet$")
    configs = {c["config_name"] for c in meta.get("configs", [])}
    files, unexpected = [], []
    for path in sorted(p for p in root.rglob("*") if not p.is_dir()):
        rel = path.relative_to(root)
        parts = rel.parts
        ok = (
            (len(parts) == 1 and parts[0] in allowed)
            or (len(parts) == 2 and parts[0] == "plots" and rel.suffix == ".png")
            or (len(parts) == 2 and parts[0] in configs and shard.match(parts[1]))
        )
        (files if ok else unexpected).append(path)
    if unexpected:
        names = ", ".join(str(p.relative_to(root)) for p in unexpected[:10])
        raise FolderError(
            f"{root}: {len(unexpected)} file(s) that are no part of the dataset (not the card, "
            f"recipe, stats, plots or a listed config's shards): {names}"
        )
    return files


def validate_files(root: Path, meta: dict, files: list[Path]) -> dict[str, int]:
    configs = [c["config_name"] for c in meta.get("configs", [])]
    expected = {
        c["config_name"]: sum(s.get("num_examples", 0) for s in c.get("splits", []))
        for c in meta.get("dataset_info", []) or []
    }
    counts: dict[str, int] = {}
    for config in configs:
        shards = [p for p in files if p.parent == root / config and p.suffix == ".parquet"]
        if not shards:
            raise FolderError(f"{root}: config {config!r} has no parquet files")
        counts[config] = 0
        for path in shards:
            try:  # a batch at a time: a shard of 100k rows never sits in memory as dicts
                shard = pq.ParquetFile(path, page_checksum_verification=True)
                for batch in shard.iter_batches(batch_size=4096):
                    counts[config] += validate_rows(config, batch.to_pylist(), counts[config])
            except (ValueError, OSError) as exc:
                raise FolderError(f"{path.relative_to(root)}: {exc}") from None
        if config in expected and expected[config] != counts[config]:
            raise FolderError(
                f"{root}: config {config!r} has {counts[config]} rows; the card says "
                f"{expected[config]}"
            )
    return counts

"""Audit a built or downloaded dataset folder for benchmark contamination.

Reads every parquet file under the folder (or one parquet/jsonl file), groups them by
config (the first folder under the root), and checks the problem-like text columns of
every row against the benchmark index. Message lists (TRL's ``prompt``/``messages``)
are checked through their user turns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from supdata.hygiene.benchmarks import read_rows
from supdata.hygiene.decontam import NgramIndex

TEXT_COLUMNS = ("question", "problem", "prompt", "original_prompt", "messages", "instruction")


def read_configs(root: Path) -> dict[str, list[Path]]:
    """Config name -> its data files."""
    if root.is_file():
        return {root.stem: [root]}
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder or file")
    configs: dict[str, list[Path]] = {}
    for path in sorted([*root.rglob("*.parquet"), *root.rglob("*.jsonl")]):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        name = rel.parts[0] if len(rel.parts) > 1 else path.stem
        configs.setdefault(name, []).append(path)
    if not configs:
        raise FileNotFoundError(f"{root}: no parquet or jsonl files")
    return configs


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):  # chat messages: the user turns state the problem
        for message in value:
            if isinstance(message, dict) and message.get("role") == "user":
                content = message.get("content")
                if isinstance(content, str):
                    yield content


def audit(
    root: Path,
    index: NgramIndex,
    *,
    configs: Sequence[str] | None = None,
    columns: Sequence[str] = TEXT_COLUMNS,
    keep: int = 1000,
) -> dict[str, Any]:
    """Per config: rows checked, the text columns used, and per benchmark the rows
    matched with the first ``keep`` matches (row id, column, benchmark item, n-gram)."""
    found = read_configs(root)
    if configs:
        missing = [c for c in configs if c not in found]
        if missing:
            raise ValueError(f"{root}: no config(s) {missing} (has: {sorted(found)})")
        found = {c: found[c] for c in configs}
    report: dict[str, Any] = {}
    for config, paths in found.items():
        rows_checked = 0
        used: set[str] = set()
        contaminated: Counter[str] = Counter()
        matches: dict[str, list[dict[str, Any]]] = {b: [] for b in index.benchmarks}
        for path in paths:
            for i, row in enumerate(read_rows(path)):
                cols = [c for c in columns if row.get(c) is not None]
                if not cols:
                    continue
                rows_checked += 1
                used.update(cols)
                hit: dict[str, dict[str, Any]] = {}
                for col in cols:
                    for text in _texts(row[col]):
                        for m in index.check(text):
                            hit.setdefault(m.benchmark, {"column": col, **m.to_dict()})
                for bench, m in hit.items():
                    contaminated[bench] += 1
                    if len(matches[bench]) < keep:
                        row_id = row.get("id", f"{path.name}:{i}")
                        matches[bench].append({"id": str(row_id), **m})
        report[config] = {
            "rows": rows_checked,
            "columns": sorted(used),
            "contaminated": {b: contaminated.get(b, 0) for b in index.benchmarks},
            "matches": {b: ms for b, ms in matches.items() if ms},
        }
    return report

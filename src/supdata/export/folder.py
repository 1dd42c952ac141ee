"""Export one config of a built folder to a file a trainer reads, atomically."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Dataset

from supdata.export import llamafactory, verl
from supdata.export.common import ExportError
from supdata.export.convert import Converted, convert
from supdata.export.registry import FORMATS, PROBLEMS_CONFIG, kind_of


@dataclass(frozen=True)
class Exported:
    converted: Converted
    written: list[Path]


def configs_in(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*.parquet")))


def read_config(root: str | Path, config: str, split: str = "train") -> Dataset:
    """The rows of ``<root>/<config>/<split>-*.parquet``."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such dataset folder")
    files = sorted((root / config).glob(f"{split}-*.parquet"))
    if not files:
        raise ExportError(
            f"{root}: no {config}/{split}-*.parquet; configs here: {', '.join(configs_in(root))}"
        )
    # Read directly (no datasets cache: a rebuilt folder must never read stale rows).
    return Dataset(pa.concat_tables([pq.read_table(f) for f in files]))


def export_dir(
    root: str | Path,
    config: str,
    fmt: str,
    out: str | Path,
    *,
    split: str = "train",
    prompt: str | None = None,
    name: str | None = None,
    **options: Any,
) -> Exported:
    """Export ``config`` of the built folder ``root`` to ``fmt`` at ``out``.

    Parquet formats write the file ``out`` (``.parquet``). llamafactory writes
    ``out/<name>.jsonl`` and adds ``name`` to ``out/dataset_info.json`` (other entries
    are kept); ``name`` defaults to ``<folder>_<config>``. Trace configs get their
    questions from the folder's ``problems`` (``subtasks`` for sub_samples).
    """
    root, out = Path(root), Path(out)
    if fmt == "w2s-nested":
        return _export_w2s(root, config, out, split)
    if fmt == "stv-oracle":
        return _export_stv_oracle(root, config, out, split)
    if fmt == "mathcritique":
        return _export_mathcritique(root, config, out, split, options.get("style") or "alpaca")
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    ds = read_config(root, config, split)
    problems = None
    if kind_of(config, ds.column_names).needs_problems:
        problems = read_config(root, PROBLEMS_CONFIG.get(config, "problems"))
    if fmt == "llamafactory":
        converted = convert(ds, fmt, config=config, prompt=prompt, problems=problems, **options)
        written = _write_llamafactory(converted, out, name or f"{root.name}_{config}", options)
        return Exported(converted, written)
    if out.suffix != ".parquet":
        raise ExportError(f"--out {out}: {fmt} writes one parquet file; name it *.parquet")
    converted = convert(ds, fmt, config=config, prompt=prompt, problems=problems, **options)
    table = converted.dataset.data.table
    if fmt == "verl":
        schema = verl.DISTILL_SCHEMA if converted.kind == "distill" else verl.SCHEMA
        table = table.select(schema.names).cast(schema)
    _atomic(out, lambda tmp: pq.write_table(_plain(table), tmp))
    return Exported(converted, [out])


def _export_w2s(root: Path, config: str, out: Path, split: str) -> Exported:
    from supdata.export.w2s import to_w2s_nested

    if config != "pairs":
        raise ExportError(
            f"w2s-nested is built from the pairs config (with sub_pairs), not {config!r}"
        )
    if out.suffix != ".json":
        raise ExportError(f"--out {out}: w2s-nested writes one JSON list; name it *.json")
    has_subs = (root / "sub_pairs").is_dir()
    sub_pairs = read_config(root, "sub_pairs", split) if has_subs else None
    pairs = read_config(root, "pairs", split)
    entries, skipped = to_w2s_nested(pairs, sub_pairs)
    text = json.dumps(entries, indent=4, ensure_ascii=False) + "\n"
    _atomic(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    ids = Dataset.from_dict({"ori_id": [e["ori_id"] for e in entries]})  # for the counts
    return Exported(Converted(ids, len(pairs), skipped, "pair"), [out])


def _export_mathcritique(root: Path, config: str, out: Path, split: str, style: str) -> Exported:
    from supdata.export.mathcritique import to_mathcritique

    if out.suffix != ".json":
        raise ExportError(f"--out {out}: mathcritique writes one JSON list; name it *.json")
    ds = read_config(root, config, split)
    if kind_of(config, ds.column_names).name != "sft":
        raise ExportError(
            f"mathcritique is built from a prompt/completion config (critic_sft, refine_sft, "
            f"selfimprove_sft, selfimprove_rN), not {config!r}"
        )
    rows = to_mathcritique(ds.to_list(), style)
    text = json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    _atomic(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return Exported(Converted(ds.select_columns(["id"]), len(ds), {}, "sft"), [out])


def _export_stv_oracle(root: Path, config: str, out: Path, split: str) -> Exported:
    from supdata.export.stv import to_stv_oracle

    if config != "verifier_rl":
        raise ExportError(
            f"stv-oracle is built from the verifier_rl config (bins) with problems, not {config!r}"
        )
    if out.exists() and not out.is_dir():
        raise ExportError(
            f"--out {out}: stv-oracle writes {{split}}_problems_{{bin}}.jsonl files into a folder"
        )
    attempts = read_config(root, config, split)
    by_bin = to_stv_oracle(attempts, read_config(root, "problems", split))
    written = []
    for name, rows in sorted(by_bin.items()):
        target = out / f"{split}_problems_{name}.jsonl"
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        _atomic(target, lambda tmp, lines=lines: tmp.write_text(lines, encoding="utf-8"))
        written.append(target)
    ids = Dataset.from_dict({"id": [r["id"] for rows in by_bin.values() for r in rows]})
    return Exported(Converted(ids, len(attempts), {}, "verifier"), written)


def _plain(table: pa.Table) -> pa.Table:
    """Without the datasets metadata: the file's schema is the columns alone."""
    return table.replace_schema_metadata(None)


def _write_llamafactory(converted: Converted, out: Path, name: str, options: dict) -> list[Path]:
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {out}: llamafactory writes into a folder (its data dir)")
    out.mkdir(parents=True, exist_ok=True)
    data = out / f"{name}.jsonl"
    info_path = out / "dataset_info.json"
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.is_file() else {}
    style = options.get("style") or "sharegpt"
    ranking = converted.kind == "pair"
    info[name] = llamafactory.dataset_info_entry(data.name, style, ranking=ranking)
    lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in converted.dataset)
    _atomic(data, lambda tmp: tmp.write_text(lines, encoding="utf-8"))
    text = json.dumps(info, indent=2, ensure_ascii=False) + "\n"
    _atomic(info_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return [data, info_path]


def _atomic(path: Path, write) -> None:
    """Write through a temp file in the same folder, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

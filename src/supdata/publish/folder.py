"""Write a Hub-ready dataset folder atomically: built in a temp folder, renamed at the end."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from supdata.core.rows import Row, check_rows
from supdata.publish.schemas import validate_rows

# A folder supdata built holds stats.json naming the supdata version that wrote it: that
# is the mark `--out` looks for before replacing a folder.
MARKER = "stats.json"


class OutputError(ValueError):
    """An output path supdata will not write to (it would replace what it did not make)."""


def made_by_supdata(path: Path) -> bool:
    try:
        stats = json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(stats, dict) and "supdata_version" in stats


def check_out(out: str | Path, *, force: bool = False, protect: tuple[Path, ...] = ()) -> Path:
    """Refuse an output path before any stage runs: supdata replaces only a folder it
    made itself (it holds ``MARKER``); ``force`` overrides that, never for the current
    folder, a folder above it, or one holding an input file (``protect``)."""
    out = Path(out)
    resolved = out.resolve()
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: is a file, not a dataset folder")
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        raise OutputError(
            f"--out {out}: is the current folder (or holds it); name a new folder instead"
        )
    for path in protect:
        inside = path.resolve()
        if inside == resolved or resolved in inside.parents:
            raise OutputError(f"--out {out}: holds the input file {path}; it would be replaced")
    if out.is_dir() and any(out.iterdir()) and not made_by_supdata(out) and not force:
        raise OutputError(
            f"--out {out}: exists and was not made by supdata (no {MARKER} of supdata's); supdata "
            "replaces only folders it built. Pick another folder, or pass --force"
        )
    return out


class DatasetFolder:
    """Collects configs, then publishes them all at once with ``commit()``.

    An interrupted build leaves the previous folder (if any) untouched.
    """

    def __init__(self, out: str | Path, *, force: bool = False) -> None:
        self.out = Path(out)
        self.force = force
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", dir=self.out.parent))
        self.configs: dict[str, int] = {}
        self.sizes: dict[str, dict[str, int]] = {}  # per config: arrow bytes, parquet bytes
        self.splits: dict[str, str] = {}
        self.schemas: dict[str, pa.Schema] = {}  # per config: the Arrow schema written

    @property
    def path(self) -> Path:
        """The folder being built (renamed to ``out`` by ``commit``)."""
        return self._tmp

    def add_config(
        self,
        config: str,
        data: pa.Table | Iterable[pa.RecordBatch],
        split: str = "train",
        *,
        shard_rows: int = 100_000,
        row: type[Row] | None = None,
        num_rows: int | None = None,
        schema: pa.Schema | None = None,
    ) -> list[Path]:
        """Check every row against its row model (``row``, else the config's in the
        builder registry), then write ``<config>/<split>-NNNNN-of-NNNNN.parquet``.

        ``data`` is a table, or record batches streamed from disk (then ``num_rows`` and
        ``schema`` are required): one batch is checked and written at a time."""
        if isinstance(data, pa.Table):
            num_rows, schema, batches = data.num_rows, data.schema, data.to_batches()
        elif num_rows is None or schema is None:
            raise TypeError("add_config: record batches need num_rows and schema")
        else:
            batches = data
        count = max(1, -(-num_rows // shard_rows))
        paths = [
            self._tmp / config / f"{split}-{i:05d}-of-{count:05d}.parquet" for i in range(count)
        ]
        paths[0].parent.mkdir(parents=True, exist_ok=True)
        written, nbytes, writer = 0, 0, None
        try:
            for batch in batches:
                rest = batch
                while rest.num_rows:
                    shard, room = divmod(written, shard_rows)
                    piece = rest.slice(0, shard_rows - room)
                    rest = rest.slice(piece.num_rows)
                    if row is None:
                        validate_rows(config, piece.to_pylist(), written)
                    else:
                        check_rows(config, row, piece.to_pylist(), written)
                    if room == 0:
                        if writer is not None:
                            writer.close()
                        writer = _parquet_writer(paths[shard], schema)
                    writer.write_batch(piece)
                    written += piece.num_rows
                    nbytes += piece.nbytes
            if writer is None:  # an empty config: one empty file with its schema
                writer = _parquet_writer(paths[0], schema)
        finally:
            if writer is not None:
                writer.close()
        if written != num_rows:
            raise ValueError(f"config {config!r}: {written} rows written, {num_rows} expected")
        self.configs[config] = written
        self.sizes[config] = {
            "num_bytes": nbytes,
            "download_size": sum(p.stat().st_size for p in paths),
        }
        self.splits[config] = split
        self.schemas[config] = schema
        return paths

    def write_text(self, name: str, text: str) -> None:
        (self._tmp / name).write_text(text, encoding="utf-8")

    def write_json(self, name: str, data: Any) -> None:
        self.write_text(name, json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    def write_yaml(self, name: str, data: Any) -> None:
        self.write_text(name, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))

    def commit(self) -> Path:
        check_out(self.out, force=self.force)  # again: the folder may have changed since
        old = None
        if self.out.exists():
            old = self.out.with_name(f".{self.out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            self.out.rename(old)
        self._tmp.rename(self.out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.out

    def abort(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> DatasetFolder:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is not None:
            self.abort()


def _parquet_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    """Every page carries a CRC, so ``supdata validate`` notices a flipped byte anywhere."""
    return pq.ParquetWriter(path, schema, compression="zstd", write_page_checksum=True)

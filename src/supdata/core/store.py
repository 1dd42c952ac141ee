"""Stage outputs on disk: records written in parquet shards as a stage yields them, and
read back shard by shard, so a build holds one shard of each stream it touches, never a
stage's whole output.

A stage's folder is written as ``<name>.partial/`` and renamed to ``<name>/`` only when
the last shard is down: a reader (or a resumed build) never sees half a stage. Stages
that need a whole view (mixtures, pairing by problem) scan the shards lazily with
polars (``StageData.scan``) instead of loading records.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from supdata.core.rows import Row

SHARD_ROWS = 10_000  # records per shard file: a few MB of text, one write at a time
READ_BATCH = 2_048  # rows decoded at a time when a stage iterates records


class StageData:
    """A finished stage's records: iterate them (decoded by the stage's row model, one
    batch at a time, as often as needed), count them from the parquet footers, read
    them as Arrow batches (publishing) or scan them with polars (whole-view stages)."""

    def __init__(self, path: Path, row: type[Row]) -> None:
        self.path = Path(path)
        self.row = row
        self._len: int | None = None

    @property
    def files(self) -> list[Path]:
        return sorted(self.path.glob("part-*.parquet"))

    def __len__(self) -> int:
        if self._len is None:
            self._len = sum(pq.ParquetFile(f).metadata.num_rows for f in self.files)
        return self._len

    def __bool__(self) -> bool:
        return len(self) > 0

    def __iter__(self) -> Iterator[Any]:
        decode = self.row.decode
        for batch in self.batches(READ_BATCH):
            for row in batch.to_pylist():
                yield decode(row)

    def batches(self, size: int = READ_BATCH, columns: list[str] | None = None):
        """Arrow record batches of at most ``size`` rows, in order."""
        for f in self.files:
            yield from pq.ParquetFile(f).iter_batches(batch_size=size, columns=columns)

    def scan(self):
        """A polars LazyFrame over every shard (nothing is read until it is collected)."""
        import polars as pl

        return pl.scan_parquet([str(f) for f in self.files])

    def __repr__(self) -> str:
        return f"StageData({self.path.name!r}, {len(self)} rows)"


class ShardWriter:
    """Encode records with a row model and write them ``shard_rows`` at a time."""

    def __init__(self, path: Path, row: type[Row], shard_rows: int = SHARD_ROWS) -> None:
        if shard_rows < 1:
            raise ValueError(f"shard_rows must be >= 1, got {shard_rows}")
        self.path = Path(path)
        self.row = row
        self.shard_rows = shard_rows
        self.schema = row.arrow_schema()
        self._partial = self.path.with_name(self.path.name + ".partial")
        shutil.rmtree(self._partial, ignore_errors=True)
        self._partial.mkdir(parents=True)
        self._rows: list[dict[str, Any]] = []
        self._shards = 0
        self.count = 0

    def add(self, record: Any) -> None:
        self._rows.append(self.row.encode(record))
        self.count += 1
        if len(self._rows) >= self.shard_rows:
            self._flush()

    def extend(self, records: Iterable[Any]) -> None:
        for record in records:
            self.add(record)

    def _flush(self) -> None:
        table = pa.Table.from_pylist(self._rows, schema=self.schema)
        path = self._partial / f"part-{self._shards:05d}.parquet"
        pq.write_table(table, path, compression="zstd", row_group_size=self.shard_rows)
        self._shards += 1
        self._rows = []

    def close(self) -> StageData:
        """Write the last shard (an empty one for an empty stage, so its schema is on
        disk) and move the folder into place."""
        if self._rows or self._shards == 0:
            self._flush()
        shutil.rmtree(self.path, ignore_errors=True)
        self._partial.rename(self.path)
        return StageData(self.path, self.row)

    def abort(self) -> None:
        shutil.rmtree(self._partial, ignore_errors=True)


def write_stage(path: Path, row: type[Row], records: Iterable[Any]) -> StageData:
    """Write ``records`` (any iterable: a list, or a generator that streams) as a stage."""
    writer = ShardWriter(path, row)
    try:
        writer.extend(records)
    except BaseException:
        writer.abort()
        raise
    return writer.close()

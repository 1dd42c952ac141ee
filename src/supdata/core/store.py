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
import threading
import time
from collections.abc import Callable, Iterable, Iterator
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
        self.closed = False
        # Readers of a stage still being written (``LiveStage``) wait on this condition;
        # the writer notifies it after each record, shard and close.
        self._changed = threading.Condition()

    def add(self, record: Any) -> None:
        encoded = self.row.encode(record)
        with self._changed:
            self._rows.append(encoded)
            self.count += 1
            self._changed.notify_all()
        if len(self._rows) >= self.shard_rows:
            self._flush()

    def extend(self, records: Iterable[Any], stop: Callable[[], None] | None = None) -> None:
        """Add every record; ``stop`` (if given) is asked before each and may raise."""
        for record in records:
            if stop is not None:
                stop()
            self.add(record)

    def write(self, records: Iterable[Any], stop: Callable[[], None] | None = None) -> StageData:
        """Add every record and close; on any error the partial folder goes."""
        try:
            self.extend(records, stop)
        except BaseException:
            self.abort()
            raise
        return self.close()

    def _flush(self) -> None:
        table = pa.Table.from_pylist(self._rows, schema=self.schema)
        path = self._partial / f"part-{self._shards:05d}.parquet"
        pq.write_table(table, path, compression="zstd", row_group_size=self.shard_rows)
        with self._changed:  # readers see the shard on disk and its rows leave memory at once
            self._shards += 1
            self._rows = []
            self._changed.notify_all()

    def shard_path(self, k: int) -> Path:
        """Shard ``k`` where it is now: in the partial folder, or moved into place."""
        partial = self._partial / f"part-{k:05d}.parquet"
        return partial if not self.closed else self.path / partial.name

    def close(self) -> StageData:
        """Write the last shard (an empty one for an empty stage, so its schema is on
        disk) and move the folder into place."""
        if self._rows or self._shards == 0:
            self._flush()
        with self._changed:
            shutil.rmtree(self.path, ignore_errors=True)
            self._partial.rename(self.path)
            self.closed = True
            self._changed.notify_all()
        return StageData(self.path, self.row)

    def abort(self) -> None:
        shutil.rmtree(self._partial, ignore_errors=True)


def write_stage(path: Path, row: type[Row], records: Iterable[Any]) -> StageData:
    """Write ``records`` (any iterable: a list, or a generator that streams) as a stage."""
    return ShardWriter(path, row).write(records)


class StageFailed(RuntimeError):
    """A stage that a reader was waiting on failed, or the build was stopped."""


class LiveStage(StageData):
    """A stage still being written, for stages that run beside it (``runner.flow``).

    Iterating it yields its records in order as they land (those already in a shard on
    disk, then those still in the writer's buffer, decoded through the same Arrow
    schema, so a reader sees exactly what a finished stage's reader would), waiting for
    more until the stage closes. Everything that needs the whole stage (``len``,
    ``scan``, ``batches``, ``files``) waits for it to finish: that is how a stage that
    needs every problem (a mixture, a draw over the whole stage) runs when its inputs are
    complete, with no dependency declared besides reading them."""

    def __init__(self, writer: ShardWriter, cancelled: threading.Event) -> None:
        super().__init__(writer.path, writer.row)
        self.writer = writer
        self._changed = writer._changed
        self._cancelled = cancelled
        self._error: BaseException | None = None
        self._done: StageData | None = None
        # Watermarks: per stage that drives this one's windows (the source, say), how
        # many of its records this stage is done with: every record it will write for
        # them is written. A reader joining on that stage stops at a problem below the
        # mark without waiting for the next problem's first record.
        self.marks: dict[str, int] = {}
        self._marked_at = 0  # records written when the last mark was set

    def mark(self, driver: str, done: int) -> None:
        """The stage is done with the first ``done`` records of ``driver``. Ignored if
        it wrote nothing since the last mark: a first pass over the driver that writes
        nothing (a draw before the rows) must not claim the rows are written."""
        with self._changed:
            if self.writer.count > self._marked_at:
                self._marked_at = self.writer.count
                self.marks[driver] = max(done, self.marks.get(driver, 0))
                self._changed.notify_all()

    def finish(self, data: StageData) -> None:
        with self._changed:
            self._done = data
            self._changed.notify_all()

    def fail(self, error: BaseException) -> None:
        with self._changed:
            self._error = error
            self._changed.notify_all()

    @property
    def ended(self) -> bool:
        """Finished or failed: nothing more will be written."""
        return self._done is not None or self._error is not None

    def wake(self) -> None:
        """Let waiting readers see that the build was stopped."""
        with self._changed:
            self._changed.notify_all()

    def check(self) -> None:
        """Raise if the stage failed or the build stopped (called with the lock held)."""
        if self._error is not None:
            raise StageFailed(f"stage {self.path.name!r} failed: {self._error}")
        if self._cancelled.is_set():
            raise StageFailed(f"stage {self.path.name!r}: the build stopped")

    def wait(self) -> StageData:
        """The finished stage (blocks until it is)."""
        with self._changed:
            while self._done is None:
                self.check()
                self._changed.wait(0.5)
            return self._done

    def __len__(self) -> int:
        return len(self.wait())

    def __iter__(self) -> LiveReader:
        return LiveReader(self)

    def batches(self, size: int = READ_BATCH, columns: list[str] | None = None):
        return self.wait().batches(size, columns)

    @property
    def files(self) -> list[Path]:
        return self.wait().files

    def scan(self):
        return self.wait().scan()

    def __repr__(self) -> str:
        state = "finished" if self._done is not None else "running"
        return f"LiveStage({self.path.name!r}, {state}, {self.writer.count} rows so far)"


class LiveReader:
    """One pass over a ``LiveStage``: shard by shard, then the writer's buffer."""

    def __init__(self, stage: LiveStage) -> None:
        self._stage = stage
        self._shard = 0  # the shard the next record is in
        self._offset = 0  # rows of that shard already read
        self._batch: list[Any] = []  # decoded, not yet handed out
        self._next = 0
        self._table: pa.Table | None = None  # a shard read from disk, decoded a batch at a time

    def __iter__(self) -> LiveReader:
        return self

    def __next__(self) -> Any:
        while self._next >= len(self._batch):
            self._batch, self._next = self._fetch(), 0
        self._next += 1
        return self._batch[self._next - 1]

    def marked(self, driver: str) -> int:
        """How many records of ``driver`` the stage is done with (``LiveStage.mark``)."""
        return self._stage.marks.get(driver, 0)

    def ready(self, wait_s: float = 0.0) -> bool:
        """Whether the next record (or the end) can be read without waiting; waits up
        to ``wait_s`` for it."""
        stage, w = self._stage, self._stage.writer
        deadline = time.monotonic() + wait_s
        if self._next < len(self._batch) or self._table is not None:
            return True
        with stage._changed:
            while True:
                if self._shard < w._shards or self._offset < len(w._rows) or w.closed:
                    return True
                if stage._error is not None or stage._cancelled.is_set():
                    return True  # the next read raises at once
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                stage._changed.wait(left)

    def _fetch(self) -> list[Any]:
        """The next rows past what was read (raises StopIteration at the end)."""
        stage, w = self._stage, self._stage.writer
        if self._table is not None:  # the rest of a shard read from disk
            table, self._table = self._table, None
            return self._decode(table)
        with stage._changed:
            while True:
                stage.check()
                if self._shard < w._shards:
                    path = w.shard_path(self._shard)
                    break
                if self._offset < len(w._rows):
                    rows = w._rows[self._offset :]
                    self._offset += len(rows)
                    table = pa.Table.from_pylist(rows, schema=w.schema)  # as a shard decodes
                    return [stage.row.decode(r) for r in table.to_pylist()]
                if w.closed:
                    raise StopIteration
                stage._changed.wait(0.5)
        try:
            table = pq.read_table(path)
        except FileNotFoundError:  # moved into place meanwhile
            with stage._changed:
                path = w.shard_path(self._shard)
            table = pq.read_table(path)
        skip, self._shard, self._offset = self._offset, self._shard + 1, 0
        return self._decode(table.slice(skip))

    def _decode(self, table: pa.Table) -> list[Any]:
        """The first ``READ_BATCH`` rows of ``table`` decoded; the rest kept for later."""
        if table.num_rows > READ_BATCH:
            self._table = table.slice(READ_BATCH)
            table = table.slice(0, READ_BATCH)
        return [self._stage.row.decode(r) for r in table.to_pylist()]


_NOTHING = object()

_CURRENT = threading.local()  # the LiveStage the running thread writes (flow builds)


def writing(stage: LiveStage | None) -> None:
    """Set the stage this thread writes (the runner, in each stage's thread)."""
    _CURRENT.stage = stage


def mark(driver: Any, done: int) -> None:
    """Tell readers that the stage running in this thread is done with the first
    ``done`` records of ``driver`` (a stage on disk, or any iterable: ignored); nothing
    outside a flow build."""
    stage = getattr(_CURRENT, "stage", None)
    name = getattr(getattr(driver, "path", None), "name", None)
    if stage is not None and name is not None and isinstance(driver, StageData):
        stage.mark(name, done)

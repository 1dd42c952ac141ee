"""Arrow schemas for the records (derived from their row models), and lossless conversion
to tables and parquet.

Schemas are explicit so that an all-null column (say, no trace has an annotation yet)
keeps its type, and every parquet file of a config has the same schema.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from supdata.core.records.models import ProblemRow, TraceRow
from supdata.core.records.problem import Problem
from supdata.core.records.trace import Trace

TRACE_SCHEMA = TraceRow.arrow_schema()
PROBLEM_SCHEMA = ProblemRow.arrow_schema()
ANNOTATION_TYPE = TRACE_SCHEMA.field("annotation").type

SCHEMAS: dict[type, pa.Schema] = {Problem: PROBLEM_SCHEMA, Trace: TRACE_SCHEMA}

R = TypeVar("R", Problem, Trace)


def to_table(records: Iterable[Problem | Trace], record_type: type[R]) -> pa.Table:
    rows = [r.to_row() for r in records]
    return pa.Table.from_pylist(rows, schema=SCHEMAS[record_type])


def from_table(table: pa.Table, record_type: type[R]) -> list[R]:
    return [record_type.from_row(row) for row in table.to_pylist()]


def write_parquet(table: pa.Table, path: str | Path) -> None:
    """Write atomically: a reader never sees a half-written file. Every page carries a
    CRC, so ``supdata validate`` notices a flipped byte anywhere in the file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        pq.write_table(table, tmp, compression="zstd", write_page_checksum=True)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def read_parquet(path: str | Path, record_type: type[R]) -> list[R]:
    return from_table(pq.read_table(path), record_type)

"""Arrow schemas for the records, and lossless conversion to tables and parquet.

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

from supdata.records.problem import Problem
from supdata.records.trace import Trace

ANNOTATION_TYPE = pa.struct(
    [
        pa.field("labels", pa.list_(pa.bool_())),
        pa.field("first_error_step", pa.int32()),
        pa.field("error_types", pa.list_(pa.string())),
        pa.field("source", pa.string()),
    ]
)

TRACE_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("problem_id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("steps", pa.list_(pa.string()), nullable=False),
        pa.field("origin", pa.string(), nullable=False),
        pa.field("final_answer", pa.string()),
        pa.field("status", pa.string()),
        pa.field("correct", pa.bool_()),
        pa.field("model", pa.string()),
        pa.field("sampling", pa.string(), nullable=False),
        pa.field("seed", pa.int64()),
        pa.field("parent_id", pa.string()),
        pa.field("annotation", ANNOTATION_TYPE),
    ]
)

PROBLEM_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("question", pa.string(), nullable=False),
        pa.field("reference_solution", pa.string(), nullable=False),
        pa.field("reference_answer", pa.string()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("level", pa.int32()),
        pa.field("subject", pa.string()),
        pa.field("meta", pa.string(), nullable=False),
        pa.field("solutions", pa.list_(pa.struct(list(TRACE_SCHEMA))), nullable=False),
    ]
)

SCHEMAS: dict[type, pa.Schema] = {Problem: PROBLEM_SCHEMA, Trace: TRACE_SCHEMA}

R = TypeVar("R", Problem, Trace)


def to_table(records: Iterable[Problem | Trace], record_type: type[R]) -> pa.Table:
    rows = [r.to_row() for r in records]
    return pa.Table.from_pylist(rows, schema=SCHEMAS[record_type])


def from_table(table: pa.Table, record_type: type[R]) -> list[R]:
    return [record_type.from_row(row) for row in table.to_pylist()]


def write_parquet(table: pa.Table, path: str | Path) -> None:
    """Write atomically: a reader never sees a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        pq.write_table(table, tmp, compression="zstd")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def read_parquet(path: str | Path, record_type: type[R]) -> list[R]:
    return from_table(pq.read_table(path), record_type)

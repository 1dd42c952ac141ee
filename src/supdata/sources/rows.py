"""Reading raw source rows, each named by where it came from, bad ones included.

A reader yields one ``SourceRow`` per row of the file: ``data`` is the row (a dict), or
None for a row that cannot be read (broken JSON, not an object, bytes that are not
UTF-8, too many fields), with ``reason`` (a short category, counted) and ``detail``.
What happens to a bad row is the caller's policy (docs/sources.md): the source counts
and skips it, or with ``strict: true`` aborts naming it.

A file whose structure cannot be read at all (a ``.json`` array that does not parse, a
parquet file with corrupt bytes) is not a bad row: ``SourceError`` names the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BOM = codecs.BOM_UTF8


class SourceError(ValueError):
    """A source that cannot be read, or rows that contradict each other (duplicate ids);
    the message names the file and the row(s)."""


@dataclass(frozen=True, slots=True)
class SourceRow:
    where: str  # "data.jsonl:12", "data.json[3]", "data.parquet: row 7"
    data: dict[str, Any] | None
    reason: str = ""  # bad rows: the counted category, e.g. "not valid JSON"
    detail: str = ""

    @property
    def message(self) -> str:
        return f"{self.where}: {self.reason}" + (f" ({self.detail})" if self.detail else "")


def checked(where: str, value: Any) -> SourceRow:
    """A row from a parsed value: an object whose text is valid Unicode, else a bad row."""
    if not isinstance(value, dict):
        got = "null" if value is None else type(value).__name__
        return SourceRow(where, None, "not a JSON object", f"got {got}")
    bad = _first_bad_text(value)
    if bad is not None:
        return SourceRow(where, None, "not UTF-8", f"undecodable or lone surrogate in {bad!r}")
    return SourceRow(where, value)


def _first_bad_text(value: Any, path: str = "") -> str | None:
    """The field path of the first string holding a lone surrogate (a byte that was not
    UTF-8, decoded with surrogateescape, or a ``\\udcxx`` escape): such text cannot be
    written to parquet, so the row is bad."""
    stack = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            if _has_surrogate(item):
                return where or "<row>"
        elif isinstance(item, dict):
            for k, v in item.items():
                if isinstance(k, str) and _has_surrogate(k):
                    return f"{where}.{k!r}".lstrip(".")
                stack.append((f"{where}.{k}".lstrip("."), v))
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(item))
    return None


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def jsonl_rows(path: Path, shown: str) -> Iterator[SourceRow]:
    """One JSON object per line; blank lines are skipped; a BOM on the first line is
    dropped; each line is decoded on its own, so one bad byte spoils one row."""
    with path.open("rb") as f:
        for lineno, line_bytes in enumerate(f, 1):
            raw = (
                line_bytes[len(BOM) :] if lineno == 1 and line_bytes.startswith(BOM) else line_bytes
            )
            where = f"{shown}:{lineno}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield SourceRow(
                    where,
                    None,
                    "not UTF-8",
                    f"byte 0x{raw[exc.start]:02x} at column {exc.start + 1}",
                )
                continue
            if not line.strip():
                continue
            try:
                value = _loads(line)
            except json.JSONDecodeError as exc:
                yield SourceRow(where, None, "not valid JSON", f"{exc.msg} at column {exc.colno}")
                continue
            except RecursionError:
                yield SourceRow(where, None, "not valid JSON", "nested too deeply to read")
                continue
            yield checked(where, value)


def _int(digits: str) -> int | str:
    """A JSON integer; one past Python's int conversion limit (4,300 digits) stays its
    digit string, which is what an answer becomes anyway."""
    try:
        return int(digits)
    except ValueError:
        return digits


def _loads(text: str) -> Any:
    """``json.loads`` for source rows: integers past the conversion limit stay text."""
    return json.loads(text, parse_int=_int)


def json_rows(path: Path, shown: str) -> Iterator[SourceRow]:
    """A JSON array of objects (or one object), else JSON lines. Bytes that are not
    UTF-8 spoil only the element that holds them."""
    data = path.read_bytes()
    if data.startswith(BOM):
        data = data[len(BOM) :]
    text = data.decode("utf-8", errors="surrogateescape")
    head = text.lstrip()[:1]
    if head != "[":
        try:
            value = _loads(text)
        except (json.JSONDecodeError, RecursionError):
            yield from jsonl_rows(path, shown)  # one object per line
            return
        yield checked(f"{shown}:1", value)
        return
    try:
        value = _loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(
            f"{shown}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}); "
            "the array cannot be read row by row"
        ) from None
    except RecursionError:
        raise SourceError(
            f"{shown}: not valid JSON (nested too deeply to read); "
            "the array cannot be read row by row"
        ) from None
    for i, item in enumerate(value):
        yield checked(f"{shown}[{i}]", item)


def csv_rows(path: Path, shown: str) -> Iterator[SourceRow]:
    """A header line, then one row per record; rows named by their (last) line."""
    data = path.read_bytes()
    if data.startswith(BOM):
        data = data[len(BOM) :]
    text = data.decode("utf-8", errors="surrogateescape")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise SourceError(f"{shown}:1: cannot read the CSV header ({exc})") from None
    if len(set(header)) != len(header):
        dups = sorted({h for h in header if header.count(h) > 1})
        raise SourceError(f"{shown}:1: the CSV header names columns twice: {dups}")
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield SourceRow(f"{shown}:{reader.line_num}", None, "not valid CSV", str(exc))
            continue
        where = f"{shown}:{reader.line_num}"
        if not record or record == [""]:
            continue
        if len(record) != len(header):
            yield SourceRow(
                where,
                None,
                "wrong number of CSV fields",
                f"{len(record)} fields, the header has {len(header)}",
            )
            continue
        yield checked(where, dict(zip(header, record, strict=True)))


def parquet_rows(path: Path, shown: str) -> Iterator[SourceRow]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    index = 0
    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                yield SourceRow(f"{shown}: row {index}", row)
                index += 1
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(
            f"{shown}: not a readable parquet file (after {index} rows: "
            f"{type(exc).__name__}: {exc})"
        ) from None


def item_rows(items: Iterable[Any], shown: str) -> Iterator[SourceRow]:
    """Rows from an iterable of already-parsed items (datasets, generators)."""
    for i, item in enumerate(items):
        yield checked(f"{shown}: row {i}", item)


READERS = {"jsonl": jsonl_rows, "json": json_rows, "csv": csv_rows, "parquet": parquet_rows}

"""Evaluation benchmarks to check against: named Hub entries, or local files.

A named entry knows its Hub id, config, split and text field. Giving ``file:`` reads a
local copy instead (jsonl, json or parquet), which is how builds run offline; the Hub is
only contacted at build time, when no file is given. Validation never loads data: it
checks names, and that a given file exists and has the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

MATH_SUBJECTS = (
    "algebra",
    "counting_and_probability",
    "geometry",
    "intermediate_algebra",
    "number_theory",
    "prealgebra",
    "precalculus",
)


@dataclass(frozen=True)
class HubBenchmark:
    """Where a named benchmark lives on the Hub."""

    hub: str
    split: str
    field: str
    configs: tuple[str | None, ...] = (None,)
    id_field: str | None = None
    what: str = ""


REGISTRY: dict[str, HubBenchmark] = {
    "math500": HubBenchmark(
        "HuggingFaceH4/MATH-500", "test", "problem", id_field="unique_id", what="MATH-500"
    ),
    "math_test": HubBenchmark(
        "EleutherAI/hendrycks_math",
        "test",
        "problem",
        configs=MATH_SUBJECTS,
        what="MATH test set (5,000 problems)",
    ),
    "gsm8k_test": HubBenchmark(
        "openai/gsm8k", "test", "question", configs=("main",), what="GSM8K test set"
    ),
    "aime24": HubBenchmark(
        "HuggingFaceH4/aime_2024", "train", "problem", id_field="id", what="AIME 2024"
    ),
    "aime25": HubBenchmark("math-ai/aime25", "test", "problem", id_field="id", what="AIME 2025"),
    "amc23": HubBenchmark("math-ai/amc23", "test", "question", id_field="id", what="AMC 2023"),
    "aimo_aime": HubBenchmark(
        "AI-MO/aimo-validation-aime", "train", "problem", id_field="id", what="AIME 2022-2024"
    ),
    "aimo_amc": HubBenchmark(
        "AI-MO/aimo-validation-amc", "train", "problem", id_field="id", what="AMC 12 2022-2023"
    ),
}


class BenchmarkError(RuntimeError):
    """A benchmark that cannot be read; the message says which and what to do."""


class Benchmark(BaseModel):
    """One benchmark to check against: a registry ``name``, a local ``file`` with its
    ``field``, or any Hub dataset (``hub``, ``split``, ``field``). In a recipe a bare
    string is a registry name."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        None, description=f"registry name ({', '.join(REGISTRY)}) or a label for your own"
    )
    file: str | None = Field(
        None, description="local jsonl/json/parquet copy; used instead of the Hub when given"
    )
    field: str | None = Field(None, description="column holding the problem text")
    id_field: str | None = Field(None, description="column holding the item id (default: row)")
    hub: str | None = Field(None, description="Hub dataset id, for a benchmark not in the registry")
    config: str | None = Field(None, description="Hub dataset config")
    split: str | None = Field(None, description="Hub split")

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _check(self) -> Benchmark:
        known = self.name in REGISTRY
        if not known and self.file is None and self.hub is None:
            if self.name is None:
                raise ValueError("a benchmark needs a name, a file or a hub id")
            raise ValueError(
                f"unknown benchmark {self.name!r}; known: {sorted(REGISTRY)}, "
                "or give file: and field: (or hub:, split:, field:)"
            )
        if not known and self.field is None:
            raise ValueError(f"benchmark {self.label!r}: field: is required (the problem column)")
        if self.hub is not None and self.split is None:
            raise ValueError(f"benchmark {self.label!r}: hub: needs split:")
        if self.file is not None:
            columns = file_columns(Path(self.file))
            for name in (self.text_field, self.id_field):
                if name is not None and name not in columns:
                    raise ValueError(
                        f"benchmark {self.label!r}: {self.file} has no column {name!r} "
                        f"(columns: {sorted(columns)})"
                    )
        return self

    @property
    def label(self) -> str:
        if self.name is not None:
            return self.name
        if self.file is None:
            return str(self.hub)
        path = Path(self.file)  # gsm8k/test.jsonl -> gsm8k/test: a bare "test" says little
        return f"{path.parent.name}/{path.stem}" if path.parent.name else path.stem

    @property
    def text_field(self) -> str:
        return self.field or REGISTRY[self.name].field  # type: ignore[index]

    def describe(self) -> str:
        """Where the items came from, for the card and the report."""
        if self.file is not None:
            return f"file {self.file} (field {self.text_field})"
        entry = REGISTRY.get(self.name or "")
        hub = self.hub or entry.hub  # type: ignore[union-attr]
        split = self.split or entry.split  # type: ignore[union-attr]
        return f"Hub {hub}, split {split} (field {self.text_field})"

    def fingerprint(self) -> dict[str, Any]:
        """What the items depend on: the spec, plus a local file's size and time."""
        spec = self.model_dump(mode="json")
        if self.file is not None and Path(self.file).is_file():
            stat = Path(self.file).stat()
            spec["file_state"] = [stat.st_size, stat.st_mtime_ns]
        return spec

    def items(self) -> list[tuple[str, str]]:
        """(item id, problem text) of every item; a clear error when unreadable."""
        rows = read_rows(Path(self.file)) if self.file is not None else self._hub_rows()
        field, id_field = self.text_field, self.id_field
        if id_field is None and self.name in REGISTRY:
            id_field = REGISTRY[self.name].id_field  # a local copy may lack it: row number
        out = []
        for i, row in enumerate(rows):
            text = row.get(field)
            if not isinstance(text, str) or not text.strip():
                continue
            key = row.get(id_field) if id_field else None
            out.append((str(key) if key is not None else str(i), text))
        if not out:
            raise BenchmarkError(f"benchmark {self.label!r}: no items with text in {field!r}")
        return out

    def _hub_rows(self) -> list[dict[str, Any]]:
        entry = REGISTRY.get(self.name or "")
        hub = self.hub or entry.hub  # type: ignore[union-attr]
        split = self.split or entry.split  # type: ignore[union-attr]
        configs = (self.config,) if self.hub or self.config else entry.configs  # type: ignore[union-attr]
        try:
            import datasets

            rows: list[dict[str, Any]] = []
            for config in configs:
                rows += list(datasets.load_dataset(hub, config, split=split))
        except Exception as exc:  # offline, gated, renamed: all say the same thing
            raise BenchmarkError(
                f"benchmark {self.label!r}: cannot load {hub} (split {split}) from the Hub: "
                f"{type(exc).__name__}: {str(exc)[:200]}. Offline? Give a local copy with "
                f"file: PATH (field: {self.text_field})"
            ) from exc
        return rows


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a local jsonl, json (array or lines) or parquet file."""
    if not path.is_file():
        raise BenchmarkError(f"benchmark file {str(path)!r} does not exist")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        return json.loads(text)
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise BenchmarkError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
    return rows


def file_columns(path: Path) -> set[str]:
    """Column names of a local benchmark file, read cheaply (schema or first row)."""
    if not path.is_file():
        raise ValueError(f"benchmark file {str(path)!r} does not exist")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return set(pq.read_schema(path).names)
    with path.open(encoding="utf-8") as f:
        head = f.read(1).lstrip()
        if head == "[":
            rows = read_rows(path)
            return set(rows[0]) if rows else set()
        f.seek(0)
        for line in f:
            if line.strip():
                try:
                    return set(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}: first row is not valid JSON ({exc.msg})") from None
    return set()

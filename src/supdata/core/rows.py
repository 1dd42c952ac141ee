"""Row models: each published row shape is written once, as a pydantic model.

The Arrow schema (parquet), the JSON Schema (``schemas/*.json``, the published contract)
and the check every row passes before it is written all come from that one model.
Strict mode: a value of the wrong type is an error, never coerced.
"""

from __future__ import annotations

import types
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError


@dataclass(frozen=True)
class Arrow:
    """Field metadata: store this field as ``type`` (e.g. int32) instead of the default."""

    type: pa.DataType


Int32 = Annotated[int, Arrow(pa.int32())]
Text = Annotated[str, Field(min_length=1)]  # a non-empty string


class RowSchemaError(ValueError):
    """A row that breaks its config's row model; names the row, the field and the model."""


class Row(BaseModel):
    """Base of every row model. Subclasses list their columns as fields, in column order,
    all without defaults (every column is present in every row; ``X | None`` may be null).
    ``encode`` / ``decode`` convert a stage's records (dataclasses) to and from rows."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @classmethod
    def encode(cls, record: Any) -> dict[str, Any]:
        return record

    @classmethod
    def decode(cls, row: dict[str, Any]) -> Any:
        return row

    @classmethod
    def arrow_schema(cls) -> pa.Schema:
        return _arrow_schema(cls)

    @classmethod
    def json_schema(cls, schema_id: str, title: str, description: str) -> dict[str, Any]:
        """The JSON Schema (draft 2020-12) of this row, as published in ``schemas/``."""
        body = cls.model_json_schema(mode="validation")
        body.pop("title", None)
        body.pop("description", None)
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{schema_id}.json",
            "title": title,
            "description": description,
            **body,
        }


@dataclass(frozen=True)
class ConfigSpec:
    """A published config (or a family of them, e.g. ``hard_er*``): its row model and
    the one-line description the card and the JSON Schema give it."""

    row: type[Row]
    description: str


def find_config(configs: dict[str, ConfigSpec], name: str) -> ConfigSpec | None:
    """The spec whose name or pattern (``hard_er*``) matches ``name``; exact names win."""
    if name in configs:
        return configs[name]
    return next((c for p, c in configs.items() if fnmatchcase(name, p)), None)


def schema_stem(pattern: str) -> str:
    """``hard_er*`` -> ``hard_er``, ``mix_*`` -> ``mix``: the schema file of a family."""
    return pattern.rstrip("*").rstrip("_") if pattern.endswith("*") else pattern


def check_rows(
    config: str, model: type[Row], rows: Iterable[dict[str, Any]], start: int = 0
) -> int:
    """Raise on the first row that breaks ``model``; return the row count. ``start`` is
    the index of the first row (a chunk of a longer config) for the message."""
    validate = model.__pydantic_validator__.validate_python
    n = start
    for n, row in enumerate(rows, start + 1):
        try:
            validate(row)
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            loc = [str(p) for p in err["loc"]]
            msg = err["msg"]
            if err["type"] == "missing":  # the JSON Schema wording, field named
                loc, msg = loc[:-1], f"{loc[-1]!r} is a required property"
            elif err["type"] == "extra_forbidden":
                loc, msg = loc[:-1], f"additional property {loc[-1]!r} is not allowed"
            field = ".".join(loc) or "<row>"
            rid = row.get("id") if isinstance(row, dict) else None
            raise RowSchemaError(
                f"config {config!r}, row {n - 1} (id {rid!r}): field {field}: {msg} "
                f"<{model.__name__}>"
            ) from None
    return n - start


@cache
def _arrow_schema(model: type[BaseModel]) -> pa.Schema:
    return pa.schema(_arrow_fields(model))


def _arrow_fields(model: type[BaseModel]) -> list[pa.Field]:
    fields = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if info.metadata:
            annotation = Annotated[(annotation, *info.metadata)]
        arrow, nullable = _arrow_type(annotation)
        fields.append(pa.field(name, arrow, nullable=nullable))
    return fields


def _arrow_type(annotation: Any) -> tuple[pa.DataType, bool]:
    """(Arrow type, nullable) of a field annotation."""
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *meta = get_args(annotation)
        arrow, nullable = _arrow_type(base)
        explicit = next((m.type for m in meta if isinstance(m, Arrow)), None)
        return (explicit or arrow), nullable
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"a row field may be one type or None, not {annotation}")
        return _arrow_type(args[0])[0], True
    if origin is Literal:
        values = get_args(annotation)
        kinds = {type(v) for v in values if v is not None}
        if len(kinds) != 1:
            raise TypeError(f"a Literal field holds values of one type: {annotation}")
        return _arrow_type(kinds.pop())[0], None in values
    if origin is list:
        (item,) = get_args(annotation)
        return pa.list_(_arrow_type(item)[0]), False
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return pa.struct(_arrow_fields(annotation)), False
    scalar = {bool: pa.bool_(), int: pa.int64(), float: pa.float64(), str: pa.string()}
    if annotation in scalar:
        return scalar[annotation], False
    raise TypeError(f"no Arrow type for row field annotation {annotation!r}")


class Message(Row):
    """One chat message."""

    role: Literal["system", "user", "assistant"]
    content: str


class AssistantMessage(Row):
    """The one assistant turn an SFT row trains on."""

    role: Literal["assistant"]
    content: Text


Messages = Annotated[list[Message], Field(min_length=1)]
Completion = Annotated[list[AssistantMessage], Field(min_length=1, max_length=1)]


__all__ = [
    "Arrow",
    "AssistantMessage",
    "Completion",
    "ConfigSpec",
    "Int32",
    "Message",
    "Messages",
    "Row",
    "RowSchemaError",
    "Text",
    "check_rows",
    "find_config",
    "schema_stem",
]

"""Row validation against the JSON Schemas in ``schemas/``: nothing unvalidated is written."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache, lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from supdata.assets import asset_dir


class RowSchemaError(ValueError):
    """A row that breaks its config's schema; names the row, the field and the schema file."""


@lru_cache(maxsize=1)
def _registry() -> Registry:
    resources = []
    for path in sorted(asset_dir("schemas").glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        resources.append((path.name, Resource.from_contents(schema)))
    return Registry().with_resources(resources)


_FAMILY = re.compile(r"^(?P<family>[a-z]+_er)\d+$")


@cache
def validator(config: str) -> Draft202012Validator:
    """``schemas/<config>.json``; numbered mixtures (``hard_er30``) share their family's."""
    path = asset_dir("schemas") / _schema_file(config)
    if not path.is_file():
        raise RowSchemaError(f"no schema for config {config!r}: expected {path}")
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=_registry())


def validate_rows(config: str, rows: Iterable[dict[str, Any]]) -> int:
    """Raise on the first row that breaks ``schemas/<config>.json``; return the row count."""
    check = validator(config)
    n = 0
    for n, row in enumerate(rows, 1):
        error = next(iter(sorted(check.iter_errors(row), key=lambda e: e.path)), None)
        if error is not None:
            field = ".".join(str(p) for p in error.absolute_path) or "<row>"
            raise RowSchemaError(
                f"config {config!r}, row {n - 1} (id {row.get('id')!r}): field {field}: "
                f"{error.message} [schemas/{_schema_file(config)}]"
            )
    return n


def _schema_file(config: str) -> str:
    if config.startswith("mix_"):
        return "mix.json"
    family = _FAMILY.match(config)
    if family and not (asset_dir("schemas") / f"{config}.json").is_file():
        return f"{family['family']}.json"
    return f"{config}.json"

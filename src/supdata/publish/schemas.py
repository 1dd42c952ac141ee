"""Row checks before anything is written, and the JSON Schema files of ``schemas/``.

Each config's row model comes from the builder registry (``BuilderSpec.configs``) or is
one of the base configs every build makes. ``schemas/*.json`` are generated from those
models (``supdata schemas --write``) and are the published contract; a test fails when a
file is out of date.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from supdata.builders import builders
from supdata.core.records.models import ProblemRow, ReferenceRow
from supdata.core.rows import ConfigSpec, Row, RowSchemaError, check_rows, find_config, schema_stem

BASE = {
    "problems": ConfigSpec(ProblemRow, "The normalized source problems of a build."),
    "references": ConfigSpec(
        ReferenceRow, "Reference solutions split into steps, verified against their answers."
    ),
}


def all_configs() -> dict[str, ConfigSpec]:
    """Every config name or family any registered builder (or the base) publishes."""
    found = dict(BASE)
    for spec in builders().values():
        for pattern, config in spec.configs.items():
            found.setdefault(pattern, config)
    return found


def config_spec(config: str) -> tuple[str, ConfigSpec]:
    """(schema file stem, spec) of a config; raises RowSchemaError for an unknown one."""
    configs = all_configs()
    spec = find_config(configs, config)
    if spec is None:
        raise RowSchemaError(
            f"no schema for config {config!r}: no builder publishes it (known: {sorted(configs)})"
        )
    pattern = config if config in configs else next(p for p, c in configs.items() if c is spec)
    return schema_stem(pattern), spec


def row_model(config: str) -> type[Row]:
    return config_spec(config)[1].row


def validate_rows(config: str, rows: Iterable[dict[str, Any]], start: int = 0) -> int:
    """Raise on the first row that breaks the config's row model; return the row count."""
    stem, spec = config_spec(config)
    try:
        return check_rows(config, spec.row, rows, start)
    except RowSchemaError as exc:
        text = str(exc)
        where = text.rindex(" <")
        raise RowSchemaError(f"{text[:where]} [schemas/{stem}.json]{text[where:]}") from None


def schema_documents() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema, one per config (family) of every registered builder."""
    docs = {}
    for pattern, spec in all_configs().items():
        stem = schema_stem(pattern)
        title = f"Configs `{pattern.replace('*', 'XX')}`" if "*" in pattern else f"Config `{stem}`"
        docs[f"{stem}.json"] = spec.row.json_schema(stem, title, spec.description)
    return docs


def write_schemas(folder: Path) -> list[str]:
    """Write every schema file into ``folder``; remove files no config has. Returns the
    names that changed."""
    folder.mkdir(parents=True, exist_ok=True)
    docs = schema_documents()
    changed = []
    for name, doc in docs.items():
        text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(name)
    for path in folder.glob("*.json"):
        if path.name not in docs:
            path.unlink()
            changed.append(path.name)
    return sorted(changed)


def stale_schemas(folder: Path) -> list[str]:
    """Schema files in ``folder`` that differ from the row models (or are missing/extra)."""
    docs = schema_documents()
    stale = []
    for name, doc in docs.items():
        text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    stale += [p.name for p in folder.glob("*.json") if p.name not in docs]
    return sorted(stale)

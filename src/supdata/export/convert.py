"""Run a format's row adapter over a Dataset, counting the rows it leaves out."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from datasets import Dataset

from supdata.export.common import Context, ExportError, Skip, problem_table
from supdata.export.registry import FORMATS, formats_for, kind_of

log = logging.getLogger("supdata.export")


@dataclass(frozen=True)
class Converted:
    dataset: Dataset
    rows_in: int
    skipped: dict[str, int]  # reason -> rows
    kind: str


def convert(
    ds: Dataset,
    fmt: str,
    *,
    config: str | None = None,
    problems: Any = None,
    prompt: str | None = None,
    **options: Any,
) -> Converted:
    """Convert ``ds`` (the rows of ``config``) to ``fmt``.

    problems: for trace configs (samples, perturbed, sub_samples), the problems their
        ``problem_id`` points to: a Dataset of problem rows, or a mapping id -> row.
    prompt: prompt id@version wrapping bare questions into chat messages.
    options: the format's own (verl: data_source, split; llamafactory: style).
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    spec = FORMATS[fmt]
    name = config or "<unnamed>"
    kind = kind_of(config, ds.column_names)
    if kind.name not in spec.adapters:
        supported = formats_for(config, ds.column_names)
        raise ExportError(
            f"config {name!r} ({kind.name} rows) cannot feed {fmt}; it supports: "
            f"{', '.join(supported)}"
        )
    missing = kind.columns - set(ds.column_names)
    if missing:
        raise ExportError(
            f"config {name!r}: {kind.name} rows need the columns {sorted(missing)} "
            f"(has: {sorted(ds.column_names)})"
        )
    unknown = set(options) - set(spec.options)
    if unknown:
        raise ExportError(
            f"{fmt} takes no option {sorted(unknown)} (options: {list(spec.options)})"
        )
    ctx = Context(config=config, problems=problem_table(problems), prompt=prompt, options=options)
    adapter = spec.adapters[kind.name]
    rows: list[dict[str, Any]] = []
    skipped: Counter[str] = Counter()
    seen: set[str] = set()
    for row in ds:
        try:
            out = adapter(row, ctx)
        except Skip as skip:
            skipped[skip.reason] += 1
            continue
        key = str(out.get("id") or out.get("extra_info", {}).get("id"))
        if key in seen:  # e.g. a problem's other samples, for one-prompt-per-problem formats
            skipped["repeats an exported prompt (same problem)"] += 1
            continue
        seen.add(key)
        rows.append(out)
    if not rows:
        raise ExportError(
            f"config {name!r}: none of its {len(ds)} rows could be exported to {fmt} "
            f"(skipped: {dict(skipped) or 'none'})"
        )
    if spec.finish is not None:
        rows = spec.finish(rows)
    if skipped:
        log.debug("%s -> %s: skipped %s", name, fmt, dict(skipped))
    return Converted(Dataset.from_list(rows), len(ds), dict(skipped), kind.name)

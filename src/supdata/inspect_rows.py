"""``supdata inspect``: rows in the terminal, steps coloured by label, first error marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from rich.console import Console, Group
from rich.panel import Panel
from rich.text import Text

STATUS_STYLE = {
    "correct": "bold green",
    "incorrect": "bold red",
    "no_answer": "bold yellow",
    "bad_reference": "bold magenta",
    "timeout": "bold magenta",
}


def load_rows(root: Path, config: str) -> list[dict[str, Any]]:
    files = sorted((root / config).glob("*.parquet"))
    if not files:
        known = sorted(p.name for p in root.iterdir() if p.is_dir() and list(p.glob("*.parquet")))
        raise FileNotFoundError(f"{root}: no config {config!r} (configs: {known})")
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def _field_text(value: Any, limit: int = 800) -> str:
    if isinstance(value, list) and value and isinstance(value[0], dict) and "role" in value[0]:
        value = "\n".join(f"[{m['role']}] {m['content']}" for m in value)
    text = str(value)
    return text if len(text) <= limit else text[:limit] + " ..."


def render_row(row: dict[str, Any]) -> Panel:
    if "steps" not in row:  # a problem, pair, mixture or SFT row: its fields, one by one
        body = Text()
        for key, value in row.items():
            if key in ("id", "meta", "solutions") or value in (None, "", []):
                continue
            body.append(f"{key}: ", style="bold")
            body.append(_field_text(value) + "\n")
        return Panel(body, title=row["id"], title_align="left")
    ann = row.get("annotation") or {}
    if not ann and "labels" in row:  # a critique row: the critic's labels
        ann = {
            "labels": row["labels"],
            "first_error_step": row["first_error_step"],
            "source": f"critic, {row['method']}",
        }
    labels = ann.get("labels") or [None] * len(row["steps"])
    first = ann.get("first_error_step", -1)
    lines = Text()
    for i, (step, label) in enumerate(zip(row["steps"], labels, strict=False)):
        style = {True: "green", False: "red", None: ""}[label]
        lines.append(f"{i:>2} ", style="dim")
        lines.append(step.strip(), style=style)
        if i == first:
            lines.append("   <- first error", style="bold red reverse")
        lines.append("\n")
    status = (
        row.get("status")
        or {True: "correct", False: "incorrect", None: "unverified"}[row.get("final_correct")]
    )
    header = Text.assemble(
        (status, STATUS_STYLE.get(status, "bold")),
        f"  answer: {row.get('final_answer')}  origin: {row.get('origin')}",
    )
    if ann:
        header.append(f"  labels: {ann.get('source')}")
    return Panel(Group(header, Text(""), lines), title=row["id"], title_align="left")


def inspect(
    root: str | Path,
    config: str,
    *,
    n: int = 3,
    row_id: str | None = None,
    console: Console | None = None,
) -> int:
    console = console or Console()
    rows = load_rows(Path(root), config)
    if row_id is not None:
        rows = [r for r in rows if r["id"] == row_id or r.get("problem_id") == row_id]
        if not rows:
            raise ValueError(f"{root}/{config}: no row with id or problem_id {row_id!r}")
    for row in rows[:n]:
        console.print(render_row(row))
    console.print(f"{min(n, len(rows))} of {len(rows)} rows shown", style="dim", markup=False)
    return len(rows)

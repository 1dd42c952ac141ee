"""The weak-to-strong paper's published pair layout (``formulate_pref_pairs``): one entry
per original problem, ``{"ori_id", "original": {task, pos_ans, neg_ans}, "subtask_1":
{...}, ...}``, written as one JSON list. Like the paper's file it holds only problems that
kept at least one subtask pair; the rest are counted as skipped."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from datasets import Dataset

from supdata.export.common import ExportError

_SUB = re.compile(r"^(?P<parent>.+)/sub-(?P<k>\d+)$")


def _entry(pair: dict[str, Any]) -> dict[str, str]:
    return {"task": pair["prompt"], "pos_ans": pair["chosen"], "neg_ans": pair["rejected"]}


def to_w2s_nested(
    pairs: Dataset, sub_pairs: Dataset | None
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """``pairs`` and ``sub_pairs`` of one steperror folder in the paper's nested layout:
    (entries, skipped reason -> count). Entries differ in their keys (subtask_1..k), so
    they are plain dicts, not a table."""
    subs: dict[str, dict[int, dict[str, str]]] = defaultdict(dict)
    for row in sub_pairs or []:
        m = _SUB.match(row["problem_id"])
        if m is None:
            raise ExportError(f"sub_pairs row {row['id']!r}: problem_id is not <parent>/sub-<k>")
        subs[m["parent"]][int(m["k"])] = _entry(row)
    entries, skipped = [], 0
    for pair in pairs:
        mine = subs.get(pair["problem_id"])
        if not mine:
            skipped += 1
            continue
        entry: dict[str, Any] = {"ori_id": pair["problem_id"], "original": _entry(pair)}
        entry.update({f"subtask_{k}": mine[k] for k in sorted(mine)})
        entries.append(entry)
    reasons = {"no subtask pair (the paper drops the full task)": skipped} if skipped else {}
    return entries, reasons

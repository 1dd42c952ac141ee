"""One summary of a build's hygiene, from what its stages recorded: stats.json and card."""

from __future__ import annotations

from collections import Counter
from typing import Any

from supdata.hygiene.config import Decontaminate, Dedup

SHOWN = 20  # removed items the card lists; stats.json has them all


def hygiene_summary(
    decontaminate: Decontaminate | None, dedup: Dedup | None, extra: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """``decontamination``: benchmarks, method, removed per benchmark (all stages) and per
    stage with every match; ``dedup``: removed problems and solutions with the params.
    A section the recipe lacks is None (the card says "not checked")."""
    found = {stage: facts["hygiene"] for stage, facts in extra.items() if "hygiene" in facts}
    decon = None
    if decontaminate is not None:
        stages = {s: h["decontamination"] for s, h in found.items() if "decontamination" in h}
        removed: Counter[str] = Counter()
        for report in stages.values():
            removed.update(report["removed"])
        checked = found.get("source", {}).get("checked_against") or {
            "benchmarks": [
                {"name": b.label, "source": b.describe(), "items": None}
                for b in decontaminate.against
            ],
            "ngram": decontaminate.ngram,
            "threshold": decontaminate.threshold,
            "min_words": decontaminate.min_words,
        }
        shown = [
            {"stage": stage, **match}
            for stage, report in stages.items()
            for matches in report["matches"].values()
            for match in matches
        ]
        decon = {
            **checked,
            "removed": {b["name"]: removed.get(b["name"], 0) for b in checked["benchmarks"]},
            "stages": stages,
            "shown": shown[:SHOWN],
        }
    dup = None
    if dedup is not None:
        dup = {
            "problems": found.get("source", {}).get("dedup"),
            "solutions": {
                s: h["dedup"] for s, h in found.items() if s != "source" and "dedup" in h
            },
            "params": dedup.model_dump(mode="json"),
        }
    return {"decontamination": decon, "dedup": dup}

"""What a build spent, per stage and per engine, and what it cost with a price table.

The counters come from the engines (``core.stats.charge``): every call of every engine
during a stage, cached samples included (their token counts were stored with them), so
a build's figures do not depend on how warm the request cache was; ``cached`` says how
many samples the cache served.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from supdata.core.stats import StageStats

COUNTERS = ("requests", "samples", "generated", "cached", "prompt_tokens", "output_tokens")


def price_of(counts: Mapping[str, float], price: Any) -> float | None:
    """The cost of ``counts`` at ``price`` (input_per_mtok, output_per_mtok), or None."""
    if price is None:
        return None
    return round(
        counts.get("prompt_tokens", 0) / 1e6 * price.input_per_mtok
        + counts.get("output_tokens", 0) / 1e6 * price.output_per_mtok,
        6,
    )


def build_usage(stages: Iterable[StageStats], prices: Mapping[str, Any]) -> dict[str, Any]:
    """{stages: {stage: {engine: counters (+ cost)}}, engines: {engine: totals (+ cost)},
    total: counters summed (+ cost where every engine has a price)}."""
    by_stage: dict[str, dict[str, Any]] = {}
    by_engine: dict[str, Counter] = {}
    for stage in stages:
        for engine, counts in sorted(stage.usage.items()):
            by_stage.setdefault(stage.name, {})[engine] = _row(counts, prices.get(engine))
            by_engine.setdefault(engine, Counter()).update(counts)
    engines = {e: _row(c, prices.get(e)) for e, c in sorted(by_engine.items())}
    total = {k: sum(e[k] for e in engines.values()) for k in (*COUNTERS, "too_long")}
    costs = [e.get("cost") for e in engines.values()]
    total["cost"] = round(sum(costs), 6) if costs and None not in costs else None
    return {"stages": by_stage, "engines": engines, "total": total}


def _row(counts: Mapping[str, float], price: Any) -> dict[str, Any]:
    row: dict[str, Any] = {k: _round(counts.get(k, 0)) for k in (*COUNTERS, "too_long", "seconds")}
    cost = price_of(counts, price)
    if cost is not None:
        row["cost"] = cost
    return row


def _round(value: float) -> float:
    return round(value, 3) if isinstance(value, float) else value

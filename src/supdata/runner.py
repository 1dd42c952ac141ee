"""The build runner: stages in order, counters per stage, resume after a crash.

Each stage writes its records to a work folder with a completion marker that holds a
fingerprint of everything its output depends on (recipe section, upstream markers,
supdata version). A re-run loads every stage whose marker still matches and runs the
rest; generation stages then find their finished requests in the request cache.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from supdata import __version__
from supdata.engines.registry import Engines
from supdata.recipe import Recipe
from supdata.records import Problem, Trace
from supdata.records.arrow import read_parquet, to_table, write_parquet
from supdata.stats import StageStats

Records = list[Problem] | list[Trace]


@dataclass
class BuildContext:
    recipe: Recipe
    engines: Engines
    outputs: dict[str, Records] = field(default_factory=dict)
    stages: dict[str, Stage] = field(default_factory=dict)
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-stage facts for the card
    shared: dict[str, Any] = field(default_factory=dict)  # per-build objects, never saved


@dataclass(frozen=True)
class Stage:
    """One step of a build. ``run`` reads earlier outputs from the context and returns
    its own records; ``params`` is what, besides its inputs, decides the output. Records
    are Problems, Traces, or plain dict rows with an explicit ``arrow_schema``."""

    name: str
    record_type: type
    needs: tuple[str, ...]
    params: dict[str, Any]
    run: Callable[[BuildContext, StageStats], Records]
    arrow_schema: pa.Schema | None = None
    publish: bool = True  # False: an intermediate that later stages read, not a config

    def table(self, records: Records) -> pa.Table:
        if self.record_type is dict:
            return pa.Table.from_pylist(records, schema=self.arrow_schema)
        return to_table(records, self.record_type)

    def read(self, path: Path) -> Records:
        if self.record_type is dict:
            return pq.read_table(path).to_pylist()
        return read_parquet(path, self.record_type)


class Runner:
    def __init__(self, work: Path, *, log: Callable[[str], None] = print) -> None:
        self.work = work
        self.log = log
        self.stats: dict[str, StageStats] = {}
        self.resumed: list[str] = []

    def run(self, stages: Sequence[Stage], ctx: BuildContext) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        prints: dict[str, str] = {}
        for stage in stages:
            fp = _fingerprint(stage, prints)
            prints[stage.name] = fp
            ctx.stages[stage.name] = stage
            marker = self.work / f"{stage.name}.done.json"
            data = self.work / f"{stage.name}.parquet"
            if marker.is_file():
                saved = json.loads(marker.read_text())
                if saved["fingerprint"] == fp and data.is_file():
                    ctx.outputs[stage.name] = stage.read(data)
                    self.stats[stage.name] = _stats_from(stage.name, saved["stats"])
                    ctx.extra[stage.name] = saved.get("extra", {})
                    self.resumed.append(stage.name)
                    self.log(f"  {stage.name}: done before, loaded {len(ctx.outputs[stage.name])}")
                    continue
            stats = StageStats(stage.name)
            with stats:
                records = stage.run(ctx, stats)
            ctx.outputs[stage.name] = records
            self.stats[stage.name] = stats
            write_parquet(stage.table(records), data)
            tmp = marker.with_suffix(".tmp")
            tmp.write_text(
                json.dumps(
                    {
                        "fingerprint": fp,
                        "stats": stats.to_dict(),
                        "extra": ctx.extra.get(stage.name, {}),
                    }
                )
            )
            tmp.replace(marker)  # the marker lands only after its data

    def clean(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)


def _fingerprint(stage: Stage, upstream: dict[str, str]) -> str:
    payload = {
        "version": __version__,
        "stage": stage.name,
        "params": stage.params,
        "needs": {n: upstream[n] for n in stage.needs},
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _stats_from(name: str, saved: dict[str, Any]) -> StageStats:
    stats = StageStats(name, n_in=saved["in"], n_out=saved["out"], seconds=saved["seconds"])
    stats.dropped.update(saved["dropped"])
    stats.examples.update(saved["dropped_examples"])
    stats.counts.update(saved["counts"])
    return stats

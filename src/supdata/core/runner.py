"""The build runner: stages in order, counters per stage, resume after a crash.

Each stage's records stream into parquet shards in the work folder as the stage yields
them (``core.store``), then a completion marker lands that holds a fingerprint of
everything the output depends on (recipe section, upstream markers, supdata version).
Later stages read those shards back as iterators (``StageData``), so no stage's output
stays in memory. A re-run reuses every stage whose marker still matches and runs the
rest; generation stages then find their finished requests in the request cache.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supdata import __version__
from supdata.core.records import Problem, Trace
from supdata.core.rows import Row
from supdata.core.stats import StageStats
from supdata.core.store import StageData, write_stage

if TYPE_CHECKING:
    from supdata.engines.registry import Engines
    from supdata.recipe import Recipe

# What a stage returns: a list, or any iterable (a generator streams into the shards);
# what later stages find in ``BuildContext.outputs``: the records on disk.
Records = Iterable[Problem] | Iterable[Trace] | Iterable[dict[str, Any]]


@dataclass
class BuildContext:
    recipe: Recipe
    engines: Engines
    outputs: dict[str, StageData] = field(default_factory=dict)
    stages: dict[str, Stage] = field(default_factory=dict)
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)  # per stage, for the card
    shared: dict[str, Any] = field(default_factory=dict)  # per-build objects, never saved


@dataclass
class Output:
    """What a stage returns when it has facts for the card besides its records (the
    engine and prompt that made them, hygiene reports); saved with its marker. A stage
    that streams its records may fill ``facts`` while they are consumed: the runner
    reads it after the last record."""

    records: Records
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class Figures:
    """What a published config adds to the card: ``measured`` goes to
    ``stats.measured[config]``, ``stats`` to the top level of stats.json, and each plot
    is drawn into the folder (``draw(path)``)."""

    measured: dict[str, Any] | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    plots: list[Plot] = field(default_factory=list)
    steps: list[int] | None = None  # steps per solution, for the card's steps plot


@dataclass(frozen=True)
class Plot:
    path: str  # inside the folder, e.g. plots/samples_swer.png
    what: str  # alt text and caption
    draw: Callable[[Path], None]


@dataclass(frozen=True)
class Stage:
    """One step of a build. ``run`` reads earlier outputs from the context and returns
    its records (or an ``Output`` with facts), a list or an iterator that streams;
    ``params`` is what, besides its inputs, decides the output. ``row`` is the records'
    row model: their Arrow schema, their check before publishing, and the conversion of
    records to rows. A published stage is a config, described on the card by
    ``description`` and ``figures`` (which read the records from disk, once)."""

    name: str
    row: type[Row]
    needs: tuple[str, ...]
    params: dict[str, Any]
    run: Callable[[BuildContext, StageStats], Records | Output]
    publish: bool = True  # False: an intermediate that later stages read, not a config
    description: str = ""
    figures: Callable[[str, StageData, BuildContext], Figures] | None = None


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
            data = self.work / stage.name
            if marker.is_file():
                saved = json.loads(marker.read_text())
                if saved["fingerprint"] == fp and data.is_dir():
                    ctx.outputs[stage.name] = StageData(data, stage.row)
                    self.stats[stage.name] = _stats_from(stage.name, saved["stats"])
                    ctx.facts[stage.name] = saved.get("facts", {})
                    self.resumed.append(stage.name)
                    self.log(f"  {stage.name}: done before, loaded {len(ctx.outputs[stage.name])}")
                    continue
            stats = StageStats(stage.name)
            self.stats[stage.name] = stats  # what it spends counts at once (budgets)
            marker.unlink(missing_ok=True)  # its old data is about to be replaced
            with stats:  # consuming a streaming stage's records is running it
                result = stage.run(ctx, stats)
                records = result.records if isinstance(result, Output) else result
                ctx.outputs[stage.name] = write_stage(data, stage.row, records)
            if isinstance(result, Output):
                ctx.facts[stage.name] = result.facts
            tmp = marker.with_suffix(".tmp")
            tmp.write_text(
                json.dumps(
                    {
                        "fingerprint": fp,
                        "stats": stats.to_dict(),
                        "facts": ctx.facts.get(stage.name, {}),
                    }
                )
            )
            tmp.replace(marker)  # the marker lands only after its data

    def clean(self) -> None:
        """Remove the work folder (markers, stage data, engine logs) of a finished build;
        a failed build keeps it, so its engine log stays for reading."""
        shutil.rmtree(self.work, ignore_errors=True)


# The order and shape stages write their records in. Later stages join earlier ones from
# disk by that order (``ops.joins``), so a work folder written under another layout is
# never resumed: its stages run again (generation comes back from the request cache).
# 2: every stage writes in the order of the records it came from, problem by problem.
STAGE_LAYOUT = 2


def _fingerprint(stage: Stage, upstream: dict[str, str]) -> str:
    payload = {
        "version": __version__,
        "layout": STAGE_LAYOUT,
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
    for engine, counts in saved.get("usage", {}).items():
        stats.usage[engine] = Counter(counts)
    return stats

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
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supdata import __version__
from supdata.core import progress, store
from supdata.core.records import Problem, Trace
from supdata.core.rows import Row
from supdata.core.stats import StageStats
from supdata.core.store import LiveStage, ShardWriter, StageData, StageFailed

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
    flow: bool = False  # a flow build: stages, and a stage's independent calls, run at once

    def together(self, stats: StageStats, *jobs: Callable[[StageStats], Any]) -> list[Any]:
        """Run a stage's independent steps (RG2 beside RG3, the annotator beside the
        judge), each called with ``stats=`` the counters to use, and return their results
        in order. In a
        flow build they run at once, each in its own thread, so the engine batches their
        requests and neither waits for the other's slowest one; each gets counters of its
        own, added to ``stats`` in job order once all are done, so the stage's counters
        and drop examples do not depend on which finished first. Stage by stage they run
        one after the other on ``stats`` (a budget admits requests in that exact order).
        After all have ended, the first error in job order is raised, a job's own error
        before a stop it caused in another (``StageFailed``: a wait on its claim)."""
        if not self.flow or len(jobs) < 2:
            return [job(stats=stats) for job in jobs]
        parts = [stats.step() for _ in jobs]
        results: list[Any] = [None] * len(jobs)
        errors: list[BaseException | None] = [None] * len(jobs)

        def one(i: int) -> None:
            try:
                with parts[i]:  # the running stage of this thread: this job's counters
                    results[i] = jobs[i](stats=parts[i])
            except BaseException as exc:  # raised in the stage's own thread below
                errors[i] = exc

        name = threading.current_thread().name
        threads = [
            threading.Thread(target=one, args=(i,), name=f"{name} ({i})", daemon=True)
            for i in range(1, len(jobs))
        ]
        for t in threads:
            t.start()
        one(0)
        for t in threads:
            t.join()
        failed = [e for e in errors if e is not None]
        if failed:  # a step's own error before the stops it caused in the others
            raise next((e for e in failed if not isinstance(e, StageFailed)), failed[0])
        for part in parts:
            stats.merge(part)
        return results


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

    def run(self, stages: Sequence[Stage], ctx: BuildContext, *, flow: bool | None = None) -> None:
        """Run ``stages`` (in dependency order): with ``flow`` (the recipe's
        ``runner.flow``, default) every stage to run starts at once in its own thread and
        reads its inputs as they land; without, one stage after the other."""
        self.work.mkdir(parents=True, exist_ok=True)
        if flow is None:
            flow = ctx.recipe.runner.flow
        ctx.flow = flow
        prints: dict[str, str] = {}
        todo: list[tuple[Stage, str]] = []
        for stage in stages:
            fp = _fingerprint(stage, prints)
            prints[stage.name] = fp
            ctx.stages[stage.name] = stage
            if not self._resume(stage, fp, ctx):
                todo.append((stage, fp))
        try:
            if flow and len(todo) > 1:
                Flow(self, ctx).run(todo)
                return
            for stage, fp in todo:
                writer = self._start(stage)
                self._finish(stage, fp, ctx, self._records(stage, ctx, writer))
        finally:  # stats.json lists stages in build order, resumed or not
            order = {stage.name: i for i, stage in enumerate(stages)}
            self.stats = dict(sorted(self.stats.items(), key=lambda kv: order.get(kv[0], 0)))

    def _resume(self, stage: Stage, fp: str, ctx: BuildContext) -> bool:
        """Load a stage finished by an earlier run with the same fingerprint."""
        marker = self.work / f"{stage.name}.done.json"
        data = self.work / stage.name
        if not marker.is_file():
            return False
        saved = json.loads(marker.read_text())
        if saved["fingerprint"] != fp or not data.is_dir():
            return False
        ctx.outputs[stage.name] = StageData(data, stage.row)
        self.stats[stage.name] = _stats_from(stage.name, saved["stats"])
        ctx.facts[stage.name] = saved.get("facts", {})
        self.resumed.append(stage.name)
        self.log(f"  {stage.name}: done before, loaded {len(ctx.outputs[stage.name])}")
        return True

    def _start(self, stage: Stage) -> ShardWriter:
        self.stats[stage.name] = StageStats(stage.name)  # what it spends counts at once
        (self.work / f"{stage.name}.done.json").unlink(missing_ok=True)  # data replaced
        return ShardWriter(self.work / stage.name, stage.row)

    def _records(
        self,
        stage: Stage,
        ctx: BuildContext,
        writer: ShardWriter,
        stop: Callable[[], None] | None = None,
    ) -> dict[str, Any] | None:
        """Run the stage into ``writer`` (``stop`` is asked between records); returns
        its facts (None: it returned records only), read once its records are consumed."""
        stats = self.stats[stage.name]
        with stats:  # consuming a streaming stage's records is running it
            try:
                result = stage.run(ctx, stats)
            except BaseException:
                writer.abort()
                raise
            out = result if isinstance(result, Output) else Output(result, {})
            data = writer.write(out.records, stop)
        ctx.outputs[stage.name] = data
        return out.facts if isinstance(result, Output) else None

    def _finish(self, stage: Stage, fp: str, ctx: BuildContext, facts: dict | None) -> None:
        if facts is not None:
            ctx.facts[stage.name] = facts
        marker = self.work / f"{stage.name}.done.json"
        tmp = marker.with_suffix(".tmp")
        tmp.write_text(
            json.dumps(
                {
                    "fingerprint": fp,
                    "stats": self.stats[stage.name].to_dict(),
                    "facts": ctx.facts.get(stage.name, {}),
                }
            )
        )
        tmp.replace(marker)  # the marker lands only after its data

    def clean(self) -> None:
        """Remove the work folder (markers, stage data, engine logs) of a finished build;
        a failed build keeps it, so its engine log stays for reading."""
        shutil.rmtree(self.work, ignore_errors=True)


class Flow:
    """Every stage to run in its own thread at once, each reading its inputs while they
    are written (``LiveStage``): a problem's samples go on to pairing, annotation and
    perturbation while other problems still sample, and every stage's requests reach
    the one engine together (its own batching does the rest). A stage that needs a whole
    input (``len``, ``scan``) waits for it. Each stage writes its records in the order
    its own code yields them, so rows do not depend on timing; markers land per stage as
    each finishes. The first failure stops the others (their readers and writers raise
    ``StageFailed``) and is raised here."""

    def __init__(self, runner: Runner, ctx: BuildContext) -> None:
        self.runner = runner
        self.ctx = ctx
        self.stopped = threading.Event()
        self.errors: list[tuple[str, BaseException]] = []
        self.lives: dict[str, LiveStage] = {}

    def run(self, todo: list[tuple[Stage, str]]) -> None:
        for stage, _ in todo:
            writer = self.runner._start(stage)
            self.lives[stage.name] = LiveStage(writer, self.stopped)
            self.ctx.outputs[stage.name] = self.lives[stage.name]  # type: ignore[assignment]
        threads = [
            threading.Thread(
                target=self._one, args=(stage, fp), name=f"stage {stage.name}", daemon=True
            )
            for stage, fp in todo
        ]
        names = [stage.name for stage, _ in todo]
        with progress.board(names, self._rows, self._done):
            for t in threads:
                t.start()
            try:
                for t in threads:
                    while t.is_alive():
                        t.join(0.2)
            except BaseException:  # Ctrl-C: stop every stage, keep what finished
                self._stop()
                raise
        if self.errors:
            # the cause, not a stage that stopped because of it
            raise next(
                (e for _, e in self.errors if not isinstance(e, StageFailed)), self.errors[0][1]
            )

    def _one(self, stage: Stage, fp: str) -> None:
        live = self.lives[stage.name]
        store.writing(live)
        try:
            facts = self.runner._records(stage, self.ctx, live.writer, self._check)
            live.finish(self.ctx.outputs[stage.name])
            self.runner._finish(stage, fp, self.ctx, facts)
            self.runner.log(f"  {stage.name}: {self.runner.stats[stage.name].n_out} records")
        except BaseException as exc:
            live.fail(exc)
            self.errors.append((stage.name, exc))
            self._stop()

    def _rows(self, name: str) -> int:
        return self.lives[name].writer.count

    def _done(self, name: str) -> bool:
        return self.lives[name].ended

    def _check(self) -> None:
        if self.stopped.is_set():
            raise StageFailed("the build stopped")

    def _stop(self) -> None:
        self.stopped.set()
        stop = getattr(self.ctx.engines, "stop", None)
        if stop is not None:
            stop()
        for live in self.lives.values():
            live.wake()


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

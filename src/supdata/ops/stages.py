"""Stage pieces every builder uses, against a build context: sample, verify, label,
split references, and the build's benchmark index. Each returns its facts for the card
(which engine and prompt made the records, hygiene reports) instead of stashing them."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from supdata.core import progress, store
from supdata.core.records import Problem, Trace
from supdata.core.runner import BuildContext
from supdata.core.stats import StageStats
from supdata.hygiene.screen import (
    ContaminationReport,
    Decontaminator,
    DuplicateReport,
    dedup_solutions,
)
from supdata.ops.annotate import annotate
from supdata.ops.joins import join_windows, windows
from supdata.ops.judge import add_judged, judge_traces
from supdata.ops.labels.sources import engines_of as labelled_by
from supdata.ops.labels.stage import Labelled, Labeller
from supdata.ops.references import reference_traces
from supdata.ops.sampling import SamplingSection, sample_traces
from supdata.ops.verification import InFlightAnswers, verify_traces

if TYPE_CHECKING:
    from supdata.recipe import Recipe

SAMPLING_FACTS = (
    "n",
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "max_tokens_per_reference",
    "min_tokens",
    "length_range",
    "seed",
)


def engines_of(builder: Any, recipe: Recipe) -> dict[str, Any]:
    """What a stage's output depends on about its engines (for the resume fingerprint)."""
    names = sorted(set(builder.all_engine_refs().values()))
    return {"engines": {n: recipe.engines[n].model_dump(mode="json") for n in names}}


def decontaminator(ctx: BuildContext) -> Decontaminator | None:
    """The recipe's benchmark index, loaded once per build (on first use), or None."""
    config = ctx.recipe.decontaminate
    if config is None:
        return None
    with _LOADING:  # stages of a flow build may ask at once: load it once
        if "decontaminator" not in ctx.shared:
            ctx.shared["decontaminator"] = Decontaminator(config)
    return ctx.shared["decontaminator"]


_LOADING = threading.Lock()


def contamination_report(ctx: BuildContext) -> ContaminationReport | None:
    """A fresh report for generated restatements (subproblems, rephrasings), or None."""
    decon = decontaminator(ctx)
    return decon.report() if decon is not None else None


def report_facts(report: ContaminationReport | None) -> dict[str, Any]:
    """A stage's hygiene facts from its contamination report (none without one)."""
    if report is None:
        return {}
    return {"hygiene": {"decontamination": report.to_dict()}}


def verify(
    ctx: BuildContext,
    traces: list[Trace],
    stats: StageStats,
    desc: str,
    problems: Iterable[Problem],
) -> list[Trace]:
    """Judge every trace against its problem's answer (``problems``: at least the traces'
    problems, never the whole source of a streaming stage)."""
    answers = {p.id: p.reference_answer for p in problems}
    config = ctx.recipe.verification.to_config()
    bar = progress.bar(desc, total=len(traces), unit="trace")
    verified = []
    for trace in verify_traces(traces, answers, config, stats):
        verified.append(trace)
        bar.update()
    bar.close()
    return verified


def by_problem(
    ctx: BuildContext, *stages: str
) -> Iterator[tuple[list[Problem], dict[str, list[Any]]]]:
    """``runner.window`` source problems at a time with the records of each of ``stages``
    that belong to them (traces or rows with a ``problem_id``, written in source order),
    joined from disk: one window in memory, never a whole stage."""
    streams = {name: (ctx.outputs[name], _problem_id) for name in stages}
    window = ctx.recipe.runner.window
    for group in join_windows(ctx.outputs["source"], attrgetter("id"), window, **streams):
        yield (
            [g.item for g in group],
            {name: [r for g in group for r in g[name]] for name in stages},
        )


def _problem_id(record: Any) -> str:
    return record["problem_id"] if isinstance(record, dict) else record.problem_id


def references(
    ctx: BuildContext, problems: Iterable[Problem], stats: StageStats, desc: str
) -> Iterator[Trace]:
    """Each problem's reference solution, segmented and verified, streamed: only the
    answers of the references in the verifier pool are held."""
    answers = InFlightAnswers()

    def held() -> Iterator[Problem]:
        for p in problems:
            if p.reference_solution.strip():  # the others are dropped, never verified
                answers.hold(p)
            yield p

    traces = reference_traces(held(), ctx.recipe.segmentation.strategy, stats)
    bar = progress.bar(desc, unit="trace")
    for trace in verify_traces(traces, answers, ctx.recipe.verification.to_config(), stats):
        answers.release(trace.problem_id)
        bar.update()
        yield trace
    bar.close()


# The most parts a sample stage's window splits into in a flow build: each part samples,
# verifies, annotates and judges on its own thread, so a part's later steps reach the
# engine while other parts still sample, instead of every step waiting for the window's
# slowest request.
FLOW_PARTS = 16


@dataclass(frozen=True)
class _After:
    """What a sample stage does to each window's traces after sampling: drop repeated
    solutions, label steps with an annotator, judge answers with a judge, label steps
    with the recipe's label sources."""

    dedup: DuplicateReport | None = None
    annotator: str | None = None
    label_prompt: str = "label_steps@1"
    judge: str | None = None
    judge_prompt: str = "judge@1"
    labeller: Labeller | None = None
    # a stage's parts verify one at a time: one worker pool per stage, not one per part
    verifying: threading.Lock = field(default_factory=threading.Lock, compare=False)


@dataclass
class _Sampled:
    """One part of a window, sampled and labelled, with what the stage adds up in order."""

    problems: list[Problem]
    traces: list[Trace]
    dedup: DuplicateReport | None
    judged: Any
    labelled: Labelled | None


def _sample_part(
    ctx: BuildContext,
    params: SamplingSection,
    after: _After,
    problems: list[Problem],
    *,
    stats: StageStats,
) -> _Sampled:
    """Sample some problems (one engine call), then dedup, verify, annotate, judge and
    label their traces. Every step is per problem or per trace, so the rows do not
    depend on how problems are cut into windows and parts."""
    engine = ctx.engines[params.engine]
    traces = sample_traces(problems, params, engine, ctx.recipe.segmentation.strategy, stats)
    report = None
    if after.dedup is not None:  # a problem's samples are all in one part
        report = DuplicateReport(after.dedup.rule)
        traces = dedup_solutions(traces, report, stats)
    with after.verifying:
        traces = verify(ctx, traces, stats, f"verify {stats.name}", problems)
    by_id = {p.id: p for p in problems}
    jobs = []  # independent (one sets step labels, the other reads answers): at once in flow
    if after.annotator is not None:
        engine = ctx.engines[after.annotator]
        jobs.append(partial(annotate, traces, by_id, engine, after.label_prompt))
    if after.judge is not None:
        engine = ctx.engines[after.judge]
        jobs.append(partial(judge_traces, traces, by_id, engine, after.judge_prompt))
    done = ctx.together(stats, *jobs)
    judged = done[-1] if after.judge is not None else None
    labelled = after.labeller.run(traces, problems, stats) if after.labeller else None
    return _Sampled(problems, traces, report, judged, labelled)


def _at_once(ctx: BuildContext, params: SamplingSection, after: _After) -> bool:
    """Whether a window's parts run at once: in a flow build whose engines here all take
    calls from several threads together and no output budget is set (a budget admits
    requests in the order they are asked for, which threads would make a race)."""
    if not ctx.flow:
        return False
    names = {params.engine, after.annotator, after.judge}
    if after.labeller is not None:
        names |= labelled_by(after.labeller.sources)
    used = [ctx.engines[n] for n in sorted(n for n in names if n is not None)]
    return all(e.batches_calls and e.budget is None for e in used)


def _window(  # noqa: PLR0917
    ctx: BuildContext,
    params: SamplingSection,
    problems: list[Problem],
    stats: StageStats,
    after: _After,
    facts: dict[str, Any],
) -> Iterator[_Sampled]:
    """One window of problems, in parts (``BuildContext.each``) yielded in order;
    ``facts`` gets the dedup report, the judge's figures and the label sets' figures so
    far, part by part."""
    at_once = _at_once(ctx, params, after)
    parts = split(problems, FLOW_PARTS if at_once else 1)
    job = partial(_sample_part, ctx, params, after)
    for part in ctx.each(stats, parts, job, at_once=at_once):
        if after.dedup is not None:
            after.dedup.add(part.dedup)
            facts["hygiene"] = {"dedup": after.dedup.to_dict()}
        if after.judge is not None:
            facts["judge"] = add_judged(facts.get("judge"), part.judged)
        if after.labeller is not None:
            after.labeller.add(part.labelled)
        yield part


def split(items: list[Any], n: int) -> list[list[Any]]:
    """``items`` in ``n`` runs of near-equal length, in order (fewer if there are fewer
    items)."""
    n = max(1, min(n, len(items)))
    size, extra = divmod(len(items), n)
    runs, start = [], 0
    for k in range(n):
        end = start + size + (k < extra)
        runs.append(items[start:end])
        start = end
    return runs


def sample(
    ctx: BuildContext,
    params: SamplingSection,
    problems: Iterable[Problem],
    stats: StageStats,
    *,
    dedup: bool = True,
    annotator: str | None = None,
    label_prompt: str = "label_steps@1",
    judge: str | None = None,
    judge_prompt: str = "judge@1",
) -> tuple[Iterable[Trace], dict[str, Any]]:
    """Sample, segment and verify; ``annotator`` (an engine name) labels every step;
    ``judge`` (an engine name) judges every answer beside math-verify (card facts only).
    Returns the traces and the stage's facts (engine, model, prompt, sampling; the dedup,
    judge and label figures land once the traces are consumed). The traces stream,
    ``runner.window`` problems per engine batch."""
    engine = ctx.engines[params.engine]
    facts: dict[str, Any] = {
        "engine": params.engine,
        "model": engine.fingerprint,
        "prompt": params.prompt,
        "sampling": params.model_dump(include=set(SAMPLING_FACTS)),
    }
    rule = ctx.recipe.dedup.solutions if dedup and ctx.recipe.dedup is not None else None
    sources = getattr(params, "label_sources", lambda: [])()
    use = getattr(params, "use_labels", None)
    after = _After(
        DuplicateReport(rule) if rule is not None else None,
        annotator,
        label_prompt,
        judge,
        judge_prompt,
        Labeller(ctx, sources, stats, facts, use=use) if sources else None,
    )

    def traces() -> Iterator[Trace]:
        done = 0
        for window in windows(problems, ctx.recipe.runner.window):  # on disk before the next
            for part in _window(ctx, params, window, stats, after, facts):
                yield from part.traces
                done += len(part.problems)
                store.mark(problems, done)  # readers joining on ``problems`` go on from here

    return traces(), facts

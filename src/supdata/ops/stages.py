"""Stage pieces every builder uses, against a build context: sample, verify, label,
split references, and the build's benchmark index. Each returns its facts for the card
(which engine and prompt made the records, hygiene reports) instead of stashing them."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from supdata.core import progress
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
from supdata.ops.labels.stage import Labeller
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


def _window(  # noqa: PLR0917
    ctx: BuildContext,
    params: SamplingSection,
    problems: list[Problem],
    stats: StageStats,
    after: _After,
    facts: dict[str, Any],
) -> list[Trace]:
    """Sample one window of problems (one engine batch), then dedup, verify, annotate,
    judge and label its traces. Every step is per problem or per trace, so the rows do
    not depend on the window; ``facts`` gets the dedup report, the judge's figures and
    the label sets' figures so far."""
    engine = ctx.engines[params.engine]
    traces = sample_traces(problems, params, engine, ctx.recipe.segmentation.strategy, stats)
    if after.dedup is not None:
        after.dedup.forget()  # a problem's samples never span two windows
        traces = dedup_solutions(traces, after.dedup, stats)
        facts["hygiene"] = {"dedup": after.dedup.to_dict()}
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
    if after.judge is not None:
        facts["judge"] = add_judged(facts.get("judge"), done[-1])
    if after.labeller is not None:
        after.labeller.label(traces, problems)
    return traces


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
    chunks = windows(problems, ctx.recipe.runner.window)  # each on disk before the next
    return (t for w in chunks for t in _window(ctx, params, w, stats, after, facts)), facts

"""Stage pieces every builder uses, against a build context: sample, verify, label,
split references, and the build's benchmark index. Each returns its facts for the card
(which engine and prompt made the records, hygiene reports) instead of stashing them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from supdata.core.records import Problem, Trace
from supdata.core.runner import BuildContext
from supdata.core.stats import StageStats
from supdata.hygiene.screen import ContaminationReport, Decontaminator, dedup_solutions
from supdata.ops.annotate import annotate
from supdata.ops.joins import windows
from supdata.ops.judge import judge_traces
from supdata.ops.labels.stage import label_traces
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
    if "decontaminator" not in ctx.shared:
        ctx.shared["decontaminator"] = Decontaminator(config)
    return ctx.shared["decontaminator"]


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
    problems: list[Problem] | None = None,
) -> list[Trace]:
    """Judge every trace against its problem's answer (the source's, or ``problems``')."""
    from tqdm import tqdm

    answers = {p.id: p.reference_answer for p in (problems or ctx.outputs["source"])}
    config = ctx.recipe.verification.to_config()
    bar = tqdm(total=len(traces), desc=desc, unit="trace", disable=None)
    verified = []
    for trace in verify_traces(traces, answers, config, stats):
        verified.append(trace)
        bar.update()
    bar.close()
    return verified


def references(
    ctx: BuildContext, problems: Iterable[Problem], stats: StageStats, desc: str
) -> Iterator[Trace]:
    """Each problem's reference solution, segmented and verified, streamed: only the
    answers of the references in the verifier pool are held."""
    from tqdm import tqdm

    answers = InFlightAnswers()

    def held() -> Iterator[Problem]:
        for p in problems:
            if p.reference_solution.strip():  # the others are dropped, never verified
                answers.hold(p)
            yield p

    traces = reference_traces(held(), ctx.recipe.segmentation.strategy, stats)
    bar = tqdm(desc=desc, unit="trace", disable=None)
    for trace in verify_traces(traces, answers, ctx.recipe.verification.to_config(), stats):
        answers.release(trace.problem_id)
        bar.update()
        yield trace
    bar.close()


def _windows(
    ctx: BuildContext, params: SamplingSection, problems: Iterable[Problem], stats: StageStats
) -> Iterator[Trace]:
    """Sample ``runner.window`` problems at a time (one engine batch each), verify them
    and stream their traces to the stage's shards before the next window is read."""
    engine = ctx.engines[params.engine]
    strategy = ctx.recipe.segmentation.strategy
    for window in windows(problems, ctx.recipe.runner.window):
        traces = sample_traces(window, params, engine, strategy, stats)
        yield from verify(ctx, traces, stats, f"verify {stats.name}", window)


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
    Returns the traces and the stage's facts (engine, model, prompt, sampling). Without
    dedup, annotator, judge or label sources the traces stream, ``runner.window``
    problems per engine batch; with them the stage samples every problem at once."""
    engine = ctx.engines[params.engine]
    facts: dict[str, Any] = {
        "engine": params.engine,
        "model": engine.fingerprint,
        "prompt": params.prompt,
        "sampling": params.model_dump(include=set(SAMPLING_FACTS)),
    }
    strategy = ctx.recipe.segmentation.strategy
    sources = getattr(params, "label_sources", lambda: [])()
    dedups = dedup and ctx.recipe.dedup is not None and ctx.recipe.dedup.solutions is not None
    if not (dedups or annotator or judge or sources):
        return _windows(ctx, params, problems, stats), facts
    problems = list(problems)  # dedup, annotators, judges and labels see the whole stage
    traces = sample_traces(problems, params, engine, strategy, stats)
    if dedups:
        traces, report = dedup_solutions(traces, ctx.recipe.dedup.solutions, stats)
        stats.n_out = len(traces)
        facts["hygiene"] = {"dedup": report}
    traces = verify(ctx, traces, stats, f"verify {stats.name}", problems)
    if annotator is not None:
        by_id = {p.id: p for p in problems}
        annotate(traces, by_id, ctx.engines[annotator], label_prompt, stats)
    if judge is not None:
        by_id = {p.id: p for p in problems}
        facts["judge"] = judge_traces(traces, by_id, ctx.engines[judge], judge_prompt, stats)
    if sources:
        use = getattr(params, "use_labels", None)
        facts["labels"] = label_traces(ctx, traces, problems, sources, stats, use=use)
    return traces, facts

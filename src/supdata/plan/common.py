"""Stage pieces every builder's plan uses: verification, sampling, engine fingerprints."""

from __future__ import annotations

from typing import Any

from supdata.annotate.labels import annotate
from supdata.builders.config import SampleBuilder
from supdata.hygiene.screen import ContaminationReport, Decontaminator, dedup_solutions
from supdata.recipe import Recipe
from supdata.records import Problem, Trace
from supdata.runner import BuildContext
from supdata.stages.reference import reference_traces
from supdata.stages.sample import sample_traces
from supdata.stages.verify import verify_traces
from supdata.stats import StageStats


def engines_of(builder: Any, recipe: Recipe) -> dict[str, Any]:
    """What a stage's output depends on about its engines (for the resume fingerprint)."""
    names = sorted(set(builder.engine_refs().values()))
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


def save_report(ctx: BuildContext, stage: str, report: ContaminationReport | None) -> None:
    """Keep a stage's findings with its facts (the marker, stats.json, the card)."""
    if report is not None:
        hygiene = ctx.extra.setdefault(stage, {}).setdefault("hygiene", {})
        hygiene["decontamination"] = report.to_dict()


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
    ctx: BuildContext, problems: list[Problem], stats: StageStats, desc: str
) -> list[Trace]:
    traces = list(reference_traces(problems, ctx.recipe.segmentation.strategy, stats))
    return verify(ctx, traces, stats, desc, problems)


def sample(
    ctx: BuildContext,
    builder: SampleBuilder,
    problems: list[Problem],
    stats: StageStats,
    name: str = "samples",
    *,
    dedup: bool = True,
) -> list[Trace]:
    """Sample, segment and verify; the annotator (if any) labels every step."""
    engine = ctx.engines[builder.engine]
    ctx.extra[name] = {
        "engine": builder.engine,
        "model": engine.fingerprint,
        "prompt": builder.prompt,
        "sampling": builder.model_dump(
            include={
                "n",
                "temperature",
                "top_p",
                "top_k",
                "max_tokens",
                "max_tokens_per_reference",
                "min_tokens",
                "seed",
            }
        ),
    }
    traces = sample_traces(problems, builder, engine, ctx.recipe.segmentation.strategy, stats)
    if dedup and ctx.recipe.dedup is not None and ctx.recipe.dedup.solutions is not None:
        traces, report = dedup_solutions(traces, ctx.recipe.dedup.solutions, stats)
        stats.n_out = len(traces)
        ctx.extra[name]["hygiene"] = {"dedup": report}
    traces = verify(ctx, traces, stats, f"verify {name}", problems)
    annotator = getattr(builder, "annotator", None)
    if annotator is not None:
        by_id = {p.id: p for p in problems}
        annotate(traces, by_id, ctx.engines[annotator], builder.label_prompt, stats)
    return traces

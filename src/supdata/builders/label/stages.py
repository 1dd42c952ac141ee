"""The ``label`` builder's one stage: ``labelled``.

source (problems with their given solutions) -> reference answers matched in from
``references`` where the source has none -> every solution verified -> the source's own
labels as label set ``given`` -> each ``labels:`` source -> one row per solution.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from supdata.builders.label.models import LabelledRow
from supdata.builders.label.params import LabelBuilder
from supdata.builders.sample.stages import stage_params
from supdata.core.records import LabelSet, Problem, Trace
from supdata.core.runner import BuildContext, Output, Stage
from supdata.core.stats import StageStats
from supdata.ops.figures import trace_config
from supdata.ops.joins import windows
from supdata.ops.labels.stage import Labeller
from supdata.ops.stages import verify
from supdata.sources.inputs import file_print
from supdata.sources.match import question_key, reference_index

LABELLED = "a given solution with the source's own step labels and every label source's"


def with_references(
    problems: list[Problem], params: LabelBuilder, stats: StageStats, index: dict | None = None
) -> list:
    """Problems with a reference answer filled in from the reference files by text
    (``index``: ``reference_index`` of them, built once per stage)."""
    if not params.references:
        return problems
    if index is None:
        index = reference_index(params.references, params.references_normalizer)
    out = []
    for p in problems:
        ref = index.get(question_key(p.question))
        if p.reference_answer is None and ref is not None:
            p.reference_answer, p.reference_solution = ref.reference_answer, ref.reference_solution
            stats.tally("reference answer matched")
        elif p.reference_answer is None:
            stats.tally("no reference answer found")
        out.append(p)
    return out


def labelled_stage(builder: LabelBuilder, params: dict[str, Any]) -> Stage:
    def run(ctx: BuildContext, stats: StageStats) -> Output:
        facts: dict[str, Any] = {}
        labeller = (
            Labeller(ctx, builder.labels, stats, facts, baseline="given")
            if builder.labels
            else None
        )
        index = (
            reference_index(builder.references, builder.references_normalizer)
            if builder.references
            else None
        )

        def rows() -> Iterator[Trace]:
            for window in windows(ctx.outputs["source"], ctx.recipe.runner.window):
                problems = with_references(window, builder, stats, index)
                yield from _labelled(ctx, builder, problems, stats, labeller)

        return Output(rows(), facts)

    return Stage(
        "labelled",
        LabelledRow,
        ("source",),
        params,
        run,
        description=LABELLED,
        figures=trace_config(),
    )


def _labelled(
    ctx: BuildContext,
    builder: LabelBuilder,
    problems: list[Problem],
    stats: StageStats,
    labeller: Labeller | None,
) -> list[Trace]:
    """One window of problems: their solutions verified, the given labels kept as set
    ``given``, then every label source's set."""
    traces = [t for p in problems for t in p.solutions]
    stats.n_in += len(traces)
    answered = [p for p in problems if p.reference_answer]
    ids = {p.id for p in answered}
    judged = verify(ctx, [t for t in traces if t.problem_id in ids], stats, "verify", answered)
    for t in traces:
        if t.problem_id not in ids:
            t.status = None
    given = {}
    for t in traces:
        ann = t.annotation
        labels = ann.labels if ann else [None] * len(t.steps)
        given[t.id] = LabelSet("given", list(labels), None, {"source": ann.source if ann else None})
    if labeller is not None:
        labeller.label(judged, answered)
    for t in traces:
        t.label_sets = [given[t.id], *t.label_sets]
        chosen = next((s for s in t.label_sets if s.name == builder.use_labels), None)
        if chosen is not None and chosen.kind != "given":
            t.annotation = chosen.as_annotation()
    stats.n_out += len(traces)
    return traces


def label_stages(builder: LabelBuilder, recipe: Any, check: dict) -> list[Stage]:
    params = stage_params(builder, recipe, check)
    params["references"] = {path: file_print(Path(path)) for path in builder.references}
    return [labelled_stage(builder, params)]

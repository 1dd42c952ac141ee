"""The ``sample`` builder's one stage: ``samples``."""

from __future__ import annotations

from typing import Any

from supdata.core.records.models import SampleRow
from supdata.core.runner import BuildContext, Output, Stage
from supdata.core.stats import StageStats
from supdata.ops.figures import trace_config
from supdata.ops.stages import engines_of, sample

SAMPLES = "a sampled solution split into steps, verified against the reference answer"


def stage_params(builder: Any, recipe: Any, check: dict) -> dict[str, Any]:
    """What every stage of a builder depends on: its section, its engines, the checks."""
    return {"builder": builder.model_dump(mode="json"), **engines_of(builder, recipe), **check}


def samples_stage(
    builder: Any,
    params: dict[str, Any],
    *,
    annotator: str | None = None,
    label_prompt: str = "label_steps@1",
    dedup: bool = True,
    judge: str | None = None,
    judge_prompt: str = "judge@1",
) -> Stage:
    """N sampled, segmented, verified solutions per source problem."""

    def run(ctx: BuildContext, stats: StageStats) -> Output:
        traces, facts = sample(
            ctx,
            builder,
            ctx.outputs["source"],
            stats,
            dedup=dedup,
            annotator=annotator,
            label_prompt=label_prompt,
            judge=judge,
            judge_prompt=judge_prompt,
        )
        return Output(traces, facts)

    return Stage(
        "samples",
        SampleRow,
        ("source",),
        params,
        run,
        description=SAMPLES,
        figures=trace_config(pass_rate_plot=True),
    )


def sample_stages(builder: Any, recipe: Any, check: dict) -> list[Stage]:
    return [samples_stage(builder, stage_params(builder, recipe, check))]

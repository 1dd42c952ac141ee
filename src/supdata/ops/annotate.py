"""Ask an annotator model to label every step, parse the answer, align it, or reject it.

With structured output the JSON schema fixes the number of labels to the number of
steps, so alignment holds by construction; without it the text is parsed and anything
that does not give exactly one label per step, in order, is rejected with a reason.
Labels are never guessed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from supdata.core.records import Problem, StepAnnotation, Trace
from supdata.core.stats import StageStats
from supdata.engines import Engine, Request, SamplingParams, StructuredOutput
from supdata.ops.steps import strip_steps
from supdata.ops.verdict import VERDICT_WORDS
from supdata.prompts import load_prompt

_LINE = re.compile(r"step\s*(\d+)\s*[:.)\-]*\s*\**\s*(correct|wrong|incorrect)\b", re.IGNORECASE)


class LabelRejected(ValueError):
    """The annotator's answer cannot be aligned with the steps; the message says why."""


def label_schema(n: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "steps": {
                "type": "array",
                "items": {"enum": list(VERDICT_WORDS)},
                "minItems": n,
                "maxItems": n,
            }
        },
        "required": ["steps"],
        "additionalProperties": False,
    }


def parse_labels(text: str, n: int) -> list[bool]:
    """Exactly n labels, in step order, from JSON or from "Step k: Correct/Wrong" lines."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("steps"), list):
        values = data["steps"]
        if len(values) != n:
            raise LabelRejected(f"{len(values)} labels for {n} steps")
        out = []
        for v in values:
            if not isinstance(v, str) or v.lower() not in ("correct", "wrong"):
                raise LabelRejected(f"label {v!r} is not Correct or Wrong")
            out.append(v.lower() == "correct")
        return out
    found = _LINE.findall(text)
    if not found:
        raise LabelRejected("neither JSON labels nor 'Step k: Correct/Wrong' lines")
    numbers = [int(k) for k, _ in found]
    if numbers != list(range(1, len(numbers) + 1)):
        raise LabelRejected("step numbers are not 1, 2, 3, ... in order")
    if len(found) != n:
        raise LabelRejected(f"{len(found)} labels for {n} steps")
    return [label.lower() == "correct" for _, label in found]


def annotate(
    traces: list[Trace],
    problems: dict[str, Problem],
    engine: Engine,
    prompt_ref: str,
    stats: StageStats,
) -> None:
    """Set ``annotation`` on every trace whose labels parse; count every rejection."""
    prompt = load_prompt(prompt_ref)
    todo = [t for t in traces if t.steps]
    requests = []
    for t in todo:
        p = problems[t.problem_id]
        steps = strip_steps(t.steps)
        structured = (
            StructuredOutput(json_schema=label_schema(len(steps)))
            if engine.supports_structured
            else None
        )
        requests.append(
            Request(
                messages=prompt.render(
                    question=p.question, reference=p.reference_solution, steps=steps
                ),
                sampling=SamplingParams(
                    temperature=0.0, max_tokens=16 * len(steps) + 32, seed=0, structured=structured
                ),
                id=t.id,
            )
        )
    completions = engine.generate(requests, desc=f"label steps ({engine.name})")
    source = f"annotator:{engine.fingerprint}"
    for trace, completion in zip(todo, completions, strict=True):
        if completion.too_long:
            stats.tally("labels rejected: prompt longer than the engine's context")
            continue
        try:
            labels = parse_labels(completion.texts[0], len(trace.steps))
        except LabelRejected as exc:
            stats.tally(f"labels rejected: {exc}")
            continue
        trace.annotation = StepAnnotation(labels=list(labels), source=source)
        stats.tally("labels aligned")

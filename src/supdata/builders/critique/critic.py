"""Ask a critic engine for step-level critiques and parse them, one per solution."""

from __future__ import annotations

from dataclasses import dataclass

from supdata.builders.critique.format import (
    Critique,
    CritiqueRejected,
    critique_schema,
    parse_critique,
)
from supdata.engines import Engine, Request, SamplingParams, StructuredOutput
from supdata.ops.steps import strip_steps
from supdata.prompts import load_prompt


@dataclass(frozen=True)
class CritiqueJob:
    id: str
    question: str
    steps: list[str]
    reference: str = ""  # the critic sees it when given (never in ProcessBench evaluation)
    hint_step: int | None = None  # 1-based: where the error is known to be (or start)
    hint_type: str | None = None  # the known mistake type at hint_step


@dataclass(frozen=True)
class CritiqueResult:
    job: CritiqueJob
    text: str
    critique: Critique | None
    rejected: str | None  # why the text did not give aligned labels


def critique_all(
    jobs: list[CritiqueJob],
    engine: Engine,
    *,
    prompt_ref: str = "critique@1",
    max_tokens_per_step: int = 160,
    seed: int = 0,
    desc: str | None = None,
) -> list[CritiqueResult]:
    """Greedy critiques; JSON through structured output where the engine supports it
    (the schema fixes one verdict per step), the published text format elsewhere and
    always for a template with ``output: mathcritique`` (parsed as the published critic
    writes it: an uncritiqued "The answer is ..." last step takes the final verdict)."""
    prompt = load_prompt(prompt_ref)
    published = prompt.output == "mathcritique"  # the published text format only
    structured = engine.supports_structured and not published
    requests = []
    for job in jobs:
        steps = strip_steps(job.steps)
        requests.append(
            Request(
                prompt.render(
                    question=job.question,
                    reference=job.reference,
                    steps=steps,
                    hint_step=job.hint_step,
                    hint_type=job.hint_type,
                    json_format=structured,
                ),
                SamplingParams(
                    temperature=0.0,
                    max_tokens=max_tokens_per_step * (len(steps) + 1) + 64,
                    seed=seed,
                    structured=StructuredOutput(json_schema=critique_schema(len(steps)))
                    if structured
                    else None,
                ),
                id=job.id,
            )
        )
    completions = engine.generate(requests, desc=desc or f"critique ({engine.name})")
    results = []
    for job, completion in zip(jobs, completions, strict=True):
        text = completion.texts[0]
        try:
            critique = parse_critique(
                text, len(job.steps), strip_steps(job.steps), answer_step=published
            )
        except CritiqueRejected as exc:
            reason = str(exc)
            if completion.finish_reasons[0] == "length":
                reason = f"cut at max_tokens: {reason}"
            results.append(CritiqueResult(job, text, None, reason))
            continue
        results.append(CritiqueResult(job, text, critique, None))
    return results

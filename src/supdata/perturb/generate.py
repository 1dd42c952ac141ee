"""The two LLM moves behind model-made errors: rewrite step k with a named mistake, and
let an actor continue a solution from a given prefix."""

from __future__ import annotations

from dataclasses import dataclass

from supdata.engines import Completion, Engine, Request, SamplingParams
from supdata.perturb.rewrite import rewritten_step
from supdata.prompts import load_prompt
from supdata.stages.sample import problem_seed


@dataclass(frozen=True)
class StepEdit:
    """Put an ``error_type`` mistake into step ``k`` (0-based) of ``steps``."""

    id: str
    question: str
    steps: list[str]
    k: int
    error_type: str
    seed: int


def rewrite_steps(
    edits: list[StepEdit], rewriter: Engine, *, prompt_ref: str, temperature: float
) -> list[str]:
    """The new step k of each edit, ending with the old step's separator ("" if the
    model wrote nothing usable)."""
    if not edits:
        return []
    prompt = load_prompt(prompt_ref)
    completions = rewriter.generate(
        [
            Request(
                prompt.render(
                    question=e.question,
                    before="".join(e.steps[: e.k]).strip(),
                    step=e.steps[e.k].strip(),
                    error_type=e.error_type,
                ),
                SamplingParams(
                    temperature=temperature, max_tokens=256, seed=problem_seed(e.seed, e.id, 1)
                ),
                id=f"{e.id}/rewrite",
            )
            for e in edits
        ],
        desc=f"rewrite steps ({rewriter.name})",
    )
    return [
        rewritten_step(c.texts[0], e.steps[e.k]) for e, c in zip(edits, completions, strict=True)
    ]


def continue_from(
    prefixes: list[tuple[str, str, str, int]],
    actor: Engine,
    *,
    prompt_ref: str,
    temperature: float,
    max_tokens: int,
    n: int = 1,
    desc: str = "continue",
) -> list[Completion]:
    """(id, question, prefix, seed) -> the actor's continuations of ``prefix`` as its own
    answer to the question under ``prompt_ref``."""
    if not prefixes:
        return []
    solve = load_prompt(prompt_ref)
    return actor.generate(
        [
            Request(
                (*solve.render(question=question), {"role": "assistant", "content": prefix}),
                SamplingParams(
                    n=n,
                    temperature=temperature,
                    max_tokens=max_tokens,
                    seed=problem_seed(seed, rid, n),
                ),
                continue_final=True,
                id=f"{rid}/continue",
            )
            for rid, question, prefix, seed in prefixes
        ],
        desc=f"{desc} ({actor.name})",
    )

"""The two LLM moves behind model-made errors: rewrite step k with a named mistake, and
let an actor continue a solution from a given prefix."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from supdata.engines import Completion, Engine, Request, SamplingParams
from supdata.ops.perturb.rewrite import rewritten_step
from supdata.ops.sampling import problem_seed
from supdata.prompts import load_prompt


@dataclass(frozen=True)
class StepEdit:
    """Put an ``error_type`` mistake into step ``k`` (0-based) of ``steps``."""

    id: str
    question: str
    steps: list[str]
    k: int
    error_type: str
    seed: int
    new_step: str | None = None  # a step made elsewhere (a rule): not rewritten


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
                _opened(solve.render(question=question), prefix),
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


def _opened(messages: tuple[dict[str, str], ...], prefix: str) -> tuple[dict[str, str], ...]:
    """The solve prompt with the assistant's turn opened by ``prefix``, after the
    template's own opening when it has one (a prefill template)."""
    if messages[-1]["role"] == "assistant":
        last = messages[-1]
        return (*messages[:-1], {"role": "assistant", "content": last["content"] + prefix})
    return (*messages, {"role": "assistant", "content": prefix})


@dataclass
class Injected:
    """One model-made error: the new step k and the actor's continuation after it, or
    the reason the edit stopped before continuing."""

    edit: StepEdit
    step: str
    completion: Completion | None = None
    reason: str | None = None


def inject_errors(
    edits: list[StepEdit],
    actor: Engine,
    rewriter: Engine,
    *,
    rewrite_prompt: str,
    continue_prompt: str,
    temperature: float,
    max_tokens: int,
    desc: str,
    check: Callable[[StepEdit, str], str | None] | None = None,
) -> list[Injected]:
    """The one path for model-made errors (perturb's model types, critique's RG3): step
    k of each edit is rewritten with its error type (unless the edit brings its own new
    step), ``check`` may stop it, then the actor continues from steps[:k] + the new step.
    Both LLM moves run as one batch each."""
    todo = [e for e in edits if e.new_step is None]
    rewritten = rewrite_steps(todo, rewriter, prompt_ref=rewrite_prompt, temperature=temperature)
    new_steps = {e.id: s for e, s in zip(todo, rewritten, strict=True)}
    out = []
    for e in edits:
        step = e.new_step if e.new_step is not None else new_steps[e.id]
        out.append(Injected(e, step, reason=check(e, step) if check else None))
    going = [x for x in out if x.reason is None]
    completions = continue_from(
        [
            (
                x.edit.id,
                x.edit.question,
                "".join(x.edit.steps[: x.edit.k]) + x.step,
                x.edit.seed + 1,
            )
            for x in going
        ],
        actor,
        prompt_ref=continue_prompt,
        temperature=temperature,
        max_tokens=max_tokens,
        desc=desc,
    )
    for x, c in zip(going, completions, strict=True):
        x.completion = c
    return out

"""AutoMathCritique's test-time evaluation: the actor answers, a critic writes a
step-level critique of the answer without seeing the reference, the actor refines with
it, for R sequential rounds, over K samples per problem (majority vote over them).

As the published ``evaluate-all.sh`` runs it: with ``TEST_KNOW_ANSWER=0`` every answer is
critiqued and refined each round, whatever the critique says; with ``know_answer`` (the
oracle setting, ``TEST_KNOW_ANSWER=1``) answers math-verify finds right are final and
only wrong ones are refined. Deviations: the majority vote is taken per round over the
K current answers (the published ``test_filter.py`` votes once over every response it
logged), and answers are judged by math-verify, not by its string rules.
"""

from __future__ import annotations

from supdata.builders.critique.critic import CritiqueJob, critique_all
from supdata.builders.critique.format import render_critique
from supdata.builders.critique.params import CritiqueBuilder
from supdata.core.records import Problem
from supdata.engines import Engine
from supdata.eval.loop import Review, Trajectory, Turn, first_messages, generate_turns, run_loop
from supdata.ops.steps import segment, strip_steps
from supdata.prompts import load_prompt
from supdata.verify import VerifyConfig


def run_refine(
    problems: list[Problem],
    actor: Engine,
    critic: Engine,
    params: CritiqueBuilder,
    *,
    rounds: int,
    votes: int,
    verify: VerifyConfig,
    strategy: str = "auto",
    know_answer: bool = False,
) -> list[Trajectory]:
    """``votes`` trajectories per problem through rounds 0..``rounds``. ``params``: the
    actor's prompt and sampling (``prompt``, temperature, max_tokens), the critic's
    (``critic_prompt``, ``critic_max_tokens_per_step``; greedy) and the refinement's
    (``refine_prompt``, ``refine_temperature``)."""

    def answer(todo: list[Trajectory], r: int) -> list[str]:
        return _answers(todo, r, actor, params, strategy)

    def review(todo: list[Trajectory], texts: list[str], truths: list[bool], r: int):
        jobs = [
            CritiqueJob(id=f"{t.id}/round-{r}/critique", question=t.problem.question,
                        steps=segment(text, strategy) or [text])
            for t, text in zip(todo, texts, strict=True)
        ]  # fmt: skip
        results = critique_all(
            jobs,
            critic,
            prompt_ref=params.critic_prompt,
            max_tokens_per_step=params.critic_max_tokens_per_step,
            seed=params.seed,
            desc=f"round {r}: critique ({critic.name})",
        )
        return [
            Review(c.critique.final_correct, render_critique(c.critique, strip_steps(c.job.steps)))
            if c.critique is not None
            else Review(None, c.text)  # unparsed: the actor still sees what the critic wrote
            for c in results
        ]

    def final(turn: Turn) -> bool:
        return know_answer and turn.correct

    return run_loop(
        problems,
        rounds=rounds,
        samples=votes,
        verify=verify,
        answer=answer,
        review=review,
        final=final,
    )


def _answers(
    todo: list[Trajectory], r: int, actor: Engine, params: CritiqueBuilder, strategy: str
) -> list[str]:
    """Round 0: the solve prompt; later rounds: the refine prompt with the last answer
    (whole, and as steps: the mathcritique preset shows one step per line) and its
    critique."""
    if r == 0:
        messages = [first_messages(t, params) for t in todo]
        return generate_turns(actor, todo, r, messages, params, temperature=params.temperature)
    refine = load_prompt(params.refine_prompt)
    messages = [
        list(refine.render(question=t.problem.question, response=t.turns[-1].text,
                           steps=strip_steps(segment(t.turns[-1].text, strategy)),
                           critique=t.turns[-1].review))
        for t in todo
    ]  # fmt: skip
    return generate_turns(actor, todo, r, messages, params, temperature=params.refine_temperature)

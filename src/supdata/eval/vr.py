"""The verification-refinement (V-R) loop, the measurement self-trained verification
reports: the generator answers, the verifier judges the answer and writes feedback, the
generator revises with that feedback (the ViL turn), for R rounds.

An answer the verifier calls Correct is final and carried unchanged into later rounds
(the loop trusts its verifier, so a verifier that says Correct to a wrong answer ends
that trajectory wrong: score inflation), unless ``revise_accepted``. The figures per
round are ``eval.loop``'s.
"""

from __future__ import annotations

from supdata.builders.stv.attempts import Attempt
from supdata.builders.stv.feedback import feedback_rows
from supdata.builders.stv.params import StvBuilder
from supdata.core.records import Problem, Trace
from supdata.engines import Engine
from supdata.eval.loop import Review, Trajectory, Turn, first_messages, generate_turns, run_loop
from supdata.prompts import load_prompt
from supdata.verify import VerifyConfig


def run_vr(
    problems: list[Problem],
    generator: Engine,
    verifier: Engine,
    params: StvBuilder,
    *,
    rounds: int,
    samples: int,
    verify: VerifyConfig,
    revise_accepted: bool = False,
) -> list[Trajectory]:
    """``samples`` trajectories per problem through rounds 0..``rounds``.

    ``params`` gives the prompts and sampling: the generator's (``prompt``,
    temperature, max_tokens, ...), the verifier's (``student_prompt``,
    ``verifier_temperature``, ``feedback_max_tokens``, ``ask_verdict``) and the revision
    turn (``vil.prompt``, the turn the ViL rows train on)."""
    one_feedback = params.model_copy(update={"samples_per_attempt": 1})

    def answer(todo: list[Trajectory], r: int) -> list[str]:
        return _answers(todo, r, generator, params)

    def review(todo: list[Trajectory], texts: list[str], truths: list[bool], r: int):
        attempts = [
            Attempt(
                Trace(f"{t.id}/round-{r}", t.problem.id, text, [text], "sampled"),
                t.problem,
                truth,
                t.bin or "",
                0.0,
            )
            for t, text, truth in zip(todo, texts, truths, strict=True)
        ]
        rows = feedback_rows(attempts, one_feedback, verifier, "student")
        return [Review(row["verdict"], row["feedback"]) for row in rows]

    def final(turn: Turn) -> bool:
        return not revise_accepted and turn.verdict is True

    return run_loop(
        problems,
        rounds=rounds,
        samples=samples,
        verify=verify,
        answer=answer,
        review=review,
        final=final,
    )


def _answers(todo: list[Trajectory], r: int, engine: Engine, params: StvBuilder) -> list[str]:
    """Round 0: the solve prompt; later rounds: [problem, last answer, its feedback]."""
    turn = load_prompt(params.vil.prompt)
    messages = []
    for t in todo:
        m = first_messages(t, params)
        if r > 0:
            last = t.turns[-1]
            m += [{"role": "assistant", "content": last.text}, *turn.render(feedback=last.review)]
        messages.append(m)
    return generate_turns(engine, todo, r, messages, params, temperature=params.temperature)

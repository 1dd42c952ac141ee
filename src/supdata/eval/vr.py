"""The verification-refinement (V-R) loop, the measurement self-trained verification
reports: the generator answers, the verifier judges the answer and writes feedback, the
generator revises with that feedback, for R rounds.

Round 0 is the first answer; rounds 1..R are revisions. An answer the verifier calls
Correct is final and carried unchanged into later rounds (the loop trusts its verifier,
so a verifier that says Correct to a wrong answer ends that trajectory wrong: score
inflation), unless ``revise_accepted``. Every round's answers are judged by math-verify
against the reference answer and by the verifier, so each round reports pass@1, the
verifier's claimed-correct rate, its precision and recall against math-verify, the
inflation (claimed-correct minus truly correct) and the revisions that flipped
right -> wrong and wrong -> right. Requests go through the request cache, so an
interrupted run repeats nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from supdata.builders.stv.attempts import Attempt
from supdata.builders.stv.feedback import feedback_rows
from supdata.builders.stv.params import StvBuilder
from supdata.core.records import Problem, Trace
from supdata.engines import Engine, Request, SamplingParams
from supdata.ops.sampling import length_words, problem_seed
from supdata.prompts import load_prompt
from supdata.verify import VerifyConfig, verify_many


@dataclass
class Turn:
    """One trajectory's answer at one round, and what the verifier said about it."""

    text: str
    correct: bool  # math-verify: the final answer equals the reference answer
    verdict: bool | None  # the verifier's: True = Correct, None = no verdict
    feedback: str
    revised: bool  # written in this round (False: carried, or round 0)


@dataclass
class Trajectory:
    id: str
    problem: Problem
    bin: str | None
    turns: list[Turn] = field(default_factory=list)


def problem_bin(problem: Problem) -> str | None:
    """A problem's bin, when its source carries one (a ``bin`` column, e.g. in the files
    ``supdata export --to stv-oracle`` writes)."""
    value = problem.meta.get("bin") if isinstance(problem.meta, dict) else None
    return str(value) if value not in (None, "") else None


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
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    trajectories = [
        Trajectory(f"{p.id}/vr-{s}", p, problem_bin(p)) for p in problems for s in range(samples)
    ]
    one_feedback = params.model_copy(update={"samples_per_attempt": 1})
    for r in range(rounds + 1):
        todo = [
            t for t in trajectories if r == 0 or revise_accepted or t.turns[-1].verdict is not True
        ]
        texts = _answers(todo, r, generator, params)
        truths = _judge(todo, texts, verify)
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
        rows = feedback_rows(attempts, one_feedback, verifier, "student") if attempts else []
        fresh = {t.id: i for i, t in enumerate(todo)}
        for t in trajectories:
            i = fresh.get(t.id)
            if i is None:
                carried = t.turns[-1]
                t.turns.append(
                    Turn(carried.text, carried.correct, carried.verdict, carried.feedback, False)
                )
                continue
            t.turns.append(
                Turn(texts[i], truths[i], rows[i]["verdict"], rows[i]["feedback"], r > 0)
            )
    return trajectories


def _answers(todo: list[Trajectory], r: int, engine: Engine, params: StvBuilder) -> list[str]:
    """Round 0: the solve prompt; later rounds: [problem, last answer, its feedback]."""
    solve, turn = load_prompt(params.prompt), load_prompt(params.vil.prompt)
    requests = []
    for t in todo:
        messages = list(
            solve.render(question=t.problem.question, **length_words(t.problem, params))
        )
        if r > 0:
            last = t.turns[-1]
            messages += [
                {"role": "assistant", "content": last.text},
                *turn.render(feedback=last.feedback),
            ]
        requests.append(
            Request(
                tuple(messages),
                SamplingParams(
                    n=1,
                    temperature=params.temperature,
                    top_p=params.top_p,
                    top_k=params.top_k,
                    max_tokens=params.max_tokens,
                    seed=problem_seed(params.seed + r, t.id, 1),
                ),
                id=f"{t.id}/round-{r}",
            )
        )
    if not requests:
        return []
    desc = f"round {r}: {'answer' if r == 0 else 'revise'} ({engine.name})"
    return [c.texts[0] for c in engine.generate(requests, desc=desc)]


def _judge(todo: list[Trajectory], texts: list[str], config: VerifyConfig) -> list[bool]:
    pairs = [(text, t.problem.reference_answer) for t, text in zip(todo, texts, strict=True)]
    return [j.status == "correct" for j in verify_many(pairs, config)]


# -- the report ---------------------------------------------------------------------------


def round_figures(trajectories: Iterable[Trajectory], r: int) -> dict[str, Any]:
    """One round's figures over the given trajectories (rates None when undefined)."""
    turns = [(t.turns[r - 1] if r else None, t.turns[r]) for t in trajectories]
    n = len(turns)
    correct = sum(now.correct for _, now in turns)
    claimed = sum(now.verdict is True for _, now in turns)
    both = sum(now.correct and now.verdict is True for _, now in turns)
    revised = [(before, now) for before, now in turns if now.revised]

    def rate(x: int, of: int) -> float | None:
        return round(x / of, 4) if of else None

    pass1, claimed_rate = rate(correct, n), rate(claimed, n)
    return {
        "round": r,
        "trajectories": n,
        "pass@1": pass1,
        "claimed_correct": claimed_rate,
        "precision": rate(both, claimed),
        "recall": rate(both, correct),
        "inflation": round(claimed_rate - pass1, 4) if n else None,
        "no_verdict": sum(now.verdict is None for _, now in turns),
        "revised": len(revised),
        "right_to_wrong": sum(b.correct and not a.correct for b, a in revised),
        "wrong_to_right": sum(not b.correct and a.correct for b, a in revised),
    }


def report(trajectories: list[Trajectory], setup: dict[str, Any]) -> dict[str, Any]:
    """Figures per round, overall and per bin, and every trajectory's turns."""
    rounds = len(trajectories[0].turns) if trajectories else 0
    bins = sorted({t.bin for t in trajectories if t.bin is not None})
    return {
        "setup": setup,
        "rounds": [round_figures(trajectories, r) for r in range(rounds)],
        "by_bin": {
            b: [round_figures([t for t in trajectories if t.bin == b], r) for r in range(rounds)]
            for b in bins
        },
        "trajectories": [
            {
                "id": t.id,
                "problem_id": t.problem.id,
                "bin": t.bin,
                "turns": [asdict(turn) for turn in t.turns],
            }
            for t in trajectories
        ],
    }

"""Test-time loops of answer -> review -> revise, shared by ``eval-vr`` (a verifier's
feedback, STV) and ``eval-refine`` (a critic's step-level critique, AutoMathCritique).

``samples`` trajectories per problem; round 0 is the first answer, rounds 1..R revise.
Every round's answers are judged by math-verify against the reference answer and
reviewed; a command's ``final`` rule says which answers are not revised again (carried
unchanged). Each round reports, over all trajectories: pass@1, majority-vote accuracy
over a problem's trajectories, the reviewer's claimed-correct rate, precision, recall
and verdict accuracy against math-verify, the inflation (claimed-correct minus pass@1),
and the revisions that flipped right -> wrong and wrong -> right; per bin too when the
problems carry one. Engines go through the request cache: a re-run repeats nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from supdata.core.records import Problem
from supdata.engines import Engine, Request, SamplingParams
from supdata.ops.sampling import SamplingSection, length_words, problem_seed
from supdata.prompts import load_prompt
from supdata.verify import VerifyConfig, verify_many


@dataclass
class Turn:
    """One trajectory's answer at one round, and what the reviewer said about it."""

    text: str
    correct: bool  # math-verify: the final answer equals the reference answer
    answer: str | None  # the extracted final answer (for the majority vote)
    verdict: bool | None  # the reviewer's: True = Correct, None = no verdict
    review: str  # the feedback or critique the next revision sees
    revised: bool  # written in this round (False: carried, or round 0)


@dataclass
class Trajectory:
    id: str
    problem: Problem
    bin: str | None
    turns: list[Turn] = field(default_factory=list)


@dataclass(frozen=True)
class Review:
    verdict: bool | None
    text: str


Answer = Callable[[list[Trajectory], int], list[str]]
Reviewer = Callable[[list[Trajectory], list[str], list[bool], int], list[Review]]


def problem_bin(problem: Problem) -> str | None:
    """A problem's bin, when its source carries one (a ``bin`` column, e.g. in the files
    ``supdata export --to stv-oracle`` writes)."""
    value = problem.meta.get("bin") if isinstance(problem.meta, dict) else None
    return str(value) if value not in (None, "") else None


def run_loop(
    problems: list[Problem],
    *,
    rounds: int,
    samples: int,
    verify: VerifyConfig,
    answer: Answer,
    review: Reviewer,
    final: Callable[[Turn], bool],
) -> list[Trajectory]:
    """``answer(todo, r)`` writes round r's answers (round 0 from the problem, later
    from each trajectory's last turn); ``review`` judges them; a turn for which
    ``final`` holds is carried unchanged into every later round."""
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    trajectories = [
        Trajectory(f"{p.id}/t{s}", p, problem_bin(p)) for p in problems for s in range(samples)
    ]
    for r in range(rounds + 1):
        todo = [t for t in trajectories if r == 0 or not final(t.turns[-1])]
        texts = answer(todo, r) if todo else []
        pairs = [(text, t.problem.reference_answer) for t, text in zip(todo, texts, strict=True)]
        judged = list(verify_many(pairs, verify))
        truths = [j.status == "correct" for j in judged]
        reviews = review(todo, texts, truths, r) if todo else []
        fresh = {t.id: i for i, t in enumerate(todo)}
        for t in trajectories:
            i = fresh.get(t.id)
            if i is None:
                t.turns.append(Turn(**{**asdict(t.turns[-1]), "revised": False}))
                continue
            v = reviews[i]
            t.turns.append(Turn(texts[i], truths[i], judged[i].answer, v.verdict, v.text, r > 0))
    return trajectories


def first_messages(t: Trajectory, params: SamplingSection) -> list[dict[str, str]]:
    """Round 0's prompt: the recipe's sampling prompt for the problem."""
    prompt = load_prompt(params.prompt)
    return list(prompt.render(question=t.problem.question, **length_words(t.problem, params)))


def generate_turns(
    engine: Engine,
    todo: list[Trajectory],
    r: int,
    messages: list[list[dict[str, str]]],
    params: SamplingSection,
    *,
    temperature: float,
) -> list[str]:
    """One answer per trajectory for round r, seeded by trajectory and round."""
    requests = [
        Request(
            tuple(m),
            SamplingParams(
                n=1,
                temperature=temperature,
                top_p=params.top_p,
                top_k=params.top_k,
                max_tokens=params.max_tokens,
                seed=problem_seed(params.seed + r, t.id, 1),
            ),
            # a prompt that ends with the assistant's opening (a prefill) is continued
            continue_final=m[-1]["role"] == "assistant",
            id=f"{t.id}/round-{r}",
        )
        for t, m in zip(todo, messages, strict=True)
    ]
    what = "answer" if r == 0 else "revise"
    return [
        c.texts[0] for c in engine.generate(requests, desc=f"round {r}: {what} ({engine.name})")
    ]


# -- the report ---------------------------------------------------------------------------


def _rate(x: int, of: int) -> float | None:
    return round(x / of, 4) if of else None


def majority_correct(trajectories: Iterable[Trajectory], r: int) -> tuple[int, int]:
    """(problems whose most common round-r answer is right, problems). Ties go to the
    answer seen first; a trajectory without an answer does not vote."""
    votes: dict[str, list[Turn]] = {}
    for t in trajectories:
        votes.setdefault(t.problem.id, []).append(t.turns[r])
    right = 0
    for turns in votes.values():
        answered = [turn for turn in turns if turn.answer is not None]
        if not answered:
            continue
        top = Counter(turn.answer for turn in answered).most_common(1)[0][0]
        right += next(turn.correct for turn in answered if turn.answer == top)
    return right, len(votes)


def round_figures(trajectories: Iterable[Trajectory], r: int) -> dict[str, Any]:
    """One round's figures over the given trajectories (rates None when undefined)."""
    trajectories = list(trajectories)
    turns = [(t.turns[r - 1] if r else None, t.turns[r]) for t in trajectories]
    n = len(turns)
    correct = sum(now.correct for _, now in turns)
    claimed = sum(now.verdict is True for _, now in turns)
    both = sum(now.correct and now.verdict is True for _, now in turns)
    reviewed = [now for before, now in turns if r == 0 or now.revised]
    revised = [(before, now) for before, now in turns if now.revised]
    mv_right, problems = majority_correct(trajectories, r)
    pass1, claimed_rate = _rate(correct, n), _rate(claimed, n)
    return {
        "round": r,
        "trajectories": n,
        "pass@1": pass1,
        "majority": _rate(mv_right, problems),
        "claimed_correct": claimed_rate,
        "precision": _rate(both, claimed),
        "recall": _rate(both, correct),
        "inflation": round(claimed_rate - pass1, 4) if n else None,
        "verdict_accuracy": _rate(sum(v.verdict == v.correct for v in reviewed), len(reviewed)),
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

"""Rollouts from a step prefix: continue a solution after step k, and verify where it ends.

A probe is (trace, k): the solution's text up to the end of step k becomes the
assistant message, and the engine continues it (``continue_final``) N times. Every
probe of a round goes to the engine in one submission, so vLLM's prefix caching shares
the prompt and the prefix between the N rollouts of a probe and between the probes of
one solution. Each rollout's answer is the one its continuation states, judged against the
problem's reference answer by the verifier (math-verify): the prefix is not searched, so
a continuation that stops without an answer is never credited with a number the prefix
happened to end on. A rollout that cannot be judged (no answer, timeout) is counted,
never taken for right or wrong.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from supdata.core.records import Problem, Trace
from supdata.core.stats import StageStats
from supdata.engines import PROMPT_TOO_LONG, Engine, Request, SamplingParams
from supdata.ops.sampling import problem_seed
from supdata.prompts import load_prompt
from supdata.verify import VerifyConfig, verify_many


@dataclass(frozen=True, slots=True)
class RolloutSettings:
    """How a source rolls out: N per prefix, sampling, the solve prompt, the seed."""

    n: int = 8
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 512
    prompt: str = "solve@1"
    seed: int = 0

    def provenance(self, engine: Engine) -> dict:
        return {
            "engine": engine.fingerprint,
            "rollouts": self.n,
            "seed": self.seed,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "prompt": self.prompt,
        }


@dataclass(slots=True)
class ProbeValue:
    """What the rollouts from one prefix reached."""

    correct: int = 0
    verified: int = 0  # rollouts with a right or wrong final answer
    unverifiable: Counter = field(default_factory=Counter)  # status -> rollouts

    @property
    def value(self) -> float | None:
        """The Monte-Carlo value: share of judged rollouts that reach the answer."""
        return self.correct / self.verified if self.verified else None


@dataclass
class RolloutCost:
    """Engine cost of a source, summed over its rounds."""

    requests: int = 0
    rollouts: int = 0
    generated: int = 0
    prompt_tokens: int = 0
    prefix_cached_tokens: int = 0
    output_tokens: int = 0
    seconds: float = 0.0
    rounds: int = 0

    def __iadd__(self, other: RolloutCost) -> RolloutCost:
        """Another window's cost of the same source, added field by field."""
        for key, value in other.__dict__.items():
            setattr(self, key, getattr(self, key) + value)
        return self

    def add(self, engine: Engine, prefix_cached: int) -> None:
        run = engine.last_run
        self.requests += run.requests
        self.rollouts += run.samples
        self.generated += run.generated
        self.prompt_tokens += run.prompt_tokens
        self.output_tokens += run.output_tokens
        self.prefix_cached_tokens += prefix_cached
        self.seconds += run.seconds
        self.rounds += 1


def prefix_text(trace: Trace, k: int) -> str:
    """The solution's exact text up to the end of step k (separators kept)."""
    return "".join(trace.steps[: k + 1])


def probe_request(problem: Problem, trace: Trace, k: int, settings: RolloutSettings) -> Request:
    messages = load_prompt(settings.prompt).render(question=problem.question)
    return Request(
        (*messages, {"role": "assistant", "content": prefix_text(trace, k)}),
        SamplingParams(
            n=settings.n,
            temperature=settings.temperature,
            top_p=settings.top_p,
            max_tokens=settings.max_tokens,
            seed=problem_seed(settings.seed, f"{trace.id}#{k}", settings.n),
        ),
        continue_final=True,
        id=f"{trace.id}/prefix-{k}",
    )


def run_probes(
    probes: list[tuple[Problem, Trace, int]],
    engine: Engine,
    settings: RolloutSettings,
    verify: VerifyConfig,
    *,
    cost: RolloutCost,
    stats: StageStats,
    desc: str,
) -> list[ProbeValue]:
    """One submission for every probe; each probe's rollouts judged, and the ones that
    cannot be judged counted in ``stats`` by status."""
    if not probes:
        return []
    requests = [probe_request(p, t, k, settings) for p, t, k in probes]
    completions = engine.generate(requests, desc=desc)
    cost.add(engine, sum(c.cached_prompt_tokens or 0 for c in completions))
    pairs = [
        (text, p.reference_answer)
        for (p, _, _), c in zip(probes, completions, strict=True)
        for text in c.texts
    ]
    judgements = iter(list(verify_many(pairs, verify)))  # whole: the pool closes here
    values = []
    for c in completions:
        value = ProbeValue()
        for finish in c.finish_reasons:
            status = next(judgements).status
            if finish == PROMPT_TOO_LONG:
                status = PROMPT_TOO_LONG  # nothing was generated to judge
            if status in ("correct", "incorrect"):
                value.verified += 1
                value.correct += status == "correct"
            else:
                value.unverifiable[status] += 1
                stats.tally(f"rollouts unverifiable: {status}")
        values.append(value)
    return values


def own_status(pairs: list[tuple[Problem, Trace]], verify: VerifyConfig) -> list[str]:
    """Each solution's own verdict (the value of its last prefix, which needs no
    rollout): the trace's status where it has one, else judged now."""
    todo = [(i, t.text, p.reference_answer) for i, (p, t) in enumerate(pairs) if t.status is None]
    statuses = [t.status for _, t in pairs]
    for (i, _, _), j in zip(todo, verify_many([(x, a) for _, x, a in todo], verify), strict=True):
        statuses[i] = j.status
    return statuses  # type: ignore[return-value]

"""Flawed reasoning paths (AutoMathCritique stage 1), each with its method, the known
error step and the known error type.

RG1: the actor's own wrong samples, a wrong answer or none (plus a share of correct
     ones, for balance).
RG2: a correct response's steps before k, then the actor continues at a raised
     temperature; kept when the final answer turns wrong, so the error is at or after k.
RG3: step k rewritten with a named mistake (by rule or by a model), then the actor
     continues; the error is at k.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable

from supdata.builders.critique.filters import WRONG
from supdata.builders.critique.params import CritiqueBuilder
from supdata.core.records import Problem, Trace
from supdata.core.stats import StageStats
from supdata.engines import Engine
from supdata.ops.perturb import LEAKY_WORDS, CannotPerturb, perturb
from supdata.ops.perturb.generate import StepEdit, continue_from, inject_errors
from supdata.ops.perturb.types import MODEL_TYPES
from supdata.ops.steps import segment
from supdata.verify import VerifyConfig, verify_many


def _tag(trace: Trace, method: str, k: int, error_type: str | None, **extra) -> Trace:
    """A copy of ``trace`` that records how it was made (inputs stay as they were)."""
    trace = copy.copy(trace)
    trace.sampling = {
        **trace.sampling,
        "method": method,
        "known_error_step": k,
        "error_type": error_type,
        **extra,
    }
    return trace


def statuses(traces: Iterable[Trace]) -> list[str | None]:
    """The verify status of every trace, in order: one column of a stage on disk."""
    from supdata.core.store import StageData

    if isinstance(traces, StageData):
        return traces.scan().select("status").collect()["status"].to_list()
    return [t.status for t in traces]


class Rg1:
    """RG1 paths: the wrong samples, plus round(share x wrong) correct responses for
    balance, drawn at random over the whole stage: correct samples first, then verified
    references when the actor has too few right.

    The draw needs only the counts, read from the status columns (``statuses``); the
    paths then stream problem by problem (``paths``, called on consecutive runs of both
    stages), keeping the drawn positions."""

    def __init__(
        self,
        samples: Iterable[Trace],
        references: Iterable[Trace],
        share: float,
        seed: int,
        stats: StageStats,
    ) -> None:
        drawn = statuses(samples)
        wrong = sum(s in WRONG for s in drawn)
        correct = drawn.count("correct")
        want = int(share * wrong + 0.5)
        rng = random.Random(f"{seed}:rg1")  # positions drawn as rng.sample(list, k) draws them
        self.samples = set(rng.sample(range(correct), min(want, correct)))
        self.references: set[int] = set()
        if len(self.samples) < want:
            refs = statuses(references).count("correct")
            self.references = set(rng.sample(range(refs), min(want - len(self.samples), refs)))
        self._at = {"samples": 0, "references": 0}
        stats.tally("rg1: wrong", wrong)
        stats.tally("rg1: correct samples kept for balance", len(self.samples))
        stats.tally("rg1: references kept for balance", len(self.references))

    def paths(self, samples: list[Trace], references: list[Trace]) -> list[Trace]:
        """The RG1 paths among the next runs of samples and references: wrong samples,
        then the drawn correct samples, then the drawn references."""
        wrong = [t for t in samples if t.status in WRONG]
        kept = self._take(samples, "samples", self.samples)
        kept += self._take(references, "references", self.references)
        return [_tag(t, "rg1", -1, None) for t in wrong + kept]

    def _take(self, traces: list[Trace], what: str, drawn: set[int]) -> list[Trace]:
        kept = []
        for t in traces:
            if t.status == "correct":
                if self._at[what] in drawn:
                    kept.append(t)
                self._at[what] += 1
        return kept


def bases(
    problems: list[Problem], references: list[Trace], samples: list[Trace], stats: StageStats
) -> list[Trace]:
    """Per problem the correct response RG2 and RG3 start from: its first correct sample,
    else its verified reference."""
    first_correct: dict[str, Trace] = {}
    for t in samples:
        if t.status == "correct":
            first_correct.setdefault(t.problem_id, t)
    refs = {t.problem_id: t for t in references if t.status == "correct"}
    out = []
    for p in problems:
        base = first_correct.get(p.id) or refs.get(p.id)
        if base is None:
            stats.drop("rg2/rg3: no correct response or verified reference", p.id)
            continue
        out.append(base)
    return out


def _join(steps: list[str], continuation: str, strategy: str) -> list[str]:
    return steps + (segment(continuation, strategy) if continuation.strip() else [])


def rg2(
    starts: list[Trace],
    questions: dict[str, str],
    answers: dict[str, str | None],
    params: CritiqueBuilder,
    actor: Engine,
    *,
    strategy: str,
    verify: VerifyConfig,
    stats: StageStats,
) -> list[Trace]:
    chosen = []
    for base in starts:
        if len(base.steps) < 2:
            stats.drop("rg2: base has one step", base.id)
            continue
        k = random.Random(f"{params.seed}:{base.id}:rg2").randrange(1, len(base.steps))
        chosen.append((base, k))
    completions = continue_from(
        [
            (f"{b.id}/rg2", questions[b.problem_id], "".join(b.steps[:k]), params.seed)
            for b, k in chosen
        ],
        actor,
        prompt_ref=params.prompt,
        temperature=params.rg2_temperature,
        max_tokens=params.max_tokens,
        n=params.rg2_samples,
        desc="rg2 continue",
    )
    candidates = [
        (base, k, text)
        for (base, k), c in zip(chosen, completions, strict=True)
        for text in c.texts
    ]
    judged = verify_many(
        [("".join(b.steps[:k]) + text, answers[b.problem_id]) for b, k, text in candidates], verify
    )
    out, done = [], set()
    for (base, k, text), j in zip(candidates, judged, strict=True):
        if base.id in done or j.status != "incorrect":
            continue
        done.add(base.id)
        steps = _join(list(base.steps[:k]), text, strategy)
        trace = Trace(
            id=f"{base.problem_id}/rg2",
            problem_id=base.problem_id,
            text="".join(steps),
            steps=steps,
            origin="continued",
            model=actor.fingerprint,
            sampling={"temperature": params.rg2_temperature, "max_tokens": params.max_tokens},
            parent_id=base.id,
            status=j.status,
            final_answer=j.answer,
        )
        out.append(_tag(trace, "rg2", k, None))
    for base, _ in chosen:
        if base.id not in done:
            stats.drop("rg2: no continuation turned wrong", base.id)
    stats.tally("rg2: kept", len(out))
    return out


def rg3(
    starts: list[Trace],
    questions: dict[str, str],
    params: CritiqueBuilder,
    actor: Engine,
    rewriter: Engine,
    *,
    strategy: str,
    stats: StageStats,
    first: int = 0,
) -> list[Trace]:
    """Step k of each base gets the problem's mistake type (the types in turn, ``starts``
    being bases ``first``, ``first + 1``, ... of the stage); the actor continues. The
    final answer is judged later with the rest."""
    planned: list[tuple[Trace, int, str]] = []
    for i, base in enumerate(starts, first):
        error_type = params.rg3_types[i % len(params.rg3_types)]
        k = random.Random(f"{params.seed}:{base.id}:rg3").randrange(len(base.steps))
        planned.append((base, k, error_type))
    edits, kinds = [], {}
    for base, k, error_type in planned:
        step = None
        if error_type not in MODEL_TYPES:
            step, reason = _rule_step(base.steps, k, error_type, params.seed)
            if reason is not None:
                stats.drop(f"rg3 {error_type}: {reason}", base.id)
                continue
        edit = StepEdit(
            f"{base.id}/rg3",
            questions[base.problem_id],
            base.steps,
            k,
            error_type,
            params.seed,
            new_step=step,
        )
        edits.append(edit)
        kinds[edit.id] = base

    def check(edit: StepEdit, step: str) -> str | None:
        return _step_problem(step, edit.steps[edit.k])

    injected = inject_errors(
        edits,
        actor,
        rewriter,
        rewrite_prompt=params.rewrite_prompt,
        continue_prompt=params.prompt,
        temperature=params.temperature,
        max_tokens=params.max_tokens,
        desc="rg3 continue",
        check=check,
    )
    ready, completions = [], []
    for x in injected:
        base = kinds[x.edit.id]
        if x.reason is not None:
            stats.drop(f"rg3 {x.edit.error_type}: {x.reason}", base.id)
            continue
        ready.append((base, x.edit.k, x.edit.error_type, [*base.steps[: x.edit.k], x.step]))
        completions.append(x.completion)
    out = []
    for (base, k, error_type, prefix), c in zip(ready, completions, strict=True):
        text = c.texts[0]
        if LEAKY_WORDS.search(text):
            stats.drop(f"rg3 {error_type}: the continuation announces the error", base.id)
            continue
        steps = _join(prefix, text, strategy)
        trace = Trace(
            id=f"{base.problem_id}/rg3",
            problem_id=base.problem_id,
            text="".join(steps),
            steps=steps,
            origin="perturbed",
            model=actor.fingerprint,
            sampling={"temperature": params.temperature, "max_tokens": params.max_tokens},
            parent_id=base.id,
        )
        out.append(
            _tag(trace, "rg3", k, error_type, by="model" if error_type in MODEL_TYPES else "rule")
        )
    stats.tally("rg3: made", len(out))
    return out


def _rule_step(steps: list[str], k: int, error_type: str, seed: int) -> tuple[str, str | None]:
    """Step k with the rule's error, or ("", why not)."""
    try:
        made = perturb(
            steps,
            error_type=error_type,
            target_swer=1 / len(steps),
            position=k + 1,
            carry=False,
            seed=seed,
        )
    except CannotPerturb as exc:
        return "", str(exc)
    return made.steps[k], None


def _step_problem(step: str, original: str) -> str | None:
    if not step.strip():
        return "rewrite: empty"
    if step.split() == original.split():
        return "rewrite: unchanged"
    if LEAKY_WORDS.search(step):
        return "rewrite announces the error"
    return None

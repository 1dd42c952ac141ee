"""Subtask decomposition: hard problems split into self-contained subproblems.

The decomposer reads a problem and its reference solution and writes 2-3 subproblems,
each with a sub-solution taken from the reference and a boxed answer. A subproblem is
kept only if it passes every check below (each failure counted by reason) and the
decomposer, shown the subproblem alone, reproduces its answer at least once in m tries,
which is the practical test that it states every condition it needs.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from typing import Any

from supdata.builders.steperror.params import Decompose
from supdata.core.records import Problem
from supdata.core.stats import StageStats
from supdata.engines import Engine, Request, SamplingParams, StructuredOutput
from supdata.ops.numbers import signed
from supdata.ops.sampling import problem_seed
from supdata.ops.steps import segment
from supdata.prompts import load_prompt
from supdata.verify import VerifyConfig, verify_many

# Phrases that make a subproblem lean on something it does not state; with the paper's
# banned list (original problem/solution, previous problem/solution, problem 1/2, both
# new problems).
REFERS_BACK = re.compile(
    r"original (problem|question|solution)|(the|a|each|another|previous|next|first|second"
    r"|third|other) sub-?(problem|question|task)s?|sub-?(problem|question|task) \d|"
    r"\bpart \(?[a-z0-9]\)|(problem|question) above|previous (problem|question|part|step"
    r"|solution)|\bproblem [12]\b|\bboth (new )?problems\b|\bnew problems?\b|"
    r"reference solution|from (above|before)",
    re.IGNORECASE,
)
_ASKS = re.compile(
    r"\?|\b(find|compute|calculate|determine|what|how|evaluate|simplify|solve|express|show)\b",
    re.IGNORECASE,
)


def decomposition_schema(low: int, high: int) -> dict[str, Any]:
    item = {
        "type": "object",
        "properties": {
            "question": {"type": "string"},
            "solution": {"type": "string"},
            "answer": {"type": "string"},
        },
        "required": ["question", "solution", "answer"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "subproblems": {"type": "array", "items": item, "minItems": low, "maxItems": high}
        },
        "required": ["subproblems"],
        "additionalProperties": False,
    }


class Rejected(ValueError):
    """The message is the counted reason."""


# LaTeX written into JSON strings unescaped: "\boxed" would read as a backspace + "oxed".
_LATEX_IN_JSON = re.compile(
    r"(?<!\\)\\(?=(boxed|frac|dfrac|tfrac|times|cdot|sqrt|text|left|right|neq|leq|geq|le|ge|"
    r"pi|div|pm|approx|infty|circ|angle|binom|quad|begin|end|mathrm|mathbf|ldots|cdots)\b)"
)


def parse_decomposition(text: str, low: int, high: int) -> list[dict[str, str]]:
    """The subproblem objects of the decomposer's JSON, or Rejected with the reason."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise Rejected("decomposition: no JSON object")
    try:
        data = json.loads(_LATEX_IN_JSON.sub(r"\\\\", text[start : end + 1]))
    except json.JSONDecodeError:
        raise Rejected("decomposition: invalid JSON") from None
    items = data.get("subproblems") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise Rejected("decomposition: no subproblems list")
    if not low <= len(items) <= high:
        raise Rejected(f"decomposition: {len(items)} subproblems, want {low}-{high}")
    out = []
    for item in items:
        if not isinstance(item, dict) or not all(
            isinstance(item.get(k), str) for k in ("question", "solution", "answer")
        ):
            raise Rejected("decomposition: a subproblem lacks question, solution or answer")
        out.append({k: item[k].strip() for k in ("question", "solution", "answer")})
    return out


def _normal(text: str) -> str:
    return re.sub(r"[\s$]+", "", text).rstrip(".").lower()


def _in_reference(answer: str, reference: str) -> bool:
    """The sub-answer is one of the reference solution's results (text or number)."""
    if _normal(answer) and _normal(answer) in _normal(reference):
        return True
    try:
        value = float(answer.replace(",", "").strip("$ ."))
    except ValueError:
        return False
    return any(float(n) == value for n in signed(reference))


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(
        None, " ".join(a.lower().split()), " ".join(b.lower().split())
    ).ratio()


def check_subproblem(sub: dict[str, str], parent: Problem, params: Decompose) -> str | None:
    """Why a subproblem is not kept (before the reproduce test), or None."""
    question, solution, answer = sub["question"], sub["solution"], sub["answer"]
    if len(question.split()) < 4 or not _ASKS.search(question):
        return "ill-defined: not a question"
    if not answer or not solution:
        return "ill-defined: no answer or solution"
    if REFERS_BACK.search(question) or REFERS_BACK.search(solution):
        return "refers to the original problem or another subproblem"
    if similarity(question, parent.question) > params.max_similarity:
        return "variant of the full problem"
    if parent.reference_answer and _normal(answer) == _normal(parent.reference_answer):
        return "variant of the full problem: same answer"
    if not _in_reference(answer, parent.reference_solution):
        return "answer not derived from the reference solution"
    if len(segment(solution)) < params.min_solution_steps:
        return f"too simple: fewer than {params.min_solution_steps} steps"
    ref_words = len(parent.reference_solution.split())
    if ref_words and len(solution.split()) > params.max_reference_share * ref_words:
        return "nearly all of the reference solution"
    return None


def decompose_problems(
    problems: list[Problem],
    params: Decompose,
    engine: Engine,
    *,
    solve_prompt: str,
    verify: VerifyConfig,
    seed: int,
    stats: StageStats,
    screen: Callable[[str, str], str | None] | None = None,
) -> list[Problem]:
    """The kept subproblems, as Problems whose id is ``<parent>/sub-<j>``.

    ``screen`` (id, question) gives a reason to reject a subproblem (decontamination);
    it runs before the reproduce test, so no samples are spent on a rejected one."""
    stats.n_in += len(problems)
    if not problems:
        return []
    prompt = load_prompt(params.prompt)
    counts: dict[str, tuple[int, int]] = {}
    for p in problems:
        # the decomposer's tokenizer is needed only when the count depends on length
        tokens = (
            engine.count_tokens(p.reference_solution) if params.subtasks_by_reference_tokens else 0
        )
        count = params.subtask_count(tokens)
        if count is None:
            stats.drop("reference length outside every subtask range", p.id)
        else:
            counts[p.id] = count
    problems = [p for p in problems if p.id in counts]
    requests = [
        Request(
            prompt.render(
                question=p.question,
                solution=p.reference_solution,
                min_subtasks=counts[p.id][0],
                max_subtasks=counts[p.id][1],
            ),
            SamplingParams(
                temperature=params.temperature,
                max_tokens=params.max_tokens,
                seed=problem_seed(seed + 13, p.id, 1),
                structured=StructuredOutput(json_schema=decomposition_schema(*counts[p.id]))
                if engine.supports_structured
                else None,
            ),
            id=p.id,
        )
        for p in problems
    ]
    completions = engine.generate(requests, desc=f"decompose ({engine.name})")
    candidates: list[tuple[Problem, int, dict[str, str]]] = []
    for parent, completion in zip(problems, completions, strict=True):
        try:
            subs = parse_decomposition(completion.texts[0], *counts[parent.id])
        except Rejected as exc:
            stats.drop(str(exc), parent.id)
            continue
        seen: set[str] = set()
        for j, sub in enumerate(subs):
            stats.tally("subproblems proposed")
            reason = check_subproblem(sub, parent, params)
            if reason is None and _normal(sub["question"]) in seen:
                reason = "duplicate subproblem"
            seen.add(_normal(sub["question"]))
            if reason is None and screen is not None:
                reason = screen(f"{parent.id}/sub-{j + 1}", sub["question"])
            if reason is not None:
                stats.tally(f"subproblem rejected: {reason}")
                continue
            candidates.append((parent, j, sub))
    kept = _reproduced(candidates, params, engine, solve_prompt, verify, seed, stats)
    stats.n_out += len(kept)
    stats.tally("problems with a kept subproblem", len({p.meta["parent_id"] for p in kept}))
    return kept


def _reproduced(  # noqa: PLR0917
    candidates: list[tuple[Problem, int, dict[str, str]]],
    params: Decompose,
    engine: Engine,
    solve_prompt: str,
    verify: VerifyConfig,
    seed: int,
    stats: StageStats,
) -> list[Problem]:
    if not candidates:
        return []
    solve = load_prompt(solve_prompt)
    m = params.reproduce_samples
    requests = [
        Request(
            solve.render(question=sub["question"]),
            SamplingParams(
                n=m,
                temperature=1.0,
                max_tokens=params.max_tokens,
                seed=problem_seed(seed + 17, f"{parent.id}/sub-{j + 1}", m),
            ),
            id=f"{parent.id}/sub-{j + 1}",
        )
        for parent, j, sub in candidates
    ]
    completions = engine.generate(requests, desc=f"reproduce subtasks ({engine.name})")
    checks = [
        (text, sub["answer"])
        for (_, _, sub), c in zip(candidates, completions, strict=True)
        for text in c.texts
    ]
    judged = list(verify_many(checks, verify))
    kept = []
    for i, (parent, j, sub) in enumerate(candidates):
        statuses = [x.status for x in judged[i * m : (i + 1) * m]]
        if "bad_reference" in statuses:
            stats.tally("subproblem rejected: answer does not parse")
            continue
        hits = statuses.count("correct")
        if hits == 0:
            stats.tally("subproblem rejected: answer not reproduced")
            continue
        stats.tally("subproblems kept")
        kept.append(
            Problem(
                id=f"{parent.id}/sub-{j + 1}",
                question=sub["question"],
                reference_solution=sub["solution"],
                reference_answer=sub["answer"],
                source=parent.source,
                level=parent.level,
                subject=parent.subject,
                meta={
                    "parent_id": parent.id,
                    "index": j + 1,
                    "reproduced": hits,
                    "reproduce_samples": m,
                    "similarity_to_parent": round(similarity(sub["question"], parent.question), 3),
                },
            )
        )
    return kept

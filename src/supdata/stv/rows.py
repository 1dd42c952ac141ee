"""STV configs: distillation targets, verifier RL prompts, verifier-in-the-loop prompts."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pyarrow as pa

from supdata.builders.config import StvBuilder
from supdata.critique.filters import dedup_key
from supdata.critique.rows import MESSAGES
from supdata.prompts import load_prompt
from supdata.records import Problem, Trace
from supdata.stats import StageStats
from supdata.stv.attempts import Attempt
from supdata.stv.feedback import messages
from supdata.stv.leak import leak

_COMMON = [
    pa.field("id", pa.string(), nullable=False),
    pa.field("problem_id", pa.string(), nullable=False),
]
_BIN = [
    pa.field("bin", pa.string(), nullable=False),
    pa.field("pass_rate", pa.float64(), nullable=False),
]
VERDICT_SCHEMA = pa.schema(
    [
        *_COMMON,
        pa.field("attempt_id", pa.string(), nullable=False),
        pa.field("role", pa.string(), nullable=False),
        pa.field("sample", pa.int32(), nullable=False),
        pa.field("feedback", pa.string(), nullable=False),
        pa.field("verdict", pa.bool_()),
        pa.field("verdict_asked", pa.bool_(), nullable=False),
        pa.field("truth", pa.bool_(), nullable=False),
        *_BIN,
        pa.field("finish_reason", pa.string()),
        pa.field("tokens", pa.int32(), nullable=False),
    ]
)
DISTILL_SCHEMA = pa.schema(
    [
        *_COMMON,
        pa.field("attempt_id", pa.string(), nullable=False),
        pa.field("question", pa.string(), nullable=False),
        pa.field("attempt", pa.string(), nullable=False),
        pa.field("prompt", MESSAGES, nullable=False),
        pa.field("ref_prompt", MESSAGES, nullable=False),
        pa.field("completion", MESSAGES, nullable=False),
        pa.field("verdict", pa.bool_(), nullable=False),
        pa.field("truth", pa.bool_(), nullable=False),
        *_BIN,
        pa.field("reference_answer", pa.string(), nullable=False),
    ]
)
VERIFIER_RL_SCHEMA = pa.schema(
    [
        *_COMMON,
        pa.field("prompt", MESSAGES, nullable=False),
        pa.field("truth", pa.bool_(), nullable=False),
        *_BIN,
        pa.field("reference_answer", pa.string(), nullable=False),
    ]
)
VIL_SCHEMA = pa.schema(
    [
        *_COMMON,
        pa.field("prompt", MESSAGES, nullable=False),
        pa.field("answer", pa.string(), nullable=False),
        *_BIN,
        pa.field("feedback_verdict", pa.bool_(), nullable=False),
        pa.field("attempt_correct", pa.bool_(), nullable=False),
    ]
)


def target_problem(row: dict, attempt: Trace, problem: Problem, params: StvBuilder) -> str | None:
    """Why an informed feedback is not a target, or None when it is one."""
    if row["finish_reason"] == "length":
        return f"too long: cut at feedback_max_tokens ({params.feedback_max_tokens})"
    if row["tokens"] < params.feedback_min_tokens:
        return f"too short: under feedback_min_tokens ({params.feedback_min_tokens})"
    if row["verdict"] is None:
        return "no verdict line"
    if row["verdict"] != row["truth"]:
        return "verdict disagrees with the truth"
    return leak(row["feedback"], attempt.text, problem.reference_answer or "")


def distill_rows(
    verdicts: list[dict], attempts: list[Attempt], params: StvBuilder, stats: StageStats
) -> list[dict]:
    """Informed feedback that matches the truth, leaks nothing, and fits the length bounds;
    identical feedback for one attempt is kept once."""
    by_id = {a.trace.id: a for a in attempts}
    informed = [r for r in verdicts if r["role"] == "informed"]
    stats.n_in = len(informed)
    seen: set[tuple[str, str]] = set()
    rows = []
    for r in informed:
        a = by_id[r["attempt_id"]]
        why = target_problem(r, a.trace, a.problem, params)
        if why is None and (a.trace.id, dedup_key(r["feedback"])) in seen:
            why = "duplicate feedback for the attempt"
        if why is not None:
            stats.drop(why, r["id"])
            continue
        seen.add((a.trace.id, dedup_key(r["feedback"])))
        stats.tally(f"bin {a.bin}: {'correct' if a.truth else 'wrong'} attempts' targets")
        rows.append(
            {
                "id": r["id"],
                "problem_id": a.problem.id,
                "attempt_id": a.trace.id,
                "question": a.problem.question,
                "attempt": a.trace.text,
                "prompt": messages(a, params, "student"),
                "ref_prompt": messages(a, params, "informed"),
                "completion": [{"role": "assistant", "content": r["feedback"]}],
                "verdict": r["verdict"],
                "truth": a.truth,
                "bin": a.bin,
                "pass_rate": a.pass_rate,
                "reference_answer": a.problem.reference_answer or "",
            }
        )
    stats.n_out = len(rows)
    return rows


def verifier_rl_rows(attempts: list[Attempt], params: StvBuilder, stats: StageStats) -> list[dict]:
    """Every binned attempt as a student prompt with its true verdict (reward target)."""
    stats.n_in = stats.n_out = len(attempts)
    for a in attempts:
        stats.tally(f"truth: {'correct' if a.truth else 'wrong'}")
    return [
        {
            "id": a.trace.id,
            "problem_id": a.problem.id,
            "prompt": messages(a, params, "student"),
            "truth": a.truth,
            "bin": a.bin,
            "pass_rate": a.pass_rate,
            "reference_answer": a.problem.reference_answer or "",
        }
        for a in attempts
    ]


def vil_rows(
    distill: list[dict], attempts: list[Attempt], params: StvBuilder, stats: StageStats
) -> list[dict]:
    """[problem, attempt, feedback] generator prompts with the ground-truth answer. The
    feedback is each attempt's first distillation target: what the trained verifier is
    taught to say, so the generator learns to act on that verifier's words."""
    by_id = {a.trace.id: a for a in attempts}
    solve = load_prompt(params.prompt)
    turn = load_prompt(params.vil_prompt)
    stats.n_in = len(attempts)
    first: dict[str, dict] = {}
    for r in distill:
        first.setdefault(r["attempt_id"], r)
    rows = []
    for attempt_id, r in first.items():
        a = by_id[attempt_id]
        feedback = r["completion"][0]["content"]
        rows.append(
            {
                "id": attempt_id,
                "problem_id": a.problem.id,
                "prompt": [
                    *solve.render(question=a.problem.question),
                    {"role": "assistant", "content": a.trace.text},
                    *turn.render(feedback=feedback),
                ],
                "answer": a.problem.reference_answer or "",
                "bin": a.bin,
                "pass_rate": a.pass_rate,
                "feedback_verdict": r["verdict"],
                "attempt_correct": a.truth,
            }
        )
    for a in attempts:
        if a.trace.id not in first:
            stats.drop("no distillation target for the attempt", a.trace.id)
    stats.n_out = len(rows)
    return rows


def accuracy_figures(verdicts: list[dict], bins: list[str]) -> dict[str, Any]:
    """Verdict accuracy of the informed and the uninformed verifier on the same attempts,
    overall and per bin (and per true verdict): the gap is what STV distills. A feedback
    without a verdict counts as a miss."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in verdicts:
        for scope in ("all", f"bin:{r['bin']}", f"truth:{'correct' if r['truth'] else 'wrong'}"):
            groups[(scope, r["role"])].append(r)

    def acc(rows: list[dict]) -> dict[str, Any]:
        hits = sum(1 for r in rows if r["verdict"] is not None and r["verdict"] == r["truth"])
        parsed = sum(1 for r in rows if r["verdict"] is not None)
        n = len(rows)
        return {
            "n": n,
            "correct": hits,
            "accuracy": round(hits / n, 4) if n else None,
            "parsed": parsed,
            "attempts": len({r["attempt_id"] for r in rows}),
        }

    scopes = ["all", *(f"bin:{b}" for b in bins), "truth:correct", "truth:wrong"]
    out = {}
    for scope in scopes:
        informed, student = acc(groups[(scope, "informed")]), acc(groups[(scope, "student")])
        if not informed["n"] and not student["n"]:
            continue
        gap = (
            round(informed["accuracy"] - student["accuracy"], 4)
            if informed["n"] and student["n"]
            else None
        )
        out[scope] = {"informed": informed, "uninformed": student, "gap": gap}
    return out


def config_figures(config: str, rows: list[dict]) -> dict[str, Any]:
    """Per-config counts for the card: rows per bin, and truth/verdict mixes."""
    figures: dict[str, Any] = {
        "rows": len(rows),
        "bins": dict(sorted(Counter(r["bin"] for r in rows).items())),
    }
    if config == "distill":
        figures["attempts"] = len({r["attempt_id"] for r in rows})
        figures["verdicts"] = dict(Counter("Correct" if r["verdict"] else "Wrong" for r in rows))
    elif config == "verifier_rl":
        figures["truth"] = dict(Counter("Correct" if r["truth"] else "Wrong" for r in rows))
    elif config == "vil":
        figures["attempts_correct"] = sum(1 for r in rows if r["attempt_correct"])
    return figures

"""STV configs: distillation targets, verifier RL prompts, verifier-in-the-loop prompts."""

from __future__ import annotations

from supdata.builders.stv.attempts import Attempt
from supdata.builders.stv.feedback import messages, target_role
from supdata.builders.stv.leak import leak
from supdata.builders.stv.params import StvBuilder
from supdata.core.records import Problem, Trace
from supdata.core.stats import StageStats
from supdata.hygiene.normalize import dedup_key
from supdata.prompts import load_prompt


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
    role = target_role(params)
    informed = [r for r in verdicts if r["role"] == role]
    stats.n_in += len(informed)
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
                "ref_prompt": messages(a, params, role),
                "completion": [{"role": "assistant", "content": r["feedback"]}],
                "verdict": r["verdict"],
                "truth": a.truth,
                "bin": a.bin,
                "pass_rate": a.pass_rate,
                "reference_answer": a.problem.reference_answer or "",
            }
        )
    stats.n_out += len(rows)
    return rows


def verifier_rl_rows(attempts: list[Attempt], params: StvBuilder, stats: StageStats) -> list[dict]:
    """Every binned attempt as a student prompt with its true verdict (reward target)."""
    stats.n_in += len(attempts)
    stats.n_out += len(attempts)
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


def teacher_feedback(distill: list[dict]) -> dict[str, tuple[str, bool]]:
    """ViL feedback from the informed teacher: each attempt's first distillation target."""
    first: dict[str, tuple[str, bool]] = {}
    for r in distill:
        first.setdefault(r["attempt_id"], (r["completion"][0]["content"], r["verdict"]))
    return first


def verifier_feedback(rows: list[dict], stats: StageStats) -> dict[str, tuple[str, bool]]:
    """ViL feedback from a verifier engine: per attempt, its first finished feedback with a
    verdict, kept as it is, right or wrong (what the frozen verifier says in the loop)."""
    first: dict[str, tuple[str, bool]] = {}
    for r in rows:
        if r["attempt_id"] in first:
            continue
        if r["finish_reason"] == "length":
            stats.tally("verifier feedback cut at feedback_max_tokens")
        elif r["verdict"] is None:
            stats.tally("verifier feedback without a verdict")
        else:
            first[r["attempt_id"]] = (r["feedback"], r["verdict"])
    return first


def vil_rows(
    feedback: dict[str, tuple[str, bool]],
    source: str,
    attempts: list[Attempt],
    params: StvBuilder,
    stats: StageStats,
) -> list[dict]:
    """[problem, attempt, feedback] generator prompts with the ground-truth answer, for
    every attempt that has a feedback (attempt id -> (text, verdict)); ``source`` names
    who wrote it (``verifier_engine:<name>`` or ``informed_teacher``)."""
    solve = load_prompt(params.prompt)
    turn = load_prompt(params.vil.prompt)
    stats.n_in += len(attempts)
    rows = []
    for a in attempts:
        if a.trace.id not in feedback:
            why = (
                "no distillation target for the attempt"
                if source == "informed_teacher"
                else "no usable verifier feedback for the attempt"
            )
            stats.drop(why, a.trace.id)
            continue
        text, verdict = feedback[a.trace.id]
        stats.tally(f"feedback verdict {'matches' if verdict == a.truth else 'misses'} the truth")
        rows.append(
            {
                "id": a.trace.id,
                "problem_id": a.problem.id,
                "prompt": [
                    *solve.render(question=a.problem.question),
                    {"role": "assistant", "content": a.trace.text},
                    *turn.render(feedback=text),
                ],
                "answer": a.problem.reference_answer or "",
                "bin": a.bin,
                "pass_rate": a.pass_rate,
                "feedback_verdict": verdict,
                "feedback_source": source,
                "attempt_correct": a.truth,
            }
        )
    stats.n_out += len(rows)
    return rows

"""STV configs: distillation targets, verifier RL prompts, verifier-in-the-loop prompts."""

from __future__ import annotations

from supdata.builders.stv.attempts import Attempt
from supdata.builders.stv.feedback import messages
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

"""Ask the verifier about each attempt, uninformed (student) or informed (teacher)."""

from __future__ import annotations

from supdata.builders.stv.attempts import Attempt
from supdata.builders.stv.params import StvBuilder
from supdata.engines import Engine, Request, SamplingParams, StructuredOutput
from supdata.ops.sampling import problem_seed
from supdata.ops.verdict import parse_verdict
from supdata.prompts import load_prompt

ROLES = ("informed", "informed_verdict", "student")
"""Who judges: the teacher shown the reference only, the teacher also told the true
verdict, and the student (problem and attempt only). Both teachers are always measured:
the headline gap (informed - student) is the reference's effect, not obedience to a
stated verdict; the recipe's ``informed_verdict`` picks which teacher writes the targets."""
_SEED_OFFSET = {"informed": 31, "informed_verdict": 41, "student": 37}
_VERDICT_CUE = "\n\nVerdict:"


def target_role(params: StvBuilder) -> str:
    """The teacher whose feedback becomes the distillation targets."""
    return "informed_verdict" if params.informed_verdict else "informed"


def messages(attempt: Attempt, params: StvBuilder, role: str) -> list[dict[str, str]]:
    """The verifier's prompt: the student's sees problem and attempt; the teacher's also
    the reference solution, and ``informed_verdict``'s the true verdict too."""
    question, text = attempt.problem.question, attempt.trace.text
    if role == "student":
        return list(load_prompt(params.student_prompt).render(question=question, attempt=text))
    if role not in ("informed", "informed_verdict"):
        raise ValueError(f"unknown verifier role {role!r}; known: {list(ROLES)}")
    return list(
        load_prompt(params.informed_prompt).render(
            question=question,
            attempt=text,
            reference=attempt.problem.reference_solution,
            verdict=attempt.truth if role == "informed_verdict" else None,
        )
    )


def feedback_rows(
    attempts: list[Attempt], params: StvBuilder, verifier: Engine, role: str
) -> list[dict]:
    """S feedback samples per attempt, each with its verdict: the one it states, or (with
    ``ask_verdict``) the one the verifier picks when asked right after its feedback."""
    s = params.samples_per_attempt
    prompts = [tuple(messages(a, params, role)) for a in attempts]
    completions = verifier.generate(
        [
            Request(
                prompt,
                SamplingParams(
                    n=s,
                    temperature=params.verifier_temperature,
                    max_tokens=params.feedback_max_tokens,
                    seed=problem_seed(params.seed + _SEED_OFFSET[role], a.trace.id, s),
                ),
                id=f"{a.trace.id}/verify-{role}",
            )
            for a, prompt in zip(attempts, prompts, strict=True)
        ],
        desc=f"{role} verifier ({verifier.name})",
    )
    rows = []
    for a, c in zip(attempts, completions, strict=True):
        for i, text in enumerate(c.texts):
            rows.append(
                {
                    "id": f"{a.trace.id}/{role}/{i}",
                    "attempt_id": a.trace.id,
                    "problem_id": a.problem.id,
                    "role": role,
                    "sample": i,
                    "feedback": text,
                    "verdict": parse_verdict(text),
                    "verdict_asked": False,
                    "truth": a.truth,
                    "bin": a.bin,
                    "pass_rate": a.pass_rate,
                    "finish_reason": c.finish_reasons[i],
                    "tokens": c.output_tokens[i],
                }
            )
    if params.ask_verdict and verifier.supports_structured:
        by_attempt = {a.trace.id: p for a, p in zip(attempts, prompts, strict=True)}
        _ask_verdicts(rows, by_attempt, verifier)
    return rows


def _ask_verdicts(rows: list[dict], prompts: dict, verifier: Engine) -> None:
    """Finished feedback that states no verdict: continue it with "Verdict:" and let the
    verifier choose, greedily, between Correct and Wrong. Its own judgement of its own
    feedback, never a guess by the parser; cut feedback is left alone (dropped later)."""
    todo = [r for r in rows if r["verdict"] is None and r["finish_reason"] != "length"]
    if not todo:
        return
    completions = verifier.generate(
        [
            Request(
                (*prompts[r["attempt_id"]], {"role": "assistant", "content": _cued(r)}),
                SamplingParams(
                    temperature=0.0,
                    max_tokens=2,
                    structured=StructuredOutput(choice=(" Correct", " Wrong")),
                ),
                continue_final=True,
                id=f"{r['id']}/verdict",
            )
            for r in todo
        ],
        desc=f"ask verdicts ({verifier.name})",
    )
    for r, c in zip(todo, completions, strict=True):
        r["feedback"] = _cued(r) + c.texts[0]
        r["verdict"] = parse_verdict(r["feedback"])
        r["verdict_asked"] = True


def _cued(row: dict) -> str:
    return row["feedback"].rstrip() + _VERDICT_CUE

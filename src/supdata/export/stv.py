"""STV's oracle-solution files: ``{split}_problems_{bin}.jsonl``, one per pass-rate bin,
each problem once with its reference (oracle) solution, which the informed teacher sees
during STV training. Built from an stv folder's ``verifier_rl`` config (bin and pass
rate per attempt) and its ``problems`` config (question and reference)."""

from __future__ import annotations

from typing import Any

from datasets import Dataset

from supdata.export.common import ExportError


def to_stv_oracle(attempts: Dataset, problems: Dataset) -> dict[str, list[dict[str, Any]]]:
    """bin -> one row per binned problem: id, problem, solution, answer, bin, pass_rate,
    in the order the problems first appear."""
    refs = {p["id"]: p for p in problems}
    out: dict[str, list[dict[str, Any]]] = {}
    seen: set[str] = set()
    for a in attempts:
        pid = a["problem_id"]
        if pid in seen:
            continue
        seen.add(pid)
        problem = refs.get(pid)
        if problem is None:
            raise ExportError(f"verifier_rl row {a['id']!r}: problem {pid!r} not in problems")
        if not problem["reference_solution"].strip():
            raise ExportError(f"problem {pid!r} has no reference solution: STV's teacher needs one")
        out.setdefault(a["bin"], []).append(
            {
                "id": pid,
                "problem": problem["question"],
                "solution": problem["reference_solution"],
                "answer": problem["reference_answer"] or a["reference_answer"],
                "bin": a["bin"],
                "pass_rate": a["pass_rate"],
            }
        )
    return out

"""Card figures of the steperror configs: pairs, exact-ER mixtures, subtasks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from supdata.builders.steperror.params import parse_part
from supdata.core.records import Problem, Trace
from supdata.core.runner import Figures
from supdata.ops.figures import trace_figures
from supdata.ops.mixture import er_counts, take_count


def pair_figures(config: str, rows: list[dict], ctx: Any) -> Figures:
    restyled = sum(1 for r in rows if r["chosen_origin"] == "restyled")
    return Figures(measured={"pairs": len(rows), "chosen_restyled": restyled})


def negative_figures(config: str, rows: list[dict], ctx: Any) -> Figures:
    """Pairs, and the kept negatives per error kind (composed: from subproblems)."""
    kinds = Counter(r["error_kind"] for r in rows)
    return Figures(measured={**pair_figures(config, rows, ctx).measured, "kinds": dict(kinds)})


def mixture_figures(parts: list[str]):
    names = [f"{pool}@{er:g}" for pool, er in map(parse_part, parts)]

    def figures(config: str, rows: list[dict], ctx: Any) -> Figures:
        counts = {p: [0, 0] for p in names}  # one pass: rows and wrong rows per part
        for r in rows:
            counts[r["part"]][0] += 1
            counts[r["part"]][1] += not r["correct"]
        by_part = {p: _rate(n, wrong) for p, (n, wrong) in counts.items()}
        return Figures(measured={**_er(rows), "parts": by_part})

    return figures


def subtask_figures(config: str, problems: list[Problem], ctx: Any) -> Figures:
    parents = {p.meta["parent_id"] for p in problems}
    rates = [p.meta["reproduced"] / p.meta["reproduce_samples"] for p in problems]
    return Figures(
        measured={
            "subproblems": len(problems),
            "parent_problems": len(parents),
            "mean_reproduce_rate": round(sum(rates) / len(rates), 4) if rates else None,
        }
    )


def teacher_sample_figures(names: list[str]):
    """Per teacher: samples, outcome ER (wrong or unanswered / judged, math-verify),
    mean SWER over the annotator-labelled samples, finish reasons, samples without an
    answer."""

    def figures(config: str, records: list[tuple[str, Trace]], ctx: Any) -> Figures:
        teachers = {name: _teacher_figures(records, name) for name in names}
        return Figures(measured={"samples": len(records), "teachers": teachers})

    return figures


def _teacher_figures(records: Iterable[tuple[str, Trace]], name: str) -> dict[str, Any]:
    """One teacher's figures in one pass over the stage (counters only)."""
    seen: Counter[str] = Counter()
    finish: Counter[str | None] = Counter()
    model = None

    def mine() -> Iterator[Trace]:
        nonlocal model
        for who, t in records:
            if who != name:
                continue
            model = model or t.model
            seen["samples"] += 1
            seen["labelled"] += t.annotation is not None and t.annotation.swer is not None
            seen["no_answer"] += t.status == "no_answer"
            finish[t.sampling.get("finish_reason")] += 1
            yield t

    measured = trace_figures(mine())
    return {
        "model": model,
        "samples": seen["samples"],
        "judged": measured.get("judged", 0),
        "outcome_error_rate": measured.get("outcome_error_rate"),
        "labelled": seen["labelled"],
        "swer_mean": measured.get("swer_per_solution_mean"),
        "finish": dict(finish),
        "no_answer": seen["no_answer"],
    }


def teacher_er_figures(config: str, rows: list[dict], ctx: Any) -> Figures:
    """A teacher's selection: its M problems with a complete sample, the wrong slots
    round(ER x M), and the slots its samples could not fill (left out, never swapped)."""
    facts = ctx.facts[config]["selection"]
    m, er = facts["candidates"], facts["er_target"]
    k = take_count(er, m)
    wrong = sum(1 for r in rows if not r["correct"])
    return Figures(
        measured={
            **_er(rows),
            "er_target": er,
            "teacher": facts["teacher"],
            "problems": facts["problems"],
            "candidates": m,
            "wrong_slots": k,
            "unfilled_wrong": k - wrong,
            "unfilled_right": m - k - (len(rows) - wrong),
        }
    )


def _er(rows: list[dict]) -> dict[str, Any]:
    n, wrong, _ = er_counts(rows)
    return _rate(n, wrong)


def _rate(n: int, wrong: int) -> dict[str, Any]:
    return {"rows": n, "outcome_error_rate": round(wrong / n, 4) if n else None}

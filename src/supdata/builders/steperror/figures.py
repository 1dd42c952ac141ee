"""Card figures of the steperror configs: pairs, exact-ER mixtures, subtasks."""

from __future__ import annotations

from typing import Any

from supdata.builders.steperror.params import parse_part
from supdata.core.records import Problem
from supdata.core.runner import Figures


def pair_figures(config: str, rows: list[dict], ctx: Any) -> Figures:
    restyled = sum(1 for r in rows if r["chosen_origin"] == "restyled")
    return Figures(measured={"pairs": len(rows), "chosen_restyled": restyled})


def er_figures(config: str, rows: list[dict], ctx: Any) -> Figures:
    return Figures(measured={**_er(rows), "er_target": rows[0]["er_target"] if rows else None})


def mixture_figures(parts: list[str]):
    names = [f"{pool}@{er:g}" for pool, er in map(parse_part, parts)]

    def figures(config: str, rows: list[dict], ctx: Any) -> Figures:
        by_part = {p: _er([r for r in rows if r["part"] == p]) for p in names}
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


def _er(rows: list[dict]) -> dict[str, Any]:
    wrong = sum(1 for r in rows if not r["correct"])
    return {"rows": len(rows), "outcome_error_rate": round(wrong / len(rows), 4) if rows else None}

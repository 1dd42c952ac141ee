"""Card figures of the critique configs."""

from __future__ import annotations

from collections import Counter
from typing import Any

from supdata.core.runner import Figures, Plot
from supdata.ops.figures import plot_pass_rates


def critique_figures(config: str, rows: list[dict], ctx: Any) -> Figures:
    """One pass over the rows (a stage on disk): counters, and the success rates for the
    plot."""
    first, methods, verdicts, steps = Counter(), Counter(), Counter(), Counter()
    rates = []
    for r in rows:
        k = r["first_error_step"]
        first["none" if k < 0 else f"step {k + 1}"] += 1
        methods[r["method"]] += 1
        verdicts[r["final_verdict"]] += 1
        steps.update("correct" if x else "wrong" for x in r["labels"])
        rates.append(r["refine_success_rate"])
    measured = {
        "critiques": len(rates),
        "methods": dict(methods),
        "steps_labelled": {"correct": steps["correct"], "wrong": steps["wrong"]},
        "first_error_step": dict(sorted(first.items())),
        "final_verdicts": dict(verdicts),
        "mean_refine_success_rate": round(sum(rates) / len(rates), 4) if rates else None,
    }
    plots = []
    if rates:
        plots.append(
            Plot(
                f"plots/{config}_refine_success.png",
                f"Refinement success rate ({config})",
                lambda path: plot_pass_rates(rates, path, f"{config}: refinement success rate"),
            )
        )
    return Figures(measured=measured, plots=plots)


def sft_figures(config: str, rows: list[dict], ctx: Any) -> Figures:
    return Figures(
        measured={"rows": len(rows), "sources": dict(Counter(r["source"] for r in rows))}
    )


def round_figures(config: str, rows: list[dict], ctx: Any) -> Figures:
    """A ``selfimprove_rR`` config: its rows by source, and the round's yields and
    engines (the facts of ``selfimprove_round_rR``)."""
    facts = ctx.facts.get(config.replace("selfimprove_r", "selfimprove_round_r", 1), {})
    measured = sft_figures(config, rows, ctx).measured or {}
    keys = ("round", "actor", "actor_model", "critic", "critic_model", "critic_sees_reference")
    measured.update({k: facts[k] for k in keys if k in facts})
    measured["yields"] = facts.get("yields", {})
    return Figures(measured=measured)


def triple_figures(config: str, rows: list[dict], ctx: Any) -> Figures:
    per_round = Counter(f"r{r['round']}" for r in rows)
    return Figures(measured={"rows": len(rows), "rounds": dict(sorted(per_round.items()))})

"""Measured quality figures for the card and stats.json, and their plots: shared by
every builder (trace configs, pass rates, SWER, first errors) and the build itself."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from supdata.core.records import Trace
from supdata.core.runner import Figures, Plot


def trace_figures(traces: list[Trace]) -> dict[str, Any]:
    """Outcome error rate, pass rates per problem, steps per solution, SWER if labelled."""
    if not traces:
        return {"solutions": 0, "_pass_rates": [], "_steps": []}
    judged = [t for t in traces if t.correct is not None]
    wrong = sum(1 for t in judged if t.correct is False)
    per_problem: dict[str, list[bool]] = defaultdict(list)
    for t in judged:
        per_problem[t.problem_id].append(bool(t.correct))
    pass_rates = [sum(v) / len(v) for v in per_problem.values()]
    steps = [len(t.steps) for t in traces]
    figures: dict[str, Any] = {
        "solutions": len(traces),
        "judged": len(judged),
        "outcome_error_rate": round(wrong / len(judged), 4) if judged else None,
        "problems": len(per_problem),
        "mean_pass_rate": round(statistics.fmean(pass_rates), 4) if pass_rates else None,
        "problems_all_wrong": sum(1 for r in pass_rates if r == 0),
        "problems_all_right": sum(1 for r in pass_rates if r == 1),
        "steps_per_solution_mean": round(statistics.fmean(steps), 2),
        "steps_per_solution_median": statistics.median(steps),
    }
    labelled = [t.annotation for t in traces if t.annotation is not None]
    swers = [a.swer for a in labelled if a.swer is not None]
    if swers:
        wrong_steps = sum(sum(1 for x in a.labels if x is False) for a in labelled)
        judged_steps = sum(sum(1 for x in a.labels if x is not None) for a in labelled)
        figures["swer_per_solution_mean"] = round(statistics.fmean(swers), 4)
        figures["swer_overall"] = round(wrong_steps / judged_steps, 4)
    first_errors = [
        (a.first_error_step, len(a.labels), a.error_types)
        for a in labelled
        if a.first_error_step >= 0
    ]
    if first_errors:
        figures["error_types"] = (
            dict(Counter(types[k] or "unnamed" for k, _, types in first_errors if types)) or None
        )
        figures["first_error_position"] = dict(
            Counter(_position_bin(k, n) for k, n, _ in first_errors)
        )
        figures["first_error_step"] = {
            f"step {k + 1}": v for k, v in sorted(Counter(k for k, _, _ in first_errors).items())
        }
        figures["_first_error_relative"] = [k / max(n - 1, 1) for k, n, _ in first_errors]
    by_target: dict[float, list[Any]] = defaultdict(list)
    for t in traces:
        target = t.sampling.get("target_swer")
        if target is not None and t.annotation is not None and t.annotation.swer is not None:
            by_target[float(target)].append(t.annotation)
    if by_target:
        figures["swer_by_target"] = {f"{k:g}": _by_target(v) for k, v in sorted(by_target.items())}
    figures["_pass_rates"] = pass_rates
    figures["_steps"] = steps
    return figures


def trace_config(*, pass_rate_plot: bool = False):
    """The figures of a config of traces: measured quality, first-error and SWER plots,
    and (``pass_rate_plot``) the pass rate per problem."""

    def figures(config: str, traces: list[Trace], ctx: Any) -> Figures:
        measured = trace_figures(traces)
        steps = measured.pop("_steps")
        pass_rates = measured.pop("_pass_rates")
        relative = measured.pop("_first_error_relative", None)
        plots = []
        if relative:
            plots.append(
                Plot(
                    f"plots/{config}_first_error.png",
                    f"First error position ({config})",
                    lambda path: plot_first_errors(relative, path, f"{config}: first error"),
                )
            )
        swers = [t.annotation.swer for t in traces if t.annotation is not None]
        swers = [x for x in swers if x is not None]
        if swers:
            plots.append(
                Plot(
                    f"plots/{config}_swer.png",
                    f"Step-wise error rate ({config})",
                    lambda path: plot_swer(swers, path, f"{config}: step-wise error rate"),
                )
            )
        if pass_rate_plot and pass_rates:
            plots.append(
                Plot(
                    f"plots/{config}_pass_rate.png",
                    f"Pass rate per problem ({config})",
                    lambda path: plot_pass_rates(pass_rates, path, f"{config}: pass rate"),
                )
            )
        return Figures(measured=measured, plots=plots, steps=steps)

    return figures


def _by_target(annotations: list[Any]) -> dict[str, Any]:
    """Rows at one target SWER: their measured SWER (wrong / all steps) beside the first
    error: its step (1-based) and the share of steps from it on, which is what SWER
    would be if every step after the first error counted as wrong."""
    firsts = [(a.first_error_step, len(a.labels)) for a in annotations if a.first_error_step >= 0]
    return {
        "rows": len(annotations),
        "measured_mean": round(statistics.fmean(a.swer for a in annotations), 4),
        "first_error_step_mean": round(statistics.fmean(k + 1 for k, _ in firsts), 2)
        if firsts
        else None,
        "from_first_error_mean": round(statistics.fmean((n - k) / n for k, n in firsts), 4)
        if firsts
        else None,
    }


def _position_bin(k: int, n: int) -> str:
    if k == 0:
        return "first step"
    if k == n - 1:
        return "last step"
    return "middle"


def _histogram(
    values: list[float], path: Path, title: str, *, xlabel: str, ylabel: str, color: str
) -> Path:
    """A histogram of values in [0, 1], ten bins."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3), dpi=110)
    ax.hist(values, bins=[i / 10 for i in range(11)], color=color, edgecolor="white")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_first_errors(relative: list[float], path: Path, title: str) -> Path:
    return _histogram(
        relative,
        path,
        title,
        xlabel="first error position (0 = first step, 1 = last step)",
        ylabel="solutions",
        color="#8172B2",
    )


def plot_pass_rates(pass_rates: list[float], path: Path, title: str) -> Path:
    return _histogram(
        pass_rates,
        path,
        title,
        xlabel="pass rate per problem",
        ylabel="problems",
        color="#4C72B0",
    )


def plot_steps(series: dict[str, list[int]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3), dpi=110)
    top = max((max(v) for v in series.values() if v), default=1)
    bins = range(1, min(top, 40) + 2)
    for name, values in series.items():
        ax.hist([min(v, 40) for v in values], bins=bins, alpha=0.6, label=name)
    ax.set_xlabel("steps per solution")
    ax.set_ylabel("solutions")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_swer(swers: list[float], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3), dpi=110)
    ax.hist(swers, bins=[i / 20 for i in range(21)], color="#C44E52", edgecolor="white")
    ax.set_xlabel("step-wise error rate per solution")
    ax.set_ylabel("solutions")
    ax.set_title(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_accuracy_gap(accuracy: dict[str, Any], path: Path) -> Path:
    """Grouped bars: informed (reference; reference + verdict) vs uninformed verdict
    accuracy per scope (all, bins, truth)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scopes = list(accuracy)
    xs = range(len(scopes))
    fig, ax = plt.subplots(figsize=(max(4, 1.5 * len(scopes)), 3), dpi=110)
    bars = (
        (-0.27, "informed", "informed (reference)", "#4C72B0"),
        (0.0, "informed_verdict", "informed (reference + verdict)", "#8EA9D8"),
        (0.27, "uninformed", "uninformed", "#DD8452"),
    )
    for offset, role, label, color in bars:
        values = [accuracy[s][role]["accuracy"] or 0 for s in scopes]
        ax.bar([x + offset for x in xs], values, width=0.27, label=label, color=color)
    ax.set_xticks(list(xs), [s.replace(":", "\n") for s in scopes], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("verdict accuracy")
    ax.set_title("Verifier: informed vs uninformed")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path

"""Measured quality figures for the card and stats.json, and their plots: shared by
every builder (trace configs, pass rates, SWER, first errors) and the build itself."""

from __future__ import annotations

import statistics
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from supdata.core.records import Trace
from supdata.core.runner import Figures, Plot


def trace_figures(traces: Iterable[Trace]) -> dict[str, Any]:
    """Outcome error rate, pass rates per problem, steps per solution, SWER if labelled.

    One pass over the traces (a stage on disk is read once), holding per trace only a
    few numbers in compact arrays, so the figures of a million rows stay small."""
    tally = _Tally()
    for t in traces:
        tally.add(t)
    return tally.figures()


class _Tally:
    """Running sums of ``trace_figures``: per problem right/judged counts, per trace its
    step count (and SWER, first-error position when labelled), per SWER target sums."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}  # problem id -> slot in right / judged
        self.right, self.judged = array("I"), array("I")
        self.steps, self.swers, self.relative = array("I"), array("d"), array("d")
        self.wrong_steps = self.judged_steps = 0
        self.first_at: Counter[int] = Counter()
        self.positions: Counter[str] = Counter()
        self.types: Counter[str] = Counter()
        # per target: rows, SWER sum, rows with a first error, first-step sum, tail sum
        self.by_target: dict[float, list[float]] = defaultdict(lambda: [0, 0.0, 0, 0.0, 0.0])

    def add(self, t: Trace) -> None:
        self.steps.append(len(t.steps))
        if t.correct is not None:
            slot = self.index.setdefault(t.problem_id, len(self.index))
            if slot == len(self.right):
                self.right.append(0)
                self.judged.append(0)
            self.judged[slot] += 1
            self.right[slot] += bool(t.correct)
        a = t.annotation
        if a is None:
            return
        if a.swer is not None:
            self.swers.append(a.swer)
            self.wrong_steps += sum(1 for x in a.labels if x is False)
            self.judged_steps += sum(1 for x in a.labels if x is not None)
        k, n = a.first_error_step, len(a.labels)
        if k >= 0:
            if a.error_types:
                self.types[a.error_types[k] or "unnamed"] += 1
            self.positions[_position_bin(k, n)] += 1
            self.first_at[k] += 1
            self.relative.append(k / max(n - 1, 1))
        target = t.sampling.get("target_swer")
        if target is not None and a.swer is not None:
            acc = self.by_target[float(target)]
            acc[0] += 1
            acc[1] += a.swer
            if k >= 0:
                acc[2] += 1
                acc[3] += k + 1
                acc[4] += (n - k) / n

    def figures(self) -> dict[str, Any]:
        if not self.steps:
            return {"solutions": 0, "_pass_rates": [], "_steps": [], "_swers": []}
        pass_rates = [r / j for r, j in zip(self.right, self.judged, strict=True)]
        n_judged = sum(self.judged)
        n_wrong = n_judged - sum(self.right)
        figures: dict[str, Any] = {
            "solutions": len(self.steps),
            "judged": n_judged,
            "outcome_error_rate": round(n_wrong / n_judged, 4) if n_judged else None,
            "problems": len(pass_rates),
            "mean_pass_rate": round(statistics.fmean(pass_rates), 4) if pass_rates else None,
            "problems_all_wrong": sum(1 for r in pass_rates if r == 0),
            "problems_all_right": sum(1 for r in pass_rates if r == 1),
            "steps_per_solution_mean": round(statistics.fmean(self.steps), 2),
            "steps_per_solution_median": statistics.median(self.steps),
        }
        if self.swers:
            figures["swer_per_solution_mean"] = round(statistics.fmean(self.swers), 4)
            figures["swer_overall"] = round(self.wrong_steps / self.judged_steps, 4)
        if self.first_at:
            figures["error_types"] = dict(self.types) or None
            figures["first_error_position"] = dict(self.positions)
            figures["first_error_step"] = {
                f"step {k + 1}": v for k, v in sorted(self.first_at.items())
            }
            figures["_first_error_relative"] = list(self.relative)
        if self.by_target:
            figures["swer_by_target"] = {
                f"{k:g}": _by_target(*v) for k, v in sorted(self.by_target.items())
            }
        figures["_pass_rates"] = pass_rates
        figures["_steps"] = list(self.steps)
        figures["_swers"] = list(self.swers)
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
        swers = measured.pop("_swers")
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


def _by_target(rows: int, swer_sum: float, firsts: int, step_sum: float, tail: float) -> dict:
    """Rows at one target SWER: their measured SWER (wrong / all steps) beside the first
    error: its step (1-based) and the share of steps from it on, which is what SWER
    would be if every step after the first error counted as wrong."""
    return {
        "rows": rows,
        "measured_mean": round(swer_sum / rows, 4),
        "first_error_step_mean": round(step_sum / firsts, 2) if firsts else None,
        "from_first_error_mean": round(tail / firsts, 4) if firsts else None,
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

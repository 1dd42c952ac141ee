"""Card figures of the stv configs, and the verifier asymmetry (informed vs uninformed
verdict accuracy) from the internal ``verdicts`` stage."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from supdata.core.runner import Figures, Plot
from supdata.ops.figures import plot_accuracy_gap
from supdata.ops.verdict import verdict_word


def accuracy_figures(verdicts: list[dict], bins: list[str]) -> dict[str, Any]:
    """Verdict accuracy of the informed verifier (shown the reference only; and shown it
    with the true verdict) and of the uninformed one on the same attempts, overall, per bin
    and per true verdict. ``gap`` (reference only - uninformed) is what seeing the
    reference is worth, the signal STV distills; ``gap_with_verdict`` mostly measures
    obedience to a stated verdict. A feedback without a verdict counts as a miss."""
    # one pass, counters only: an attempt's rows are consecutive (verdicts come attempt by
    # attempt), so a group counts an attempt when its id differs from the group's last
    groups: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    last: dict[tuple[str, str], str] = {}
    for r in verdicts:
        for scope in ("all", f"bin:{r['bin']}", f"truth:{'correct' if r['truth'] else 'wrong'}"):
            key, g = (scope, r["role"]), groups[(scope, r["role"])]
            g["n"] += 1
            g["parsed"] += r["verdict"] is not None
            g["correct"] += r["verdict"] is not None and r["verdict"] == r["truth"]
            if last.get(key) != r["attempt_id"]:
                g["attempts"] += 1
                last[key] = r["attempt_id"]

    def acc(g: Counter[str]) -> dict[str, Any]:
        n = g["n"]
        return {
            "n": n,
            "correct": g["correct"],
            "accuracy": round(g["correct"] / n, 4) if n else None,
            "parsed": g["parsed"],
            "attempts": g["attempts"],
        }

    scopes = ["all", *(f"bin:{b}" for b in bins), "truth:correct", "truth:wrong"]
    out = {}
    for scope in scopes:
        measured = {name: acc(groups[(scope, role)]) for name, role in _ACCURACY_ROLES}
        if not any(m["n"] for m in measured.values()):
            continue
        student = measured["uninformed"]
        out[scope] = {
            **measured,
            "gap": _gap(measured["informed"], student),
            "gap_with_verdict": _gap(measured["informed_verdict"], student),
        }
    return out


_ACCURACY_ROLES = (
    ("informed", "informed"),  # reference only: the headline
    ("informed_verdict", "informed_verdict"),  # reference and the true verdict
    ("uninformed", "student"),
)


def _gap(teacher: dict[str, Any], student: dict[str, Any]) -> float | None:
    if not (teacher["n"] and student["n"]):
        return None
    return round(teacher["accuracy"] - student["accuracy"], 4)


def config_figures(config: str, rows: list[dict]) -> dict[str, Any]:
    """Per-config counts for the card: rows per bin, and truth/verdict mixes."""
    figures: dict[str, Any] = {
        "rows": len(rows),
        "bins": dict(sorted(Counter(r["bin"] for r in rows).items())),
    }
    if config == "distill":
        figures["attempts"] = len({r["attempt_id"] for r in rows})
        figures["verdicts"] = dict(Counter(verdict_word(r["verdict"]) for r in rows))
    elif config == "verifier_rl":
        figures["truth"] = dict(Counter(verdict_word(r["truth"]) for r in rows))
    elif config == "vil":
        figures["attempts_correct"] = sum(1 for r in rows if r["attempt_correct"])
        figures["feedback_sources"] = dict(Counter(r["feedback_source"] for r in rows))
        figures["feedback_right"] = sum(
            1 for r in rows if r["feedback_verdict"] == r["attempt_correct"]
        )
    return figures


def stv_figures(config: str, rows: list[dict], ctx: Any) -> Figures:
    return Figures(measured=config_figures(config, rows))


def verifier_figures(params: Any):
    """STV: informed vs uninformed verdict accuracy into stats.json, and its plot."""

    def figures(config: str, verdicts: list[dict], ctx: Any) -> Figures:
        accuracy = accuracy_figures(verdicts, list(params.bins))
        return Figures(
            stats={
                "verifier_setup": {
                    "samples_per_attempt": params.samples_per_attempt,
                    "informed_verdict": params.informed_verdict,
                },
                "verifier_accuracy": accuracy,
            },
            plots=[
                Plot(
                    "plots/verifier_accuracy.png",
                    "Verdict accuracy, informed vs uninformed",
                    lambda path: plot_accuracy_gap(accuracy, path),
                )
            ],
        )

    return figures

"""Perturbed solutions from the references: rule-based errors, labels by construction."""

from __future__ import annotations

from supdata.builders.config import PerturbBuilder
from supdata.perturb import LEAKY_WORDS, CannotPerturb, perturb
from supdata.records import StepAnnotation, Trace
from supdata.stats import StageStats


def perturbed_traces(
    references: list[Trace], params: PerturbBuilder, stats: StageStats
) -> list[Trace]:
    out = []
    combos = [(p, t) for p in params.positions for t in params.types]
    for r_index, ref in enumerate(references):
        if ref.status != "correct":
            stats.drop("reference not verified correct", ref.id)
            continue
        if LEAKY_WORDS.search(ref.text):
            stats.drop("reference has an error-announcing word", ref.id)
            continue
        for g_index, target in enumerate(params.swer_grid):
            stats.n_in += 1
            position, error_type = combos[(r_index + g_index) % len(combos)]
            seed = params.seed * 1_000_003 + r_index * 101 + g_index
            try:
                p = perturb(
                    ref.steps,
                    error_type=error_type,
                    target_swer=target,
                    position=position,
                    carry=params.carry,
                    seed=seed,
                )
            except CannotPerturb as exc:
                stats.drop(f"{error_type}: {exc}", ref.id)
                continue
            stats.tally(f"type:{error_type}")
            stats.tally(f"swer target:{target:g}")
            out.append(
                Trace(
                    id=f"{ref.problem_id}/perturbed-swer{round(target * 100):03d}",
                    problem_id=ref.problem_id,
                    text="".join(p.steps),
                    steps=p.steps,
                    origin="perturbed",
                    sampling={
                        "rule": error_type,
                        "position": position,
                        "carry": params.carry,
                        "target_swer": target,
                    },
                    seed=seed,
                    parent_id=ref.id,
                    annotation=StepAnnotation(p.labels, "construction", p.error_types),
                )
            )
    stats.n_out = len(out)
    return out

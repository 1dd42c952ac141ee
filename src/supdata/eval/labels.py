"""Label-source evaluation on ProcessBench-format data: how good are a source's labels?

Each item's solution is labelled by the source(s) as any builder's trace would be; the
first error a label set decides is scored with ProcessBench's metric (error acc on
erroneous items, correct acc on correct items, F1), and its step labels are compared
with the human ones (first-error agreement, Cohen's kappa). Rollout sources need the
reference answer, which ProcessBench does not ship: ``references`` files (GSM8K, MATH,
...) give it, matched by problem text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from supdata.core.records import Problem, Trace
from supdata.core.stats import StageStats
from supdata.engines import Engine
from supdata.eval.critic import DataError, SplitScore, load_items, split_name
from supdata.ops.labels import LabelSet, RolloutCost, agreement, run_sources
from supdata.sources.match import question_key
from supdata.sources.normalize import given_trace
from supdata.verify import VerifyConfig


def label_pairs(
    path: str | Path,
    references: dict[str, Problem] | None,
    *,
    limit: int | None = None,
    sample: int | None = None,
    seed: int = 0,
) -> list[tuple[Problem, Trace]]:
    """Each item as (problem with its reference, the given solution with human labels).
    With ``references``, an item whose problem has none is an error naming it. The
    solution's status is left unset (ProcessBench's ``final_answer_correct`` is not
    given to the source): a source judges the final answer itself, as in a build."""
    split = split_name(path)
    pairs = []
    for row in load_items(path, limit, sample=sample, seed=seed):
        pid = str(row["id"])
        trace = given_trace(
            pid, row["steps"], row["label"], split,
            generator=row.get("generator"),
        )  # fmt: skip
        ref = None if references is None else references.get(question_key(row["problem"]))
        if references is not None and ref is None:
            raise DataError(
                f"{path}: item {pid}: its problem is in none of the reference files "
                "(matched by text); give the file its problems come from"
            )
        problem = Problem(
            id=pid,
            question=row["problem"],
            reference_solution=ref.reference_solution if ref else "",
            reference_answer=ref.reference_answer if ref else None,
            source=split,
        )
        pairs.append((problem, trace))
    return pairs


def score(split: str, pairs: list[tuple[Problem, Trace]], sets: list[LabelSet]) -> SplitScore:
    result = SplitScore(split)
    for (_, trace), labels in zip(pairs, sets, strict=True):
        predicted = labels.first_error
        if predicted is None:
            result.reject("undecided")
        result.add(trace.annotation.first_error_step, predicted)
    return result


def evaluate_labels(
    engines: dict[str, Engine],
    paths: list[str | Path],
    sources: list,
    *,
    references: dict[str, Problem] | None,
    verify: VerifyConfig,
    limit: int | None = None,
    sample: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Scores per source and split, agreement with the human labels, engine cost, and
    every item's labels."""
    splits = [(split_name(p), label_pairs(p, references, limit=limit, sample=sample, seed=seed))
              for p in paths]  # fmt: skip
    names = [name for name, _ in splits]
    if len(set(names)) < len(names):
        raise DataError(f"two files give the same split name: {names}")
    report: dict[str, Any] = {"sources": {}, "items": []}
    for split, pairs in splits:
        stats = StageStats(f"labels {split}")
        costs: dict[str, RolloutCost] = {}
        sets = run_sources(pairs, sources, engines, verify, stats, costs=costs)
        human = [t.annotation.labels for _, t in pairs]
        for name, labelled in sets.items():
            entry = report["sources"].setdefault(name, {"splits": [], "cost": {}})
            figures = score(split, pairs, labelled).to_dict()
            figures["agreement_with_human"] = agreement([s.labels for s in labelled], human)
            entry["splits"].append(figures)
            if name in costs:
                c = costs[name]
                entry["cost"][split] = {
                    **c.__dict__,
                    "rollouts_per_solution": round(c.rollouts / len(pairs), 2) if pairs else None,
                }
        report.setdefault("counts", {})[split] = dict(stats.counts)
        for i, (_, trace) in enumerate(pairs):
            report["items"].append(
                {
                    "split": split,
                    "id": trace.problem_id,
                    "human_first_error": trace.annotation.first_error_step,
                    "labels": {name: labelled[i].to_row() for name, labelled in sets.items()},
                }
            )
    for entry in report["sources"].values():
        f1s = [s["f1"] for s in entry["splits"] if s["f1"] is not None]
        entry["average_f1"] = round(sum(f1s) / len(f1s), 4) if f1s else None
    return report

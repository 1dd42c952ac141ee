"""Process-reward formats of the field: Math-Shepherd's ``ки`` tags and PRM800K ratings.

Both take a trace row's step labels: its ``annotation`` (default) or one of its
``label_sets`` by name (``label_set``). Steps after the first unlabelled one are cut
with their labels (as for TRL stepwise), so every kept step has a label.
"""

from __future__ import annotations

from typing import Any

from supdata.export.common import Context, Skip

Row = dict[str, Any]
TAG = "ки"  # Math-Shepherd's step tag (Cyrillic), replaced by +/- in its ``label`` column


def trace_labels(row: Row, ctx: Context) -> tuple[list[str], list[Any]]:
    """The trace's steps (stripped) and labels up to the first unlabelled step; with
    ``soft`` (stepwise only) the label set's Monte-Carlo values instead of hard labels."""
    name, soft = ctx.options.get("label_set"), ctx.options.get("soft")
    if name:
        sets = {s["name"]: s for s in row.get("label_sets") or []}
        if name not in sets:
            raise Skip(f"no label set {name!r}")
        labels = sets[name]["soft"] if soft else sets[name]["labels"]
        if labels is None:
            raise Skip(f"label set {name!r} has no soft labels")
    elif soft:
        raise Skip("soft labels need label_set (the annotation holds hard labels only)")
    else:
        labels = (row.get("annotation") or {}).get("labels")
    return judged_prefix(row["steps"], labels)


def judged_prefix(steps: list[str], labels: list | None) -> tuple[list[str], list]:
    """The steps (stripped) and labels before the first unjudged (None) step, e.g. the
    steps after ProcessBench's first error; rows with nothing judged are skipped."""
    if not labels:
        raise Skip("no step labels")
    if len(labels) != len(steps):
        raise Skip("labels do not align with steps")
    kept = next((i for i, x in enumerate(labels) if x is None), len(labels))
    if kept == 0:
        raise Skip("first step not judged")
    return [s.strip() for s in steps[:kept]], list(labels[:kept])


def shepherd_from_trace(row: Row, ctx: Context) -> Row:
    """Math-Shepherd: ``input`` = question, then "Step k: ..." steps each tagged ``ки``;
    ``label`` = the same text with ``+`` (right) or ``-`` (wrong) for each tag.

    >>> from supdata.export.common import Context
    >>> row = {"id": "p1/s0", "problem_id": "p1", "steps": ["2+3=5\\n", "5*2=11"],
    ...        "annotation": {"labels": [True, False]}}
    >>> ctx = Context(problems={"p1": {"question": "(2+3)*2?"}})
    >>> out = shepherd_from_trace(row, ctx)
    >>> print(out["input"])
    (2+3)*2? Step 1: 2+3=5 ки
    Step 2: 5*2=11 ки
    >>> print(out["label"])
    (2+3)*2? Step 1: 2+3=5 +
    Step 2: 5*2=11 -
    """
    steps, labels = trace_labels(row, ctx)
    question = ctx.problem(row["problem_id"])["question"].strip()
    body = [f"Step {i}: {' '.join(s.split())}" for i, s in enumerate(steps, 1)]
    tagged = "\n".join(f"{s} {TAG}" for s in body)
    marked = "\n".join(
        f"{s} {'+' if label else '-'}" for s, label in zip(body, labels, strict=True)
    )
    return {"id": row["id"], "input": f"{question} {tagged}", "label": f"{question} {marked}"}


def prm800k_from_trace(row: Row, ctx: Context) -> Row:
    """PRM800K's record layout: ``question`` {problem, ground_truth_answer} and ``label``
    {steps: one completion each, rated 1 (right) or -1 (wrong), finish_reason}; as in
    PRM800K phase 2 the steps stop at the first wrong one (``found_error``), else the
    solution is rated through (``solution``). Neutral (0) is never written: supdata's
    labels are right or wrong.

    >>> from supdata.export.common import Context
    >>> row = {"id": "p1/s0", "problem_id": "p1", "annotation": {"labels": [True, False, False]},
    ...        "steps": ["2+3=5\\n", "5*2=11\\n", "#### 11"]}
    >>> ctx = Context(problems={"p1": {"question": "(2+3)*2?", "reference_answer": "10"}})
    >>> out = prm800k_from_trace(row, ctx)
    >>> [(s["completions"][0]["text"], s["completions"][0]["rating"])
    ...  for s in out["label"]["steps"]]
    [('2+3=5', 1), ('5*2=11', -1)]
    >>> out["label"]["finish_reason"], out["question"]
    ('found_error', {'problem': '(2+3)*2?', 'ground_truth_answer': '10'})
    """
    steps, labels = trace_labels(row, ctx)
    problem = ctx.problem(row["problem_id"])
    first = next((i for i, x in enumerate(labels) if x is False), None)
    kept = len(steps) if first is None else first + 1
    rated = [
        {
            "completions": [{"text": s, "rating": 1 if label else -1, "flagged": None}],
            "human_completion": None,
            "chosen_completion": 0 if label else None,
        }
        for s, label in zip(steps[:kept], labels[:kept], strict=True)
    ]
    complete = first is None and kept == len(row["steps"])
    finish = "found_error" if first is not None else ("solution" if complete else "give_up")
    return {
        "id": row["id"],
        "question": {
            "problem": problem["question"],
            "ground_truth_answer": problem.get("reference_answer"),
        },
        "label": {
            "steps": rated,
            "finish_reason": finish,
        },
    }

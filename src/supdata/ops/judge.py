"""An optional LLM judge beside math-verify (the weak-to-strong paper judged answers with
a model): one constrained word per solution, and how often it agrees with math-verify.

The judge labels nothing in the dataset: math-verify stays the verdict every config uses.
The judge's figures tell a user whether a model judge would have built the same pairs.
Deliberate deviation: the paper's judge writes a rationale first; here it answers one
word (choice-constrained where the engine supports it), so a judgement costs a few tokens.
"""

from __future__ import annotations

from typing import Any

from supdata.core.records import Problem, Trace
from supdata.core.stats import StageStats
from supdata.engines import Engine, Request, SamplingParams, StructuredOutput
from supdata.prompts import load_prompt

JUDGEMENTS = ("Correct", "Wrong", "N/A")


def parse_judgement(text: str) -> str | None:
    """The first word of the reply as one of JUDGEMENTS, else None."""
    head = text.strip().strip("*:. ").lower()
    for word in JUDGEMENTS:
        if head.startswith(word.lower()):
            return word
    return None


def judge_traces(
    traces: list[Trace],
    problems: dict[str, Problem],
    engine: Engine,
    prompt_ref: str,
    stats: StageStats,
) -> dict[str, Any]:
    """Judge every trace math-verify judged; tally the judgements and return the card
    facts: agreement with math-verify over the traces the judge did not call N/A."""
    prompt = load_prompt(prompt_ref)
    judged = [t for t in traces if t.correct is not None]
    structured = StructuredOutput(choice=JUDGEMENTS) if engine.supports_structured else None
    requests = [
        Request(
            prompt.render(
                question=problems[t.problem_id].question,
                reference_answer=problems[t.problem_id].reference_answer or "",
                solution=t.text,
            ),
            SamplingParams(temperature=0.0, max_tokens=8, seed=0, structured=structured),
            id=f"{t.id}/judge",
        )
        for t in judged
    ]
    completions = engine.generate(requests, desc=f"judge ({engine.name})") if requests else []
    table = {"both correct": 0, "both wrong": 0, "judge correct only": 0, "math-verify only": 0}
    na = unreadable = 0
    for t, c in zip(judged, completions, strict=True):
        verdict = parse_judgement(c.texts[0])
        if verdict is None:
            unreadable += 1
            stats.tally("judge: unreadable reply")
            continue
        stats.tally(f"judge: {verdict}")
        if verdict == "N/A":
            na += 1
            continue
        says, truth = verdict == "Correct", bool(t.correct)
        key = (
            ("both correct" if truth else "judge correct only")
            if says
            else ("math-verify only" if truth else "both wrong")
        )
        table[key] += 1
    compared = sum(table.values())
    agree = table["both correct"] + table["both wrong"]
    stats.tally("judge: agrees with math-verify", agree)
    stats.tally("judge: disagrees with math-verify", compared - agree)
    return {
        "engine": engine.name,
        "prompt": prompt.ref,
        "judged": len(judged),
        "compared": compared,
        "na": na,
        "unreadable": unreadable,
        "agreement": round(agree / compared, 4) if compared else None,
        "table": table,
    }


def add_judged(total: dict[str, Any] | None, part: dict[str, Any]) -> dict[str, Any]:
    """The judge facts of a stage judged window by window: counts added, agreement
    recomputed over everything compared so far."""
    if total is None:
        return part
    table = {k: total["table"][k] + part["table"][k] for k in total["table"]}
    merged = {**total, "table": table}
    for key in ("judged", "compared", "na", "unreadable"):
        merged[key] = total[key] + part[key]
    agree = table["both correct"] + table["both wrong"]
    merged["agreement"] = round(agree / merged["compared"], 4) if merged["compared"] else None
    return merged

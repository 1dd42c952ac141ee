"""The critique format: per step Correct/Wrong with an explanation, then the final
answer's verdict with an explanation.

Two spellings: JSON (through structured output, where the schema fixes one entry per
step) and the text format MathCritique-76k published::

    Step sentence: ...
    Correctness of the step: Correct|Wrong
    Explanation: ...
    ...
    Correctness of the final answer: Correct|Wrong
    Explanation: ...

The parser returns labels aligned one-to-one with the steps, or rejects the critique
with a reason. It never guesses a label.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any

from supdata.ops.verdict import VERDICT_WORDS

VERDICTS = VERDICT_WORDS
_STEP = re.compile(
    r"Step sentence:\s*(?P<sentence>.*?)\s*"
    r"Correctness of the step:[ \t]*\[?(?P<verdict>[^\]\n]*)\]?\s*"
    r"Explanation:\s*(?P<explanation>.*?)\s*(?=Step sentence:|Correctness of the final answer:|\Z)",
    re.DOTALL,
)
_FINAL = re.compile(
    r"Correctness of the final answer:[ \t]*\[?(?P<verdict>[^\]\n]*)\]?\s*"
    r"(?:Explanation:\s*(?P<explanation>.*))?\Z",
    re.DOTALL,
)


class CritiqueRejected(ValueError):
    """A critique that cannot be aligned with the steps; the message is the counted reason."""


@dataclass(frozen=True)
class Critique:
    labels: list[bool]  # True = the step is correct
    explanations: list[str]
    final_correct: bool
    final_explanation: str
    format: str  # json | text

    @property
    def first_error_step(self) -> int:
        return next((i for i, ok in enumerate(self.labels) if not ok), -1)


def critique_schema(n: int) -> dict[str, Any]:
    judged = {
        "type": "object",
        "properties": {  # the explanation first: the verdict follows the reasoning
            "explanation": {"type": "string"},
            "correctness": {"enum": list(VERDICTS)},
        },
        "required": ["explanation", "correctness"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "steps": {"type": "array", "items": judged, "minItems": n, "maxItems": n},
            "final_answer": judged,
        },
        "required": ["steps", "final_answer"],
        "additionalProperties": False,
    }


_WORDS = {"correct": True, "wrong": False, "incorrect": False}  # "Incorrect" occurs in the wild


def _verdict(value: Any, where: str) -> bool:
    if not isinstance(value, str) or value.strip().lower() not in _WORDS:
        raise CritiqueRejected(f"{where}: verdict {value!r} is not Correct or Wrong")
    return _WORDS[value.strip().lower()]


def parse_critique(
    text: str, n: int, steps: list[str] | None = None, *, answer_step: bool = False
) -> Critique:
    """Exactly n step verdicts plus the final verdict, from JSON or the text format.

    Given the ``steps``, every text block's "Step sentence" must be its own step (so a
    critique that skips, repeats or reorders steps is rejected, not shifted).

    ``answer_step`` (the mathcritique preset): the published critics often leave the
    answer-phrase line ("The answer is ...") without a block and judge it in the final
    verdict; when only that last step lacks a block, it takes the final verdict."""
    stripped = text.strip()
    if stripped.startswith("{") or stripped.startswith("```"):
        body = stripped.removeprefix("```json").removeprefix("```").removesuffix("```")
        try:
            data = json.loads(body)
        except json.JSONDecodeError:
            raise CritiqueRejected("invalid or truncated JSON") from None
        return _from_json(data, n)
    if answer_step and steps and n > 1 and _ANSWER_LINE.match(steps[-1]):
        try:
            return _from_text(stripped, n, steps)
        except CritiqueRejected as exc:
            if not str(exc).startswith(f"{n - 1} step verdicts"):
                raise
        c = _from_text(stripped, n - 1, steps[:-1])
        return Critique(
            [*c.labels, c.final_correct],
            [*c.explanations, c.final_explanation],
            c.final_correct,
            c.final_explanation,
            c.format,
        )
    return _from_text(stripped, n, steps)


_ANSWER_LINE = re.compile(r"^\s*the answer is\b", re.IGNORECASE)


def _from_json(data: Any, n: int) -> Critique:
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        raise CritiqueRejected("JSON without a steps list")
    steps = data["steps"]
    if len(steps) != n:
        raise CritiqueRejected(f"{len(steps)} step verdicts for {n} steps")
    final = data.get("final_answer")
    if not isinstance(final, dict):
        raise CritiqueRejected("no final answer verdict")
    labels, explanations = [], []
    for i, step in enumerate(steps):
        if not isinstance(step, dict):
            raise CritiqueRejected(f"step {i + 1}: not an object")
        labels.append(_verdict(step.get("correctness"), f"step {i + 1}"))
        explanations.append(str(step.get("explanation", "")).strip())
    return Critique(
        labels,
        explanations,
        _verdict(final.get("correctness"), "final answer"),
        str(final.get("explanation", "")).strip(),
        "json",
    )


def _same(sentence: str, step: str) -> bool:
    a, b = _norm(sentence), _norm(step)
    if not a or not b:
        return False
    return a in b or b in a or difflib.SequenceMatcher(None, a, b).ratio() >= _SAME


_SAME = 0.6


def _norm(text: str) -> str:
    text = re.sub(r"^\s*(step\s*\d+\s*[:.)]\s*)", "", text, flags=re.IGNORECASE)
    return " ".join(text.lower().split())


def _check_sentences(blocks: list[re.Match], steps: list[str]) -> None:
    for i, (block, step) in enumerate(zip(blocks, steps, strict=True)):
        if _same(block["sentence"], step):
            continue
        elsewhere = [
            j for j, other in enumerate(steps) if j != i and _same(block["sentence"], other)
        ]
        if elsewhere:
            raise CritiqueRejected(
                f"step {i + 1}: the critique quotes step {elsewhere[0] + 1} here (out of order)"
            )
        raise CritiqueRejected(f"step {i + 1}: the step sentence is not this step")


def _from_text(text: str, n: int, steps: list[str] | None = None) -> Critique:
    head, sep, tail = text.rpartition("Correctness of the final answer:")
    if not sep:
        raise CritiqueRejected("no final answer verdict")
    blocks = list(_STEP.finditer(head + "Correctness of the final answer:"))
    if not blocks:
        raise CritiqueRejected("no 'Step sentence / Correctness of the step' blocks")
    if len(blocks) != n:
        raise CritiqueRejected(f"{len(blocks)} step verdicts for {n} steps")
    if steps is not None:
        _check_sentences(blocks, steps)
    final = _FINAL.search(sep + tail)
    if final is None:
        raise CritiqueRejected("final answer verdict unreadable")
    return Critique(
        [_verdict(b["verdict"], f"step {i + 1}") for i, b in enumerate(blocks)],
        [b["explanation"].strip() for b in blocks],
        _verdict(final["verdict"], "final answer"),
        (final["explanation"] or "").strip(),
        "text",
    )


def render_critique(critique: Critique, steps: list[str]) -> str:
    """The published text format (what a critic is trained to write)."""
    if len(steps) != len(critique.labels):
        raise ValueError(f"{len(critique.labels)} verdicts for {len(steps)} steps")
    blocks = [
        f"Step sentence: {step.strip()}\n"
        f"Correctness of the step: {VERDICTS[0] if ok else VERDICTS[1]}\n"
        f"Explanation: {why}"
        for step, ok, why in zip(steps, critique.labels, critique.explanations, strict=True)
    ]
    final = VERDICTS[0] if critique.final_correct else VERDICTS[1]
    blocks.append(
        f"Correctness of the final answer: {final}\nExplanation: {critique.final_explanation}"
    )
    return "\n\n".join(blocks) + "\n"

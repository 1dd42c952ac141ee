"""What every adapter shares: the error types, the per-export context, message helpers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_PROMPT = "solve@1"  # the prompt the builders sample solutions with


class ExportError(ValueError):
    """A config that cannot feed a format, or rows that cannot be converted."""


class Skip(Exception):  # a signal, not an error: the row is counted, not written
    """Raised by a row adapter for a row it leaves out; ``reason`` is counted."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


Messages = list[dict[str, str]]


def assistant(content: str) -> Messages:
    return [{"role": "assistant", "content": content}]


@dataclass
class Context:
    """What an adapter may need besides the row.

    config: the source config's name (for messages and verl's ``data_source``).
    problems: problem id -> {"question", "reference_answer"}; trace rows (samples,
        perturbed, ...) carry only ``problem_id``, their question lives in this table.
    prompt: prompt id@version that turns a bare question into chat messages; None: the
        prompt a sampled row records in its ``sampling``, else ``solve@1``.
    options: format options (``style`` for llamafactory, ``data_source`` for verl, ...).
    """

    config: str | None = None
    problems: dict[str, dict[str, Any]] | None = None
    prompt: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def problem(self, problem_id: str) -> dict[str, Any]:
        if self.problems is None:
            raise ExportError(
                f"{self.config or 'these'} rows carry problem_id but no question: pass "
                "problems= (the folder's `problems` config, `subtasks` for sub_samples), or "
                "export from the built folder (`supdata export DIR ...`), which joins it"
            )
        try:
            return self.problems[problem_id]
        except KeyError:
            some = ", ".join(sorted(self.problems)[:3])
            raise ExportError(
                f"{self.config or 'row'}: problem_id {problem_id!r} is not in the problems "
                f"table ({len(self.problems)} problems, e.g. {some}): wrong problems config?"
            ) from None

    def question_messages(self, question: str, row: Mapping[str, Any] | None = None) -> Messages:
        """The chat prompt for a bare question: the sampling prompt, so that a trainer
        sees the same messages the builder sampled with."""
        from supdata.prompts import load_prompt

        ref = self.prompt or _sampled_with(row) or DEFAULT_PROMPT
        return [dict(m) for m in load_prompt(ref).render(question=question)]


def _sampled_with(row: Mapping[str, Any] | None) -> str | None:
    raw = (row or {}).get("sampling")
    if not raw:
        return None
    try:
        sampling = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        return None
    prompt = sampling.get("prompt") if isinstance(sampling, dict) else None
    return prompt if isinstance(prompt, str) else None


def problem_table(problems: Any) -> dict[str, dict[str, Any]] | None:
    """Normalize a ``problems`` argument: a Dataset or iterable of problem rows (id,
    question, reference_answer), or a mapping problem id -> such a row."""
    if problems is None:
        return None
    if isinstance(problems, Mapping):
        items: Iterable[tuple[str, Any]] = problems.items()
    else:
        items = ((r["id"], r) for r in problems)
    table = {}
    for pid, row in items:
        if "question" not in row:
            raise ExportError(f"problems: row {pid!r} has no 'question' (has: {sorted(row)})")
        table[str(pid)] = {
            "question": row["question"],
            "reference_answer": row.get("reference_answer"),
        }
    return table

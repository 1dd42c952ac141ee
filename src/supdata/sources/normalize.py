"""Normalizers: turn one raw source row into a Problem, whatever the dataset's shape.

Each normalizer reads the columns it knows; a recipe's ``fields:`` mapping renames
columns first, so a dataset with other column names still fits a known shape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from supdata.core.records import Problem, StepAnnotation, Trace


class SkipRow(Exception):
    """A row that cannot become a Problem; the message is the counted drop reason."""


_CALC = re.compile(r"<<[^<>]*>>")
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_BRACE_TOKENS = re.compile(r"\\.|[{}]", re.DOTALL)


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` with balanced braces, None if there is none.

    The same answer as ``supdata.verify.extract.last_boxed``, in one pass: that one
    rescans the rest of the text from every opening, which is quadratic in a row of
    unclosed ``\\boxed{`` (a 56 kB one took over a minute). Here one scan pairs every
    brace (a backslash escapes the next character), and the last opening that closes
    wins.
    """
    openings = {m.end() - 1 for m in _BOXED.finditer(text)}
    if not openings:
        return None
    stack: list[int] = []
    best: tuple[int, int] | None = None  # (opening, closing) of the last closed box
    for token in _BRACE_TOKENS.finditer(text):
        char = token.group()
        if char == "{":
            stack.append(token.start())
        elif char == "}" and stack:
            start = stack.pop()
            if start in openings and (best is None or start > best[0]):
                best = (start, token.start())
    return None if best is None else text[best[0] + 1 : best[1]].strip()


_LEVEL = re.compile(r"(\d+)")


def _first(row: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        value = row.get(name)
        if value is not None and value != "":
            return value
    return None


def _text(row: Mapping[str, Any], *names: str, what: str) -> str:
    value = _first(row, *names)
    if value is None:
        raise SkipRow(f"no {what} (looked for {', '.join(names)})")
    if not isinstance(value, str):
        raise SkipRow(f"{what} is {type(value).__name__}, not text")
    return value


def _answer(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _level(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    m = _LEVEL.search(str(value))
    return int(m.group(1)) if m else None  # "Level ?" in MATH train means unknown


def _meta(row: Mapping[str, Any], used: set[str]) -> dict[str, Any]:
    """Columns no field took, kept so nothing from the source is lost."""
    return {k: _jsonable(v) for k, v in row.items() if k not in used}


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return str(value)


def generic(row: Mapping[str, Any], index: int, source: str) -> Problem:
    question = _text(row, "question", "problem", "prompt", what="question")
    solution = _first(row, "reference_solution", "solution", "answer_cot") or ""
    answer = _answer(_first(row, "reference_answer", "final_answer", "answer"))
    if answer is None and solution:
        answer = last_boxed(solution)
    used = {
        "question",
        "problem",
        "prompt",
        "reference_solution",
        "solution",
        "answer_cot",
        "reference_answer",
        "final_answer",
        "answer",
        "id",
        "unique_id",
        "idx",
        "level",
        "subject",
        "type",
    }
    return Problem(
        id=str(_first(row, "id", "unique_id", "idx") or f"{source}-{index}"),
        question=question,
        reference_solution=solution,
        reference_answer=answer,
        source=source,
        level=_level(row.get("level")),
        subject=_first(row, "subject", "type"),
        meta=_meta(row, used),
    )


def gsm8k(row: Mapping[str, Any], index: int, source: str) -> Problem:
    """GSM8K: drop ``<<calc>>`` marks; the answer follows ``####``."""
    question = _text(row, "question", what="question")
    raw = _text(row, "answer", what="answer")
    if "####" not in raw:
        raise SkipRow("answer has no '####' final answer")
    answer = raw.rsplit("####", 1)[1].strip().replace(",", "")
    return Problem(
        id=str(_first(row, "id") or f"{source}-{index}"),
        question=question,
        reference_solution=_CALC.sub("", raw),
        reference_answer=answer or None,
        source=source,
        meta=_meta(row, {"question", "answer", "id"}),
    )


def math(row: Mapping[str, Any], index: int, source: str) -> Problem:
    """MATH / MATH-500: the answer is the ``answer`` column, else the last ``\\boxed{}``."""
    question = _text(row, "problem", "question", what="problem")
    solution = _text(row, "solution", what="solution")
    answer = _answer(row.get("answer")) or last_boxed(solution)
    return Problem(
        id=str(_first(row, "unique_id", "id", "idx") or f"{source}-{index}"),
        question=question,
        reference_solution=solution,
        reference_answer=answer,
        source=source,
        level=_level(row.get("level")),
        subject=_first(row, "subject", "type"),
        meta=_meta(
            row,
            {
                "problem",
                "question",
                "solution",
                "answer",
                "unique_id",
                "id",
                "idx",
                "level",
                "subject",
                "type",
            },
        ),
    )


def numina(row: Mapping[str, Any], index: int, source: str) -> Problem:
    """NuminaMath-style (problem, solution): the answer is the solution's last ``\\boxed{}``."""
    question = _text(row, "problem", what="problem")
    solution = _text(row, "solution", what="solution")
    return Problem(
        id=str(_first(row, "id", "uuid") or f"{source}-{index}"),
        question=question,
        reference_solution=solution,
        reference_answer=_answer(row.get("answer")) or last_boxed(solution),
        source=source,
        subject=row.get("source") if isinstance(row.get("source"), str) else None,
        meta=_meta(row, {"problem", "solution", "answer", "id", "uuid"}),
    )


def given_trace(
    pid: str,
    steps: list[str],
    label: int,
    source: str,
    *,
    final_answer_correct: bool | None = None,
    generator: str | None = None,
) -> Trace:
    """A ProcessBench-style solution as a trace: steps joined by blank lines (kept on the
    step they follow), the human earliest-error label as its annotation."""
    correct = final_answer_correct
    return _given(
        pid,
        steps,
        StepAnnotation.from_first_error(len(steps), label, f"human:{source}"),
        separator="\n\n",
        status=None if correct is None else ("correct" if correct else "incorrect"),
        model=generator,
    )


def _given(
    pid: str,
    steps: list[str],
    annotation: StepAnnotation,
    *,
    separator: str,
    status: str | None = None,
    model: str | None = None,
) -> Trace:
    """A solution that came with the source: its steps joined by ``separator`` (kept on
    the step it follows), labelled by the source."""
    joined = [s + separator for s in steps[:-1]] + [steps[-1]]
    return Trace(
        id=f"{pid}/given",
        problem_id=pid,
        text="".join(joined),
        steps=joined,
        origin="given",
        status=status,
        model=model,
        annotation=annotation,
    )


def processbench(row: Mapping[str, Any], index: int, source: str) -> Problem:
    """ProcessBench: a model's given steps with the human label of the earliest error."""
    question = _text(row, "problem", what="problem")
    steps = row.get("steps")
    if not isinstance(steps, list) or not steps or not all(isinstance(s, str) for s in steps):
        raise SkipRow("steps is not a non-empty list of strings")
    label = row.get("label")
    if not isinstance(label, int) or isinstance(label, bool) or not -1 <= label < len(steps):
        raise SkipRow(f"label {label!r} is not -1 or a step index")
    pid = str(_first(row, "id") or f"{source}-{index}")
    trace = given_trace(
        pid,
        steps,
        label,
        source,
        final_answer_correct=row.get("final_answer_correct"),
        generator=row.get("generator"),
    )
    return Problem(
        id=pid,
        question=question,
        source=source,
        meta=_meta(row, {"problem", "steps", "label", "id", "generator", "final_answer_correct"}),
        solutions=[trace],
    )


_SHEPHERD_STEP = re.compile(r"^Step \d+:\s*")


def math_shepherd(row: Mapping[str, Any], index: int, source: str) -> Problem:
    """Math-Shepherd: ``input`` is the question then "Step k: ... ки" steps, ``label`` the
    same text with ``+`` / ``-`` for each tag (its Monte-Carlo hard labels). The solution
    becomes a given trace labelled by ``math-shepherd``; the problem has no reference
    answer (match one in with the label builder's ``references``)."""
    text = _text(row, "input", what="input")
    marked = _text(row, "label", what="label")
    if " Step 1:" not in text:
        raise SkipRow("input has no 'Step 1:'")
    question, body = text.split(" Step 1:", 1)
    chunks = [c.strip() for c in ("Step 1:" + body).split(" ки")]
    steps = [_SHEPHERD_STEP.sub("", c) for c in chunks if c]
    signs = re.findall(r" ([+-])(?=\nStep \d+:|\s*$)", marked)
    if not steps or len(signs) != len(steps):
        raise SkipRow(f"{len(steps)} tagged steps but {len(signs)} +/- labels")
    pid = str(_first(row, "id") or f"{source}-{index}")
    labels = StepAnnotation([s == "+" for s in signs], "math-shepherd")
    trace = _given(pid, steps, labels, separator="\n")
    return Problem(
        id=pid,
        question=question.strip(),
        source=source,
        subject=row.get("task") if isinstance(row.get("task"), str) else None,
        meta=_meta(row, {"input", "label", "id", "task"}),
        solutions=[trace],
    )


def _prm800k_path(steps: Any) -> tuple[list[str], list[bool], list[int | None]]:
    """The labelled trajectory of a PRM800K record: at each step the chosen completion,
    else the labeller's own (human) completion, else the first completion rated -1 (where
    the labeller found the error; the path ends there). Unrated or empty steps end it."""
    texts: list[str] = []
    ok: list[bool] = []
    ratings: list[int | None] = []
    for step in steps if isinstance(steps, list) else []:
        completions = step.get("completions") or []
        chosen = step.get("chosen_completion")
        if isinstance(chosen, int) and 0 <= chosen < len(completions):
            picked, last = completions[chosen], False
        elif step.get("human_completion"):
            picked, last = step["human_completion"], False
        else:
            picked = next((c for c in completions if c.get("rating") == -1), None)
            last = True
        if picked is None or not str(picked.get("text") or "").strip():
            break
        rating = picked.get("rating")
        if rating is None and picked.get("source") != "human":
            break  # a model step nobody rated
        texts.append(str(picked["text"]))
        ratings.append(rating)
        ok.append(rating is None or rating >= 0)  # human steps and neutral count as right
        if last or rating == -1:
            break
    return texts, ok, ratings


def prm800k(row: Mapping[str, Any], index: int, source: str) -> Problem:
    """PRM800K (raw labeller records): ``question`` holds the problem and its ground truth,
    ``label.steps`` the rated completions. The labelled path (``_prm800k_path``) becomes a
    given trace labelled ``human:<source>``: ratings 1 and 0 right, -1 wrong (as OpenR
    and the Qwen PRM work binarise them); the raw ratings stay in ``meta.ratings``."""
    question = row.get("question")
    label = row.get("label")
    if not isinstance(question, Mapping) or not isinstance(label, Mapping):
        raise SkipRow("no question / label objects (not a raw PRM800K record)")
    text = _text(question, "problem", what="question.problem")
    steps, ok, ratings = _prm800k_path(label.get("steps"))
    if not steps:
        raise SkipRow("no rated step on the labelled path")
    pid = str(_first(row, "id") or f"{source}-{index}")
    trace = _given(pid, steps, StepAnnotation(list(ok), f"human:{source}"), separator="\n")
    solution = question.get("ground_truth_solution")
    return Problem(
        id=pid,
        question=text,
        reference_solution=solution if isinstance(solution, str) else "",
        reference_answer=_answer(question.get("ground_truth_answer")),
        source=source,
        meta={
            **_meta(row, {"question", "label", "id"}),
            **{
                f"question.{k}": v
                for k, v in _meta(
                    question, {"problem", "ground_truth_solution", "ground_truth_answer"}
                ).items()
            },
            "ratings": ratings,
            "finish_reason": label.get("finish_reason"),
        },
        solutions=[trace],
    )


_CHAIN = re.compile(r"^\s*-?\d+(?:\s*[-+]\s*\d+)+\s*$")


def chain_steps(expression: str) -> str:
    """A step-by-step solution of a +/- chain, left to right: one sum per line; empty if
    the expression is anything else. reasoning_gym's arithmetic chains come without one."""
    if not _CHAIN.match(expression):
        return ""
    first = re.match(r"\s*(-?\d+)", expression)
    total, lines = int(first.group(1)), []
    for op, number in re.findall(r"([-+])\s*(\d+)", expression[first.end() :]):
        value = total + int(number) if op == "+" else total - int(number)
        lines.append(f"{total} {op} {number} = {value}")
        total = value
    return "\n".join(lines) + f"\nThe answer is \\boxed{{{total}}}."


def reasoning_gym(row: Mapping[str, Any], index: int, source: str) -> Problem:
    """reasoning_gym entries: question, answer, and metadata (``answer_cot`` when given;
    +/- chains such as chain_sum get a computed one)."""
    question = _text(row, "question", what="question")
    metadata = dict(row.get("metadata") or {})
    solution = metadata.pop("answer_cot", "") or chain_steps(str(metadata.get("expression", "")))
    return Problem(
        id=f"{source}-{metadata.get('source_index', index)}",
        question=question,
        reference_solution=solution,
        reference_answer=_answer(row.get("answer")),
        source=source,
        level=_level(metadata.get("difficulty")),
        meta={k: _jsonable(v) for k, v in metadata.items()},
    )


Normalizer = Callable[[Mapping[str, Any], int, str], Problem]

NORMALIZERS: dict[str, Normalizer] = {
    "generic": generic,
    "gsm8k": gsm8k,
    "math": math,
    "numina": numina,
    "processbench": processbench,
    "math_shepherd": math_shepherd,
    "prm800k": prm800k,
    "reasoning_gym": reasoning_gym,
}

# Rows of these carry a labelled solution (the label builder's input).
GIVEN_SOLUTIONS = ("processbench", "math_shepherd", "prm800k")
# ProcessBench and Math-Shepherd rows carry a labelled solution, not a reference answer.
NEEDS_ANSWER = {name: name not in ("processbench", "math_shepherd") for name in NORMALIZERS}

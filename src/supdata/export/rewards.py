"""Reward functions for the exported RL data, judged the way the builders judge.

``math_verify_reward`` and ``verdict_reward`` follow TRL's reward-function contract:
called with the batch's ``completions`` (strings, or message lists for conversational
prompts) and every other dataset column as a keyword list (``answer`` here); they return
one float per completion. ``verl_compute_score`` is verl's ``custom_reward_function``.
"""

from __future__ import annotations

from typing import Any

from supdata.ops.verdict import VERDICT_WORDS, parse_verdict


def completion_text(completion: Any) -> str:
    """A completion's text: the string, or the last message's content."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content") or "")
    raise TypeError(
        f"a completion is a string or a list of messages, not {type(completion).__name__}"
    )


def math_verify_reward(completions: list[Any], answer: list[str], **kwargs: Any) -> list[float]:
    """1.0 when the completion's final answer (boxed, ``####``, "the answer is", else the
    last number) equals ``answer`` under math-verify, else 0.0. Runs in this process with
    math-verify's own timeouts (the trainer's main thread)."""
    from supdata.verify import VerifyConfig, verify_many

    pairs = [(completion_text(c), a) for c, a in zip(completions, answer, strict=True)]
    judged = verify_many(pairs, VerifyConfig(workers=0, timeout_s=6.0))
    return [1.0 if j.status == "correct" else 0.0 for j in judged]


def verdict_reward(completions: list[Any], answer: list[str], **kwargs: Any) -> list[float]:
    """For verifier_rl: 1.0 when the feedback's verdict matches ``answer`` (``Correct`` or
    ``Wrong``), 0.0 when it does not or states none."""
    rewards = []
    for c, a in zip(completions, answer, strict=True):
        verdict = parse_verdict(completion_text(c))
        rewards.append(float(verdict is not None and verdict == (a == VERDICT_WORDS[0])))
    return rewards


def verl_compute_score(
    data_source: str, solution_str: str, ground_truth: str, extra_info: Any = None
) -> float:
    """verl ``custom_reward_function``: the verdict reward for verifier rows (ground truth
    ``Correct``/``Wrong`` with ability ``verification``), else the math-verify reward."""
    if ground_truth in VERDICT_WORDS and "verifier" in (data_source or ""):
        return verdict_reward([solution_str], [ground_truth])[0]
    return math_verify_reward([solution_str], [ground_truth])[0]

"""Teacher/student rows for distilling the STV verifier.

The informed verifier (teacher) saw the reference solution; the student must judge the
attempt without it. Offline: train the student on ``completion`` under ``prompt`` (this
is also what ``trl-sft`` exports). With logits: score ``completion`` under
``teacher_prompt`` with the teacher and under ``prompt`` with the student, and minimise
their divergence on the completion tokens (tests/test_train.py shows the step). On-policy:
the student samples under ``prompt`` and the teacher scores under ``teacher_prompt``.
"""

from __future__ import annotations

from typing import Any

from datasets import Dataset

from supdata.export.common import Context

Row = dict[str, Any]


def distill_from_distill(row: Row, ctx: Context) -> Row:
    """stv distill: rename ``ref_prompt`` to ``teacher_prompt``; keep verdict and truth."""
    return {
        "id": row["id"],
        "problem_id": row["problem_id"],
        "prompt": row["prompt"],
        "teacher_prompt": row["ref_prompt"],
        "completion": row["completion"],
        "verdict": bool(row["verdict"]),
        "truth": bool(row["truth"]),
    }


def tokenize_distill(row: Row, tokenizer: Any, *, max_target: int | None = None) -> Row:
    """Token ids for a logit-level distillation step: the same target tokens after the
    student prompt and after the teacher prompt (chat template with the generation
    prompt, then the completion and the end-of-turn token).

    Returns ``student_ids``, ``teacher_ids`` and ``n_target``: the last ``n_target``
    tokens of both are the target, so position ``-n_target - 1 + i`` of either model's
    logits predicts target token ``i``.
    """

    def prompt_ids(messages: list[dict[str, str]]) -> list[int]:
        return list(
            tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=True, return_dict=True
            )["input_ids"]
        )

    text = row["completion"][-1]["content"] + (tokenizer.eos_token or "")
    target = tokenizer(text, add_special_tokens=False)["input_ids"][:max_target]
    return {
        "student_ids": prompt_ids(row["prompt"]) + target,
        "teacher_ids": prompt_ids(row["teacher_prompt"]) + target,
        "n_target": len(target),
    }


def to_distill(ds: Dataset, *, config: str | None = None) -> Dataset:
    """Student prompt, teacher prompt and target, from the stv ``distill`` config.

    >>> row = {"id": "a1/f0", "problem_id": "p1", "question": "2+3?", "attempt": "#### 5",
    ...        "prompt": [{"role": "user", "content": "Verify: 2+3? #### 5"}],
    ...        "ref_prompt": [{"role": "user", "content": "Verify (reference: 5): 2+3? #### 5"}],
    ...        "completion": [{"role": "assistant", "content": "2+3=5. Verdict: Correct"}],
    ...        "verdict": True, "truth": True, "bin": "easy", "pass_rate": 1.0,
    ...        "reference_answer": "5"}
    >>> to_distill(Dataset.from_list([row]), config="distill")[0]
    {'id': 'a1/f0', 'problem_id': 'p1', 'prompt': [{'role': 'user', 'content': 'Verify: 2+3?
    #### 5'}], 'teacher_prompt': [{'role': 'user', 'content': 'Verify (reference: 5): 2+3?
    #### 5'}], 'completion': [{'role': 'assistant', 'content': '2+3=5. Verdict: Correct'}],
    'verdict': True, 'truth': True}
    """
    from supdata.export.convert import convert

    return convert(ds, "distill", config=config).dataset

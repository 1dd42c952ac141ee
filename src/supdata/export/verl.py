"""verl RL data: one parquet of prompts with a rule reward's ground truth.

Columns and types (``SCHEMA``, what verl's RLHFDataset and reward manager read):

- ``data_source``: string; verl's default scorer dispatches on it, so either name a source
  it knows (``--data-source lighteval/MATH``) or point ``custom_reward_function`` at
  ``supdata.export.rewards.verl_compute_score``. Default ``supdata/<config>``; for the
  stv configs (distill, verifier_rl, vil) the row's bin (``[0, 0]``, ``(0, 0.2]``), as
  STV's training reads it.
- ``ref_prompt`` (distill only, ``DISTILL_SCHEMA``): the informed teacher's messages
  (problem, attempt, reference solution) for on-policy distillation: the student
  samples from ``prompt``, the teacher scores with ``ref_prompt``.
- ``prompt``: list<struct<role: string, content: string>> (chat messages).
- ``ability``: string (``math``; ``verification`` for verifier_rl).
- ``reward_model``: struct<style: string (``rule``), ground_truth: string>.
- ``extra_info``: struct<split: string, index: int64, id: string, problem_id: string>.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from datasets import Dataset

from supdata.export import trl
from supdata.export.common import Context

Row = dict[str, Any]

MESSAGES_TYPE = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
SCHEMA = pa.schema(
    [
        pa.field("data_source", pa.string()),
        pa.field("prompt", MESSAGES_TYPE),
        pa.field("ability", pa.string()),
        pa.field(
            "reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])
        ),
        pa.field(
            "extra_info",
            pa.struct(
                [
                    ("split", pa.string()),
                    ("index", pa.int64()),
                    ("id", pa.string()),
                    ("problem_id", pa.string()),
                ]
            ),
        ),
    ]
)


DISTILL_SCHEMA = pa.schema([*SCHEMA, pa.field("ref_prompt", MESSAGES_TYPE)])


def _verl(grpo: Row, row: Row, ctx: Context, ability: str = "math") -> Row:
    default = row.get("bin") or f"supdata/{ctx.config or 'export'}"  # stv rows: their bin
    return {
        "data_source": ctx.options.get("data_source") or default,
        "prompt": grpo["prompt"],
        "ability": ability,
        "reward_model": {"style": "rule", "ground_truth": grpo["answer"]},
        "extra_info": {
            "split": ctx.options.get("split") or "train",
            "index": 0,  # numbered in order by ``number_rows``
            "id": grpo["id"],
            "problem_id": row.get("problem_id") or row["id"],
        },
    }


def verl_from_problem(row: Row, ctx: Context) -> Row:
    return _verl(trl.grpo_from_problem(row, ctx), row, ctx)


def verl_from_trace(row: Row, ctx: Context) -> Row:
    return _verl(trl.grpo_from_trace(row, ctx), row, ctx)


def verl_from_vil(row: Row, ctx: Context) -> Row:
    return _verl(trl.grpo_from_vil(row, ctx), row, ctx)


def verl_from_verifier_rl(row: Row, ctx: Context) -> Row:
    return _verl(trl.grpo_from_verifier_rl(row, ctx), row, ctx, ability="verification")


def verl_from_distill(row: Row, ctx: Context) -> Row:
    """stv distill for STV's own training: the student prompt, the informed teacher's
    ``ref_prompt``, and the true verdict as the rule reward's ground truth."""
    grpo = {"id": row["id"], "prompt": row["prompt"], "answer": trl.verdict_word(row["truth"])}
    out = _verl(grpo, row, ctx, ability="verification")
    out["ref_prompt"] = row["ref_prompt"]
    return out


def number_rows(rows: list[Row]) -> list[Row]:
    """``extra_info.index``: the row's position in the exported file."""
    for i, r in enumerate(rows):
        r["extra_info"]["index"] = i
    return rows


def to_verl(
    ds: Dataset,
    *,
    config: str | None = None,
    problems: Any = None,
    prompt: str | None = None,
    data_source: str | None = None,
    split: str = "train",
) -> Dataset:
    """verl rows (see the module docstring for the column types). Sources: the
    ``trl-grpo`` ones (problems, subtasks, samples with ``problems``, stv vil and
    verifier_rl).

    >>> row = {"id": "p1", "question": "2+3?", "reference_solution": "2+3=5\\n#### 5",
    ...        "reference_answer": "5", "source": "demo", "level": 1, "subject": None,
    ...        "meta": "{}", "solutions": []}
    >>> to_verl(Dataset.from_list([row]), config="problems")[0]
    {'data_source': 'supdata/problems', 'prompt': [{'role': 'system', 'content': 'You are a
    careful math tutor. Solve the problem step by step. Put each step on its own line. End
    with the final answer as \\\\boxed{ANSWER}.'}, {'role': 'user', 'content': '2+3?'}],
    'ability': 'math', 'reward_model': {'style': 'rule', 'ground_truth': '5'}, 'extra_info':
    {'split': 'train', 'index': 0, 'id': 'p1', 'problem_id': 'p1'}}
    """
    from supdata.export.convert import convert

    options = {"data_source": data_source, "split": split}
    return convert(ds, "verl", config=config, problems=problems, prompt=prompt, **options).dataset

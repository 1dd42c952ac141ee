"""LLaMA-Factory data files: alpaca or sharegpt rows, plus their ``dataset_info.json`` entry.

SFT sources become SFT files; pairs become preference files (``"ranking": true``).
Sharegpt rows keep OpenAI-style ``role``/``content`` messages (the entry's ``tags`` say
so) with the system prompt in its own column; alpaca rows need a prompt that alternates
user/assistant turns (earlier turns go to ``history``).
"""

from __future__ import annotations

from typing import Any

from datasets import Dataset

from supdata.export import trl
from supdata.export.common import Context, ExportError, Messages, Skip

Row = dict[str, Any]
STYLES = ("sharegpt", "alpaca")

SHAREGPT_TAGS = {
    "role_tag": "role",
    "content_tag": "content",
    "user_tag": "user",
    "assistant_tag": "assistant",
    "system_tag": "system",
}


def _style(ctx: Context) -> str:
    style = ctx.options.get("style") or "sharegpt"
    if style not in STYLES:
        raise ExportError(f"llamafactory style {style!r} is not one of {STYLES}")
    return style


def _split_system(messages: Messages) -> tuple[str, Messages]:
    if messages and messages[0]["role"] == "system":
        return messages[0]["content"], messages[1:]
    return "", messages


def _alpaca_turns(prompt: Messages) -> tuple[str, list[list[str]]]:
    """(last user message, earlier [user, assistant] pairs)."""
    roles = [m["role"] for m in prompt]
    if len(prompt) % 2 == 0 or any(r != ("user", "assistant")[i % 2] for i, r in enumerate(roles)):
        raise Skip("prompt turns do not alternate user/assistant (use style sharegpt)")
    history = [
        [prompt[i]["content"], prompt[i + 1]["content"]] for i in range(0, len(prompt) - 1, 2)
    ]
    return prompt[-1]["content"], history


def _sft(sft: Row, ctx: Context) -> Row:
    system, prompt = _split_system(sft["prompt"])
    if _style(ctx) == "sharegpt":
        return {"id": sft["id"], "messages": prompt + sft["completion"], "system": system}
    instruction, history = _alpaca_turns(prompt)
    return {
        "id": sft["id"],
        "instruction": instruction,
        "input": "",
        "output": sft["completion"][-1]["content"],
        "system": system,
        "history": history,
    }


def _ranking(dpo: Row, ctx: Context) -> Row:
    system, prompt = _split_system(dpo["prompt"])
    chosen, rejected = dpo["chosen"][-1], dpo["rejected"][-1]
    if _style(ctx) == "sharegpt":
        return {
            "id": dpo["id"],
            "messages": prompt,
            "chosen": chosen,
            "rejected": rejected,
            "system": system,
        }
    instruction, history = _alpaca_turns(prompt)
    if history:
        raise Skip("multi-turn prompt (use style sharegpt)")
    return {
        "id": dpo["id"],
        "instruction": instruction,
        "input": "",
        "chosen": chosen["content"],
        "rejected": rejected["content"],
        "system": system,
    }


def lf_from_sft(row: Row, ctx: Context) -> Row:
    return _sft(trl.sft_from_sft(row, ctx), ctx)


def lf_from_mixture(row: Row, ctx: Context) -> Row:
    return _sft(trl.sft_from_mixture(row, ctx), ctx)


def lf_from_problem(row: Row, ctx: Context) -> Row:
    return _sft(trl.sft_from_problem(row, ctx), ctx)


def lf_from_distill(row: Row, ctx: Context) -> Row:
    return _sft(trl.sft_from_distill(row, ctx), ctx)


def lf_from_pair(row: Row, ctx: Context) -> Row:
    return _ranking(trl.dpo_from_pair(row, ctx), ctx)


def dataset_info_entry(file_name: str, style: str, *, ranking: bool) -> dict[str, Any]:
    """The ``dataset_info.json`` entry LLaMA-Factory reads the file through."""
    if style == "sharegpt":
        columns = {"messages": "messages", "system": "system"}
        if ranking:
            columns |= {"chosen": "chosen", "rejected": "rejected"}
        entry: dict[str, Any] = {"file_name": file_name, "formatting": "sharegpt"}
        if ranking:
            entry["ranking"] = True
        return entry | {"columns": columns, "tags": dict(SHAREGPT_TAGS)}
    columns = {"prompt": "instruction", "query": "input", "system": "system"}
    columns |= (
        {"chosen": "chosen", "rejected": "rejected"}
        if ranking
        else {
            "response": "output",
            "history": "history",
        }
    )
    entry = {"file_name": file_name, "formatting": "alpaca"}
    if ranking:
        entry["ranking"] = True
    return entry | {"columns": columns}


def to_llamafactory(
    ds: Dataset, *, config: str | None = None, style: str = "sharegpt", prompt: str | None = None
) -> Dataset:
    """LLaMA-Factory rows (``style`` sharegpt or alpaca). Sources: the ``trl-sft`` ones
    (SFT files) and the ``trl-dpo`` ones (preference files). ``export_dir`` writes them
    as jsonl with their ``dataset_info.json`` entry.

    >>> row = {"id": "p1", "problem_id": "p1", "prompt": "2+3?", "completion": "#### 5",
    ...        "correct": True, "taken": "chosen", "er_target": 0.0, "reference_answer": "5",
    ...        "part": "hard"}
    >>> out = to_llamafactory(Dataset.from_list([row]), config="hard_er00", style="alpaca")[0]
    >>> {k: out[k] for k in ("instruction", "input", "output", "history")}
    {'instruction': '2+3?', 'input': '', 'output': '#### 5', 'history': []}
    """
    from supdata.export.convert import convert

    return convert(ds, "llamafactory", config=config, prompt=prompt, style=style).dataset

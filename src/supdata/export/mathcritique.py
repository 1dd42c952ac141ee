"""AutoMathCritique's published SFT layout (WooooDyy/MathCritique selfimprove/
data_filter.py), one JSON list per file, for LLaMA-Factory:

- ``alpaca`` (base models, LLaMA-Factory's ``default`` template, which wraps a row as
  ``Human: {instruction}\\nAssistant:{output}``): ``{"instruction", "input": "",
  "output"}``. A multi-turn prompt is written inline as the published refinement rows
  are: ``{question}\\n\\nAssistant:{earlier answer}\\n<|end_of_text|>\\nHuman: {request
  and critique}``; the instruction ends with a newline.
- ``sharegpt`` (instruct models, ``"formatting": "sharegpt", "columns": {"messages":
  "conversations"}``): ``{"conversations": [{"from": "human", "value"}, {"from": "gpt",
  "value"}, ...]}``.

A template's assistant prefill ("Let's break it down step by step:\\n\\n") opens the
output, as the published rows store it.
"""

from __future__ import annotations

from typing import Any

from supdata.export.common import ExportError

STYLES = ("alpaca", "sharegpt")
EOS = "<|end_of_text|>"  # Llama-3 base, the published rows' end-of-turn text
_FROM = {"system": "system", "user": "human", "assistant": "gpt"}


def _split(row: dict[str, Any]) -> tuple[list[dict[str, str]], str]:
    """The prompt without its assistant prefill, and the full answer (prefill + completion)."""
    messages = list(row["prompt"])
    prefill = messages.pop()["content"] if messages[-1]["role"] == "assistant" else ""
    completion = "".join(m["content"] for m in row["completion"])
    return messages, prefill + completion


def inline(messages: list[dict[str, str]]) -> str:
    """Several turns as one base-model instruction, the published way."""
    text = ""
    for m in messages:
        if m["role"] == "system":
            text += m["content"] + "\n\n"
        elif m["role"] == "assistant":
            text += f"\n\nAssistant:{m['content']}\n{EOS}\nHuman: "
        else:
            text += m["content"]
    return text


def to_mathcritique(rows: list[dict[str, Any]], style: str) -> list[dict[str, Any]]:
    if style not in STYLES:
        raise ExportError(f"mathcritique style {style!r}; styles: {', '.join(STYLES)}")
    out = []
    for row in rows:
        messages, answer = _split(row)
        if style == "alpaca":
            out.append({"instruction": inline(messages) + "\n", "input": "", "output": answer})
        else:
            turns = [{"from": _FROM[m["role"]], "value": m["content"]} for m in messages]
            out.append({"conversations": [*turns, {"from": "gpt", "value": answer}]})
    return out

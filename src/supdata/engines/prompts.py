"""Chat messages to prompt tokens, the same way for every local backend."""

from __future__ import annotations

from typing import Any

from supdata.engines.types import Request


def render(tokenizer: Any, request: Request) -> str:
    """Apply the chat template; a continuation leaves the final assistant turn open."""
    return tokenizer.apply_chat_template(
        list(request.messages),
        tokenize=False,
        add_generation_prompt=not request.continue_final,
        continue_final_message=request.continue_final,
    )


def encode(tokenizer: Any, request: Request) -> list[int]:
    # The template already holds the special tokens it wants (as vLLM's chat() does).
    return tokenizer.encode(render(tokenizer, request), add_special_tokens=False)

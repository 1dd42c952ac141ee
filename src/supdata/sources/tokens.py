"""Token counts for length filters."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

_PIECES = re.compile(r"\w+|[^\w\s]")


@lru_cache(maxsize=4)
def token_counter(tokenizer: str | None) -> Callable[[str], int]:
    """A function counting tokens with ``tokenizer``; word/punctuation pieces if None."""
    if tokenizer is None:
        return lambda text: len(_PIECES.findall(text))
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer)
    return lambda text: len(tok(text, add_special_tokens=False)["input_ids"])

"""Dataset cards rendered from ``cards/`` in a sandboxed Jinja environment."""

from __future__ import annotations

from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from supdata.assets import asset_dir


def size_category(n: int) -> str:
    for limit, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if n < limit:
            return name
    return "n>1M"


def render_card(template: str, **context: Any) -> str:
    env = SandboxedEnvironment(
        loader=FileSystemLoader(asset_dir("cards")),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["size_category"] = size_category
    return env.get_template(template).render(**context)

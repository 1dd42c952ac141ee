"""Dataset cards rendered from ``cards/`` in a sandboxed Jinja environment."""

from __future__ import annotations

from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from supdata.assets import asset_dir

CITATIONS = {
    "guiding": {
        "title": "Guiding Through Complexity: What Makes Good Supervision for Hard Math "
        "Reasoning Tasks?",
        "ref": "arXiv:2410.20533 (NAACL 2025)",
    },
    "critique": {
        "title": "Enhancing LLM Reasoning via Critique Models with Test-Time and Training-Time "
        "Supervision (AutoMathCritique)",
        "ref": "arXiv:2411.16579",
    },
    "stv": {"title": "Self-Trained Verification", "ref": "arXiv:2605.30290"},
    "gsm8k": {
        "title": "Training Verifiers to Solve Math Word Problems (GSM8K)",
        "ref": "arXiv:2110.14168",
    },
    "math": {
        "title": "Measuring Mathematical Problem Solving With the MATH Dataset",
        "ref": "arXiv:2103.03874",
    },
    "processbench": {
        "title": "ProcessBench: Identifying Process Errors in Mathematical Reasoning",
        "ref": "arXiv:2412.06559",
    },
    "reasoning_gym": {
        "title": "Reasoning Gym: Reasoning Environments for Reinforcement "
        "Learning with Verifiable Rewards",
        "ref": "arXiv:2505.24760",
    },
}


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


def cell(value: Any, width: int = 90) -> str:
    """A value as one markdown table cell: no pipes or newlines, at most ``width`` chars."""
    text = " ".join(str(value).split()).replace("|", "\\|")
    return text if len(text) <= width else text[: width - 3] + "..."


def render_card(template: str, **context: Any) -> str:
    env = SandboxedEnvironment(
        loader=FileSystemLoader(asset_dir("cards")),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["size_category"] = size_category
    env.filters["cell"] = cell
    return env.get_template(template).render(**context)

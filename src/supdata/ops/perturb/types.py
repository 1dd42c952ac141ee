"""Step-error types: rule edits (exact, model-free) and model rewrites (named mistakes)."""

from __future__ import annotations

from typing import Literal

RuleType = Literal["wrong_result", "swap_operator", "flip_sign", "drop_term"]
ModelType = Literal[
    "calculation",
    "wrong_operation",
    "misread_quantity",
    "wrong_formula",
    "skipped_condition",
    "unit_conversion",
]
RULE_TYPES: tuple[str, ...] = RuleType.__args__
MODEL_TYPES: tuple[str, ...] = ModelType.__args__
ErrorType = Literal[
    "wrong_result",
    "swap_operator",
    "flip_sign",
    "drop_term",
    "calculation",
    "wrong_operation",
    "misread_quantity",
    "wrong_formula",
    "skipped_condition",
    "unit_conversion",
]

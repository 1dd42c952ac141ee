"""Step-error injection with exact control (rule-based)."""

from supdata.ops.perturb.rules import (
    ERROR_TYPES,
    LEAKY_WORDS,
    POSITIONS,
    CannotPerturb,
    Perturbation,
    given_quantities,
    perturb,
)

__all__ = [
    "ERROR_TYPES",
    "LEAKY_WORDS",
    "POSITIONS",
    "CannotPerturb",
    "Perturbation",
    "given_quantities",
    "perturb",
]

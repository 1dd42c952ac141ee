"""How predictions are judged: one frozen config, shared by the pool and the workers."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

Percent = Literal["lenient", "value", "sign"]
PERCENT_POLICIES: tuple[str, ...] = ("lenient", "value", "sign")

# The CPU budgets below are fractions of the hard wall-clock limit chosen so that both
# attempts together fit inside it with the machine loaded up to this factor (two busy
# processes per core): then the hard kill never decides a verdict that the soft budget
# would have decided, however busy the machine is.
LOAD_FACTOR = 2.0


@dataclass(frozen=True, slots=True)
class VerifyConfig:
    """How predictions are judged (see docs/verification.md).

    workers: verification processes (0 = in this process: soft CPU budgets only, no hard
        kill).
    timeout_s: hard wall-clock limit per item; a worker past it is killed and the item
        recorded as ``timeout``.
    last_number_fallback: allow the unanchored rules (last display equation, last LaTeX
        expression, last number) when the text has no boxed / ``####`` / "answer is"
        answer; False = anchored answers only.
    chunk_size: items handed to a worker at a time.
    float_rounding: decimal places floats are rounded to before comparing (math-verify's
        ``float_rounding``; its tests call it ``precision``).
    numeric_precision: significant digits of numeric evaluation (math-verify's).
    strict: variables matter (``f(x)`` != ``f(y)``) and sets are not tuples; False
        matches variables by position.
    allow_set_relation_comp: a relation in the prediction may equal a set in the
        reference (``1 < x < 2`` == ``(1, 2)``); the other way round always may.
    percent: ``lenient``: ``12.5\\%`` equals 12.5 and 0.125; ``value``: it equals 0.125
        only; ``sign``: the sign is dropped, it equals 12.5 only.
    """

    workers: int = max(1, min(4, os.cpu_count() or 1))
    timeout_s: float = 10.0
    last_number_fallback: bool = True
    chunk_size: int = 4
    float_rounding: int = 6
    numeric_precision: int = 15
    strict: bool = True
    allow_set_relation_comp: bool = False
    percent: Percent = "lenient"

    def __post_init__(self) -> None:
        if self.percent not in PERCENT_POLICIES:
            raise ValueError(f"percent must be one of {PERCENT_POLICIES}, got {self.percent!r}")
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")

    @property
    def soft_timeout_s(self) -> float:
        """CPU seconds of the first attempt (all math-verify calls of the item together)."""
        return self.timeout_s / LOAD_FACTOR / 3

    @property
    def retry_timeout_s(self) -> float:
        """CPU seconds of the one retry after a soft timeout: the rest of the budget."""
        return self.timeout_s / LOAD_FACTOR - self.soft_timeout_s

"""A build's output-token budget: a request is sent only if its worst case still fits.

A request's worst case is the tokens of its cached samples (known) plus ``max_tokens``
for each sample still to generate; requests are admitted in order while the running sum
fits what is left, so the build never passes the budget. The ones admitted are generated
and cached, then the build stops (``BudgetExceeded``): a re-run with a larger budget
finds them in the cache and goes on, generating nothing twice. Output tokens served
from the cache count as spent (the build's cost does not depend on the cache being warm).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field


class BudgetExceeded(RuntimeError):
    """The next request could pass the build's output-token budget; nothing was published."""


@dataclass
class Budget:
    max_output_tokens: int
    spent: Callable[[], int]  # output tokens the build has accounted for so far
    # Worst cases of calls admitted but not yet charged (stages of a flow build call at
    # once: each must see what the others may still spend).
    reserved: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def left(self) -> int:
        return self.max_output_tokens - self.spent() - self.reserved

    def reserve(self, worst_cases: list[int]) -> tuple[int, int]:
        """``admit`` and hold the admitted worst cases until ``release``: returns how
        many requests were admitted and the tokens held."""
        with self._lock:
            k = self.admit(worst_cases)
            held = sum(worst_cases[:k])
            self.reserved += held
            return k, held

    def release(self, held: int) -> None:
        with self._lock:
            self.reserved -= held

    def admit(self, worst_cases: list[int]) -> int:
        """How many requests, in order, fit what is left at their worst case."""
        left, k = self.left(), 0
        for cost in worst_cases:
            if cost > left:
                break
            left -= cost
            k += 1
        return k

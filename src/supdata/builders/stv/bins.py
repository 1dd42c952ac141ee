"""Pass-rate bins written as intervals, e.g. ``hardest: "[0, 0]"``, ``hard: "(0, 0.2]"``.

Interval notation says which ends are included, so "0 correct" and "a few correct"
are different bins without magic epsilons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_INTERVAL = re.compile(
    r"^\s*(?P<open>[\[(])\s*(?P<lo>[-+]?\d*\.?\d+)\s*,\s*(?P<hi>[-+]?\d*\.?\d+)\s*(?P<close>[\])])\s*$"
)


@dataclass(frozen=True)
class Bin:
    name: str
    lo: float
    hi: float
    lo_closed: bool
    hi_closed: bool

    def __contains__(self, x: float) -> bool:
        above = x >= self.lo if self.lo_closed else x > self.lo
        below = x <= self.hi if self.hi_closed else x < self.hi
        return above and below

    def __str__(self) -> str:
        left, right = "[" if self.lo_closed else "(", "]" if self.hi_closed else ")"
        return f"{left}{self.lo:g}, {self.hi:g}{right}"


def parse_bin(name: str, text: str) -> Bin:
    m = _INTERVAL.match(str(text))
    if m is None:
        raise ValueError(f"bin {name!r}: {text!r} is not an interval like '[0, 0]' or '(0, 0.2]'")
    b = Bin(name, float(m["lo"]), float(m["hi"]), m["open"] == "[", m["close"] == "]")
    if not (0 <= b.lo <= 1 and 0 <= b.hi <= 1):
        raise ValueError(f"bin {name!r}: {text} falls outside [0, 1]")
    if b.lo > b.hi or (b.lo == b.hi and not (b.lo_closed and b.hi_closed)):
        raise ValueError(f"bin {name!r}: {text} is empty")
    return b


def _overlap(a: Bin, b: Bin) -> bool:
    lo, lo_closed = max((a.lo, a.lo_closed), (b.lo, b.lo_closed), key=lambda e: (e[0], not e[1]))
    hi, hi_closed = min((a.hi, a.hi_closed), (b.hi, b.hi_closed), key=lambda e: (e[0], e[1]))
    return lo < hi or (lo == hi and lo_closed and hi_closed)


def parse_bins(bins: dict[str, str]) -> list[Bin]:
    """Parsed bins, in recipe order; overlapping bins are an error (a problem has one bin)."""
    parsed = [parse_bin(name, text) for name, text in bins.items()]
    for i, a in enumerate(parsed):
        for b in parsed[:i]:
            if _overlap(a, b):
                raise ValueError(f"bin {a.name!r} {a} overlaps bin {b.name!r} {b}")
    return parsed


def bin_of(rate: float, bins: list[Bin]) -> str | None:
    return next((b.name for b in bins if rate in b), None)

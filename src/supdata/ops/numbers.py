"""Numbers written in free text: the patterns the builders and hygiene share, once.

Each is a plain decimal reading (no LaTeX, no fractions): enough to compare the numbers
two texts state (rephrasing keeps every number, a refinement carries the reference's
numbers, feedback states the answer) and to mask numbers for near-duplicate detection.
Arithmetic that is recomputed lives in ``ops.perturb.arithmetic``; answers are judged by
``supdata.verify``.
"""

from __future__ import annotations

import re

DECIMAL = re.compile(r"\d+(?:\.\d+)?")  # 12, 3.5 (unsigned)
SIGNED = re.compile(r"-?\d+(?:\.\d+)?")  # -4, 12, 3.5
GROUPED = re.compile(r"\d+(?:[.,]\d+)*")  # 1,234.5 and 1.2.3 kept whole
SIGNED_WHOLE = re.compile(r"^[-+]?\d+(?:\.\d+)?$")  # a text that is one number
THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")  # the comma in 12,000 (not in 1,22)


def drop_thousands(text: str) -> str:
    """``12,000`` -> ``12000``; commas that separate anything else stay."""
    return THOUSANDS.sub("", text)


def decimals(text: str) -> list[str]:
    """The unsigned numbers ``text`` writes, every comma removed first (``1,234`` -> 1234)."""
    return DECIMAL.findall(text.replace(",", ""))


def signed(text: str) -> list[str]:
    """As ``decimals``, with a leading minus kept."""
    return SIGNED.findall(text.replace(",", ""))


def grouped(text: str) -> list[str]:
    """Numbers with their digit groups kept together, then the commas dropped."""
    return [n.replace(",", "") for n in GROUPED.findall(text)]

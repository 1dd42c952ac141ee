"""Decontamination: does a text restate a benchmark problem?

The index holds, per benchmark, the hashed n-grams of every item's normalized words
(``normalize.words``: no symbols, no figure code), and its normalized text (all tokens).
A text matches a benchmark when its normalized form equals an item's, or when at least
``threshold`` of its distinct n-grams are in that benchmark's index (a count when >= 1,
else a share of the text's n-grams).

Short items: a benchmark item with fewer words than ``ngram`` has no n-gram. When it
has at least ``min_words`` words it is indexed whole, at its own length, so a text that
contains all of it, in order, matches; shorter items (e.g. "compute \\binom 8 4") match
by exact normalized text only, because containing four tokens is no evidence of a copy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from supdata.hygiene.normalize import normalize, tokens, words


@dataclass(frozen=True)
class Match:
    """Why a text counts as contaminated by one benchmark."""

    benchmark: str
    item_id: str  # the benchmark item that matched (the first, for n-gram hits)
    kind: str  # exact | ngram | contained
    ngram: str  # the matching tokens, joined by spaces
    hits: int  # distinct matching n-grams (1 for exact and contained)

    def to_dict(self) -> dict[str, str | int]:
        return {
            "benchmark": self.benchmark,
            "benchmark_id": self.item_id,
            "kind": self.kind,
            "ngram": self.ngram,
            "hits": self.hits,
        }


class NgramIndex:
    """Benchmark n-grams, exact texts and short items; ``check`` a text against all."""

    def __init__(self, ngram: int = 13, threshold: float = 1, min_words: int = 8) -> None:
        if min_words > ngram:
            raise ValueError(f"min_words ({min_words}) > ngram ({ngram})")
        self.n = ngram
        self.threshold = threshold
        self.min_words = min_words
        self.benchmarks: list[str] = []
        self.sizes: dict[str, int] = {}
        self._exact: dict[str, dict[int, str]] = {}  # normalized text -> {bench: item}
        self._grams: list[dict[int, str]] = []  # per bench: n-gram hash -> first item
        # prefix hash of min_words tokens -> [(all tokens, bench, item)]
        self._short: dict[int, list[tuple[tuple[str, ...], int, str]]] = {}

    def add(self, benchmark: str, items: Iterable[tuple[str, str]]) -> None:
        """Index ``(item id, text)`` pairs under ``benchmark``."""
        if benchmark in self.benchmarks:
            raise ValueError(f"benchmark {benchmark!r} is indexed twice")
        b = len(self.benchmarks)
        self.benchmarks.append(benchmark)
        grams: dict[int, str] = {}
        self._grams.append(grams)
        count = 0
        n, m = self.n, self.min_words
        for item_id, text in items:
            exact = normalize(text)
            if not exact:
                continue
            count += 1
            self._exact.setdefault(exact, {}).setdefault(b, item_id)
            toks = words(text)
            if len(toks) >= n:
                for i in range(len(toks) - n + 1):
                    grams.setdefault(hash(tuple(toks[i : i + n])), item_id)
            elif len(toks) >= m:
                entry = (tuple(toks), b, item_id)
                self._short.setdefault(hash(tuple(toks[:m])), []).append(entry)
        self.sizes[benchmark] = count

    def check(self, text: str) -> list[Match]:
        """Every benchmark ``text`` matches, in the order they were added."""
        normalized = " ".join(tokens(text))
        found: dict[int, Match] = {}
        for b, item_id in self._exact.get(normalized, {}).items():
            found[b] = Match(self.benchmarks[b], item_id, "exact", normalized, 1)
        toks = words(text)
        n = self.n
        if len(toks) >= n and len(found) < len(self.benchmarks):
            first: dict[int, int] = {}
            for i in range(len(toks) - n + 1):
                first.setdefault(hash(tuple(toks[i : i + n])), i)
            need = self.threshold if self.threshold >= 1 else self.threshold * len(first)
            for b, grams in enumerate(self._grams):
                if b in found:
                    continue
                hits = [h for h in first if h in grams]
                if hits and len(hits) >= need:
                    i = min(first[h] for h in hits)
                    h = hash(tuple(toks[i : i + n]))
                    found[b] = Match(
                        self.benchmarks[b], grams[h], "ngram", " ".join(toks[i : i + n]), len(hits)
                    )
        if self._short and len(toks) >= self.min_words:
            m = self.min_words
            for i in range(len(toks) - m + 1):
                for whole, b, item_id in self._short.get(hash(tuple(toks[i : i + m])), ()):
                    if b not in found and tuple(toks[i : i + len(whole)]) == whole:
                        shown = " ".join(whole)
                        found[b] = Match(self.benchmarks[b], item_id, "contained", shown, 1)
        return [found[b] for b in sorted(found)]

"""What a build does with the hygiene sections: screens that drop and report.

``Decontaminator`` loads the benchmarks once per build and checks texts; every stage
that uses it keeps its own report (counts per benchmark, each removed item with the
matching n-gram), which the stage saves in the build context, and so in stats.json and
the card.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from supdata.core.records import Problem, Trace
from supdata.core.stats import StageStats
from supdata.hygiene.config import Decontaminate, ProblemDedup, SolutionDedup
from supdata.hygiene.decontam import Match, NgramIndex


class Decontaminator:
    def __init__(self, config: Decontaminate) -> None:
        self.config = config
        self.index = NgramIndex(config.ngram, config.threshold, config.min_words)
        self.sources: dict[str, str] = {}
        for bench in config.against:
            self.index.add(bench.label, bench.items())
            self.sources[bench.label] = bench.describe()

    def summary(self) -> dict[str, Any]:
        """The checked benchmarks and the method, for the card."""
        return {
            "benchmarks": [
                {"name": b, "source": self.sources[b], "items": self.index.sizes[b]}
                for b in self.index.benchmarks
            ],
            "method": "normalized exact match + word n-gram overlap",
            "ngram": self.config.ngram,
            "threshold": self.config.threshold,
            "min_words": self.config.min_words,
        }

    def report(self) -> ContaminationReport:
        return ContaminationReport(self)


class ContaminationReport:
    """One stage's findings: removed items per benchmark, with what matched."""

    def __init__(self, decon: Decontaminator) -> None:
        self.decon = decon
        self.checked = 0
        self.removed: Counter[str] = Counter()
        self.matches: dict[str, list[dict[str, Any]]] = {}

    def check(self, item_id: str, text: str) -> str | None:
        """The drop reason (``contaminated: <benchmark>``), or None when clean."""
        self.checked += 1
        found: list[Match] = self.decon.index.check(text)
        if not found:
            return None
        first = found[0].benchmark
        self.removed[first] += 1
        self.matches.setdefault(first, []).append(
            {"id": item_id, **found[0].to_dict(), "also": [m.benchmark for m in found[1:]]}
        )
        return f"contaminated: {first}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "removed": {b: self.removed.get(b, 0) for b in self.decon.index.benchmarks},
            "matches": self.matches,
        }


class DuplicateReport:
    """Removed duplicates of one kind of text, with the item each one repeats."""

    def __init__(self, rule: ProblemDedup | SolutionDedup) -> None:
        self.rule = rule
        self.dedup = rule.make()
        self.removed: Counter[str] = Counter()
        self.examples: list[dict[str, Any]] = []

    def check(self, key: str, text: str, group: str = "") -> str | None:
        dup = self.dedup.check(key, text, group)
        if dup is None:
            return None
        self.removed[dup.kind] += 1
        if len(self.examples) < 20:
            self.examples.append({"id": key, "of": dup.of, "kind": dup.kind, "sim": dup.similarity})
        return dup.kind

    def forget(self) -> None:
        """Drop the texts seen so far, keep the counts: for a stream where no later item
        can share a group with an earlier one (a window of whole problems' samples)."""
        self.dedup = self.rule.make()

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": self.rule.model_dump(mode="json"),
            "exact": self.removed["exact"],
            "near": self.removed["near"],
            "examples": self.examples,
        }


class ProblemScreen:
    """The source stage's filter: contaminated problems first, then duplicates."""

    def __init__(self, decon: Decontaminator | None, rule: ProblemDedup | None) -> None:
        self.contamination = decon.report() if decon is not None else None
        self.duplicates = DuplicateReport(rule) if rule is not None else None

    def __call__(self, problem: Problem) -> str | None:
        if self.contamination is not None:
            reason = self.contamination.check(problem.id, problem.question)
            if reason is not None:
                return reason
        if self.duplicates is not None:
            kind = self.duplicates.check(problem.id, problem.question)
            if kind is not None:
                return "duplicate problem" if kind == "exact" else "near-duplicate problem"
        return None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.contamination is not None:
            out["checked_against"] = self.contamination.decon.summary()
            out["decontamination"] = self.contamination.to_dict()
        if self.duplicates is not None:
            out["dedup"] = self.duplicates.to_dict()
        return out


def dedup_solutions(traces: list[Trace], report: DuplicateReport, stats: StageStats) -> list[Trace]:
    """The traces without repeated solutions of the same problem; ``report`` counts the
    removed ones (and may be carried from window to window)."""
    kept = []
    for t in traces:
        kind = report.check(t.id, t.text, group=t.problem_id)
        if kind is None:
            kept.append(t)
        else:
            stats.drop("duplicate solution" if kind == "exact" else "near-duplicate solution", t.id)
    stats.n_out -= len(traces) - len(kept)
    return kept

"""Data hygiene: decontamination against evaluation benchmarks, and deduplication."""

from supdata.hygiene.benchmarks import REGISTRY, Benchmark, BenchmarkError
from supdata.hygiene.config import Decontaminate, Dedup, ProblemDedup, SolutionDedup
from supdata.hygiene.decontam import Match, NgramIndex
from supdata.hygiene.dedup import Deduplicator, Duplicate
from supdata.hygiene.normalize import normalize, tokens

__all__ = [
    "REGISTRY",
    "Benchmark",
    "BenchmarkError",
    "Decontaminate",
    "Dedup",
    "Deduplicator",
    "Duplicate",
    "Match",
    "NgramIndex",
    "ProblemDedup",
    "SolutionDedup",
    "normalize",
    "tokens",
]

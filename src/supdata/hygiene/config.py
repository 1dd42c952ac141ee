"""The ``decontaminate:`` and ``dedup:`` recipe sections."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from supdata.hygiene.benchmarks import Benchmark


class Decontaminate(BaseModel):
    """Remove problems that restate an evaluation benchmark's problems: source problems
    before any generation, and generated restatements (subproblems, rephrasings)."""

    model_config = ConfigDict(extra="forbid")

    against: list[Benchmark] = Field(
        min_length=1,
        description="benchmarks: registry names (math500, gsm8k_test, ...) or "
        "{file: PATH, field: COLUMN} / {name: math500, file: PATH}",
    )
    ngram: int = Field(13, ge=3, le=64, description="words per n-gram (normalized tokens)")
    threshold: float = Field(
        1,
        gt=0,
        description="matching n-grams needed: a count (>= 1, whole) or a share of the "
        "text's n-grams (< 1)",
    )
    min_words: int = Field(
        8,
        ge=1,
        description="benchmark items shorter than ngram but with at least this many tokens "
        "match when a text contains them whole; shorter ones match exactly only",
    )

    @model_validator(mode="after")
    def _check(self) -> Decontaminate:
        if self.threshold >= 1 and self.threshold != int(self.threshold):
            raise ValueError(f"threshold >= 1 is a count of n-grams; got {self.threshold}")
        if self.min_words > self.ngram:
            raise ValueError(f"min_words ({self.min_words}) > ngram ({self.ngram})")
        labels = [b.label for b in self.against]
        twice = sorted({x for x in labels if labels.count(x) > 1})
        if twice:
            raise ValueError(f"benchmarks listed twice: {twice}")
        return self

    def fingerprint(self) -> dict[str, Any]:
        return {
            **self.model_dump(mode="json", exclude={"against"}),
            "against": [b.fingerprint() for b in self.against],
        }


class _DedupRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exact: bool = Field(True, description="drop texts equal after normalization")
    near: bool = Field(True, description="drop near-duplicates (MinHash LSH, datasketch)")
    threshold: float = Field(0.8, gt=0, le=1, description="Jaccard similarity of shingles")
    num_perm: int = Field(128, ge=16, le=1024, description="MinHash permutations")
    shingle: int = Field(3, ge=1, le=16, description="words per shingle")
    numbers: Literal["mask", "keep"] = Field(
        "mask", description="mask: numbers compare equal (copies with swapped numbers match)"
    )

    def make(self):
        from supdata.hygiene.dedup import Deduplicator

        return Deduplicator(**self.model_dump())


class ProblemDedup(_DedupRule):
    """Problems of the source, before any generation; the first occurrence is kept."""


class SolutionDedup(_DedupRule):
    """Sampled solutions of one problem (samples, sub_samples, critique samples):
    duplicates are dropped before verification and labelling."""

    threshold: float = Field(0.9, gt=0, le=1, description="Jaccard similarity of shingles")
    numbers: Literal["mask", "keep"] = Field(
        "keep", description="keep: solutions that differ in a number are different"
    )


class Dedup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    problems: ProblemDedup | None = Field(
        default_factory=ProblemDedup, description="source problems (null: off)"
    )
    solutions: SolutionDedup | None = Field(
        default_factory=SolutionDedup, description="sampled solutions per problem (null: off)"
    )

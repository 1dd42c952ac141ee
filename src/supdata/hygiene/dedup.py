"""Deduplication: exact (normalized hash) and near (MinHash LSH from ``datasketch``).

The first occurrence is kept. Near-duplicates are found by LSH and confirmed by the
MinHash estimate of the Jaccard similarity of word shingles, so a reported pair really
is above the threshold (up to the estimate's error, about 1/sqrt(num_perm)). With
``mask_numbers`` every number is one token: copies made by swapping numbers are near
(identical) duplicates. ``group`` keeps comparisons within one group (e.g. the solutions
of one problem).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from supdata.hygiene.normalize import mask_numbers, text_hash, tokens


@dataclass(frozen=True)
class Duplicate:
    kind: str  # exact | near
    of: str  # key of the kept item it duplicates
    similarity: float


class Deduplicator:
    def __init__(
        self,
        *,
        exact: bool = True,
        near: bool = True,
        threshold: float = 0.8,
        num_perm: int = 128,
        shingle: int = 3,
        numbers: str = "mask",
    ) -> None:
        self.exact, self.near = exact, near
        self.threshold, self.shingle = threshold, shingle
        self.mask = numbers == "mask"
        self._seen: dict[tuple[str, str], str] = {}
        self._sketches: dict[tuple[str, str], np.ndarray] = {}
        if near:
            from datasketch import MinHash, MinHashLSH

            # crc32: fast and the same in every process; MinHash's scheme mixes it further
            self._template = MinHash(num_perm=num_perm, seed=1, hashfunc=zlib.crc32)
            self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)

    def check(self, key: str, text: str, group: str = "") -> Duplicate | None:
        """The kept item ``text`` duplicates, or None (and ``text`` is kept from now on)."""
        toks = tokens(text)
        if self.exact:
            digest = text_hash(" ".join(toks))
            kept = self._seen.get((group, digest))
            if kept is not None:
                return Duplicate("exact", kept, 1.0)
        if self.near:
            sketch = self._sketch(toks)
            for candidate in self._lsh.query(sketch):
                if candidate[0] != group:
                    continue
                similarity = float(np.mean(self._sketches[candidate] == sketch.hashvalues))
                if similarity >= self.threshold:
                    return Duplicate("near", candidate[1], round(similarity, 3))
            self._lsh.insert((group, key), sketch, check_duplication=False)
            self._sketches[(group, key)] = sketch.hashvalues
        if self.exact:
            self._seen[(group, digest)] = key
        return None

    def _sketch(self, toks: list[str]):
        if self.mask:
            toks = mask_numbers(toks)
        k = self.shingle
        grams = {" ".join(toks[i : i + k]) for i in range(max(1, len(toks) - k + 1))}
        sketch = self._template.copy()
        sketch.update_batch([g.encode("utf-8") for g in grams])
        return sketch

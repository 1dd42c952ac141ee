"""Two builds of the same recipes with the same request cache: are the rows identical?

    python bench/same_rows.py BEFORE_DIR AFTER_DIR

Compares every config's rows (all columns, in id order), the set of configs, and
stats.json with timings removed. Prints each difference and exits 1 on any (issue
"one home per builder": the refactor must not change what is built).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.parquet as pq

TIMINGS = {"seconds"}
# Counters that differ by design between a cold build and a re-run on its cache.
CACHE_COUNTS = {"samples from cache", "samples generated"}
# Counters the architecture issue added (sub-steps' stats folded into their stage).
ADDED = ("rg3 verify: ", "sub references: ")


def rows(folder: Path, config: str) -> list[dict]:
    table = pq.read_table(sorted((folder / config).glob("*.parquet")))
    return sorted(table.to_pylist(), key=lambda r: r["id"])


def scrub(value):
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if k not in TIMINGS | CACHE_COUNTS}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def diff(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a:
                yield f"{path}.{k}: only after = {json.dumps(b[k])[:200]}"
            elif k not in b:
                yield f"{path}.{k}: only before = {json.dumps(a[k])[:200]}"
            else:
                yield from diff(a[k], b[k], f"{path}.{k}")
    elif a != b:
        yield f"{path}: {json.dumps(a)[:200]} != {json.dumps(b)[:200]}"


def compare(before: Path, after: Path) -> list[str]:
    problems = []
    configs_a = sorted(p.name for p in before.iterdir() if p.is_dir() and p.name != "plots")
    configs_b = sorted(p.name for p in after.iterdir() if p.is_dir() and p.name != "plots")
    if configs_a != configs_b:
        problems.append(f"configs differ: {configs_a} vs {configs_b}")
    for config in sorted(set(configs_a) & set(configs_b)):
        ra, rb = rows(before, config), rows(after, config)
        same = ra == rb
        print(
            f"  {config:<18} {len(ra):>5} rows before, {len(rb):>5} after: "
            f"{'identical' if same else 'DIFFERENT'}"
        )
        if not same:
            problems.append(f"{config}: rows differ")
    sa = scrub(json.loads((before / "stats.json").read_text()))
    sb = scrub(json.loads((after / "stats.json").read_text()))
    stat_diffs = []
    for d in diff(sa, sb, "stats"):
        added = any(f".counts.{a}" in d for a in ADDED) and ": only after = " in d
        print(f"  {d}{'   (added count)' if added else ''}")
        if not added:
            stat_diffs.append(d)
    return problems + [f"stats differ ({len(stat_diffs)})"] * bool(stat_diffs)


def main() -> int:
    before, after = Path(sys.argv[1]), Path(sys.argv[2])
    bad = []
    for name in sorted(p.name for p in before.iterdir() if p.is_dir()):
        print(f"{name}:")
        bad += [f"{name}: {p}" for p in compare(before / name, after / name)]
    print(
        "\n".join(bad)
        if bad
        else "all configs identical; stats equal apart from timings, cache counters and the "
        "added counts"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

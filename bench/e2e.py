"""End to end: a demo build with a fresh cache, wall time per stage, and the share of it
spent outside the engine.

Builds a recipe (default: the steperror demo, every stage of the weak-to-strong recipe)
with an empty request cache, in this process, timing each stage (the runner's own
counters, as stats.json has them), each engine start, and every ``Engine.generate`` call
inside each stage. Outside the engine = build wall time - engine starts - generation:
prompt rendering, segmentation, verification, filters, parquet, card and plots (target
under 10%).

    .venv/bin/python bench/e2e.py [--recipe recipes/steperror/demo.yaml] [--limit 6]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from supdata.build import build
from supdata.core.stats import StageStats
from supdata.engines.base import Engine
from supdata.engines.registry import Engines
from supdata.recipe import load_recipe

REPO = Path(__file__).resolve().parents[1]


class Clock:
    """Engine time per stage: wraps generate(), engine start and the stage context."""

    def __init__(self) -> None:
        self.stage = "(outside stages)"
        self.generate: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.start: dict[str, float] = defaultdict(float)

    def install(self) -> None:
        clock = self
        enter, generate, create = StageStats.__enter__, Engine.generate, Engines._create

        def stage_enter(stats: StageStats) -> StageStats:
            clock.stage = stats.name
            return enter(stats)

        def timed_generate(engine: Engine, *args, **kwargs):
            started = time.perf_counter()
            try:
                return generate(engine, *args, **kwargs)
            finally:
                clock.generate[clock.stage] += time.perf_counter() - started
                clock.calls[clock.stage] += 1

        def timed_create(engines: Engines, name: str) -> Engine:
            started = time.perf_counter()
            try:
                return create(engines, name)
            finally:
                clock.start[clock.stage] += time.perf_counter() - started

        StageStats.__enter__ = stage_enter  # type: ignore[method-assign]
        Engine.generate = timed_generate  # type: ignore[method-assign]
        Engines._create = timed_create  # type: ignore[method-assign]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default=str(REPO / "recipes" / "steperror" / "demo.yaml"))
    parser.add_argument("--limit", type=int, default=6, help="problems (the demo has 12)")
    args = parser.parse_args()

    recipe = load_recipe(args.recipe)
    clock = Clock()
    clock.install()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        stats = build(
            recipe, Path(tmp) / recipe.name, limit=args.limit, cache_path=Path(tmp) / "c.sqlite"
        )
        wall = time.perf_counter() - started

    print(f"{recipe.name}, {args.limit} problems, fresh request cache")
    print(f"{'stage':<24}{'wall s':>9}{'engine start':>14}{'generate':>10}{'calls':>7}{'other':>9}")
    for name, s in stats["stages"].items():
        gen, start = clock.generate.get(name, 0.0), clock.start.get(name, 0.0)
        print(
            f"{name:<24}{s['seconds']:>9.1f}{start:>14.1f}{gen:>10.1f}{clock.calls.get(name, 0):>7}"
            f"{s['seconds'] - gen - start:>9.1f}"
        )
    stage_s = sum(s["seconds"] for s in stats["stages"].values())
    gen, start = sum(clock.generate.values()), sum(clock.start.values())
    outside = wall - gen - start
    print(f"{'publish etc.':<24}{wall - stage_s:>9.1f}")
    print(f"build wall time {wall:.1f}s = engine start {start:.1f}s + generate {gen:.1f}s + other")
    print(
        f"share outside the engine: {outside / wall:.3f} of the wall time "
        f"({outside:.1f}s; target < 0.10); excluding engine start from the total: "
        f"{outside / (wall - start):.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""End to end: a demo build with a fresh cache, wall time per stage, the share of it
spent outside the engine, and its generation time against the same requests in one batch.

Builds a recipe (default: the steperror demo, every stage of the weak-to-strong recipe)
with an empty request cache, in this process, timing each stage (the runner's own
counters, as stats.json has them), each engine start, and every ``Engine.generate`` call
inside each stage. Outside the engine = build wall time - engine starts - generation:
prompt rendering, segmentation, verification, filters, parquet, card and plots (target
under 10%).

Then the lower bound: every request the build sent (its request log, with each
request's effective seed) is replayed on the same, already started engine as one batch
with no dependencies and no cache. ``generation / replay`` is how far the stage-by-stage
build is from a saturated engine (issue 24's target: <= 1.3 at 48 problems). The engine
is started before the build, so neither figure includes its start.

    .venv/bin/python bench/e2e.py [--recipe recipes/steperror/demo.yaml] [--limit 6]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from supdata.build import build
from supdata.core.stats import StageStats
from supdata.engines import BACKENDS, Request, SamplingParams
from supdata.engines.base import Engine, derived_seed
from supdata.engines.cache import sample_key
from supdata.engines.registry import BackendPool, Engines
from supdata.recipe import load_recipe

REPO = Path(__file__).resolve().parents[1]


class Clock:
    """Engine time per stage: wraps generate(), engine start and the stage context."""

    def __init__(self) -> None:
        self.stage = "(outside stages)"
        self.generate: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.start: dict[str, float] = defaultdict(float)
        self.sent: list[tuple[Engine, Request]] = []  # every request, with its seed

    def install(self) -> None:
        clock = self
        enter, generate, create = StageStats.__enter__, Engine.generate, Engines._create

        def stage_enter(stats: StageStats) -> StageStats:
            clock.stage = stats.name
            return enter(stats)

        def timed_generate(engine: Engine, *args, **kwargs):
            for r in args[0]:
                seed = (
                    r.sampling.seed if r.sampling.seed is not None else derived_seed(engine.seed, r)
                )
                clock.sent.append((engine, replace(r, sampling=replace(r.sampling, seed=seed))))
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


def replay(clock: Clock) -> tuple[float, int, int]:
    """The build's requests as one batch per engine on the same started backends, no
    cache (each distinct request once); returns seconds, requests, output tokens."""
    seconds, count, tokens = 0.0, 0, 0
    by_backend: dict[int, tuple[Engine, list[Request]]] = {}
    seen: set[str] = set()
    for engine, request in clock.sent:
        key = sample_key(engine.fingerprint, request, request.sampling.seed)
        if key in seen:
            continue
        seen.add(key)
        by_backend.setdefault(id(engine.backend), (engine, []))[1].append(request)
    for engine, requests in by_backend.values():
        fresh = Engine(engine.backend, cache=None, seed=engine.seed, name="replay")
        started = time.perf_counter()
        out = GENERATE(fresh, requests, progress=False)
        seconds += time.perf_counter() - started
        count += len(requests)
        tokens += sum(sum(c.output_tokens) for c in out)
    return seconds, count, tokens


GENERATE = Engine.generate  # the unwrapped front door, for the replay


def warm(recipe, pool: BackendPool) -> None:
    """Start every engine of the recipe in ``pool`` before the build (the build reuses
    them), so neither the build's generation time nor the replay includes a start."""
    for config in recipe.engines.values():
        backend = pool.get(config, lambda config=config: BACKENDS[config.kind](config))
        probe = Request(
            ({"role": "user", "content": "Say hi."},), SamplingParams(max_tokens=1, seed=0)
        )
        list(backend.stream([probe]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default=str(REPO / "recipes" / "steperror" / "demo.yaml"))
    parser.add_argument("--limit", type=int, default=6, help="problems (the demo has 12)")
    args = parser.parse_args()

    recipe = load_recipe(args.recipe)
    clock = Clock()
    clock.install()
    with tempfile.TemporaryDirectory() as tmp, BackendPool() as pool:
        warm(recipe, pool)
        started = time.perf_counter()
        stats = build(
            recipe,
            Path(tmp) / recipe.name,
            limit=args.limit,
            cache_path=Path(tmp) / "c.sqlite",
            backends=pool,
        )
        wall = time.perf_counter() - started
        replay_s, replayed, replay_tokens = replay(clock)

    print(f"{recipe.name}, {args.limit} problems, fresh request cache, engines started before")
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
    built_tokens = stats["usage"]["total"]["output_tokens"]
    print(
        f"generation: {sum(clock.calls.values())} calls, {len(clock.sent)} requests, "
        f"{built_tokens} output tokens in {gen:.1f}s ({built_tokens / max(gen, 1e-9):.0f} tok/s)"
    )
    print(
        f"replay as one batch: {replayed} requests, {replay_tokens} output tokens in "
        f"{replay_s:.1f}s ({replay_tokens / max(replay_s, 1e-9):.0f} tok/s)"
    )
    print(f"ratio build generation / one-batch replay: {gen / replay_s:.2f} (target <= 1.3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

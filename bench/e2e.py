"""End to end: demo builds with a fresh cache, how long the engine was busy, and that
generation time against the same requests sent as one batch.

Builds each recipe (default: the steperror demo at 12 and 48 problems and the critique
demo) with an empty request cache, in this process, once per build mode: ``flow`` (every
stage at once, each taking its inputs as they land, all submitting to one engine: the
default) and ``stages`` (one stage after the other, ``runner.flow: false``, the old way).
It times each stage (the runner's own counters, as stats.json has them), each engine
start, and every ``Engine.generate`` call. Generation time is the wall time during which
at least one call was in flight (calls of concurrent stages overlap; their sum would
count the same seconds twice). Outside the engine = build wall time - engine starts -
generation: prompt rendering, segmentation, verification, filters, parquet, card and
plots.

Then the lower bound: every request the build sent (its request log, with each
request's effective seed) is replayed on the same, already started engine as one batch
with no dependencies and no cache. ``generation / replay`` is how far the build is from
a saturated engine (issue 24's target: <= 1.3 at 48 problems). The engine is started
before the builds, so no figure includes its start.

    .venv/bin/python bench/e2e.py [--runs steperror:12,critique:8] [--modes flow,stages]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from supdata.build import build
from supdata.core.stats import running_stage
from supdata.engines import BACKENDS, Request, SamplingParams
from supdata.engines.base import Engine, derived_seed
from supdata.engines.cache import sample_key
from supdata.engines.registry import BackendPool, Engines
from supdata.recipe import load_recipe

REPO = Path(__file__).resolve().parents[1]


class Clock:
    """Engine time per stage and in all: wraps generate() and engine start; the stage is
    the one running in the calling thread (stages of a flow build run in their own)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.generate: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.start: dict[str, float] = defaultdict(float)
        self.spans: list[tuple[float, float]] = []  # every generate call, start and end
        self.sent: list[tuple[Engine, Request]] = []  # every request, with its seed
        self.lock = threading.Lock()

    def busy(self) -> float:
        """Seconds during which at least one generate call was in flight."""
        total, end = 0.0, float("-inf")
        for a, b in sorted(self.spans):
            if b > end:
                total += b - max(a, end)
                end = b
        return total

    def install(self) -> None:
        clock = self
        generate, create = Engine.generate, Engines._create

        def stage() -> str:
            running = running_stage()
            return running.name if running is not None else "(outside stages)"

        def timed_generate(engine: Engine, *args, **kwargs):
            with clock.lock:
                for r in args[0]:
                    seed = r.sampling.seed
                    seed = derived_seed(engine.seed, r) if seed is None else seed
                    clock.sent.append((engine, replace(r, sampling=replace(r.sampling, seed=seed))))
            started = time.perf_counter()
            try:
                return generate(engine, *args, **kwargs)
            finally:
                ended = time.perf_counter()
                with clock.lock:
                    clock.generate[stage()] += ended - started
                    clock.calls[stage()] += 1
                    clock.spans.append((started, ended))

        def timed_create(engines: Engines, name: str) -> Engine:
            started = time.perf_counter()
            try:
                return create(engines, name)
            finally:
                clock.start[stage()] += time.perf_counter() - started

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


RECIPES = {
    "steperror": REPO / "recipes" / "steperror" / "demo.yaml",
    "critique": REPO / "recipes" / "critique" / "demo.yaml",
}


def one(  # noqa: PLR0917
    recipe_path: Path, limit: int, flow: bool, pool: BackendPool, clock: Clock, window: int | None
) -> dict:
    """One build with a fresh cache in ``flow`` or stage-by-stage mode, and its replay."""
    recipe = load_recipe(recipe_path)
    runner = {"flow": flow} | ({"window": window} if window else {})
    recipe = recipe.model_copy(update={"runner": recipe.runner.model_copy(update=runner)})
    clock.reset()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        stats = build(
            recipe,
            Path(tmp) / recipe.name,
            limit=limit,
            cache_path=Path(tmp) / "c.sqlite",
            backends=pool,
        )
        wall = time.perf_counter() - started
        replay_s, replayed, replay_tokens = replay(clock)
    gen, start = clock.busy(), sum(clock.start.values())
    mode = "flow" if flow else "stages"
    print(f"\n{recipe.name}, {limit} problems, {mode}, fresh request cache, engines started before")
    print(f"{'stage':<28}{'wall s':>9}{'generate':>10}{'calls':>7}")
    for name, s in stats["stages"].items():
        print(
            f"{name:<28}{s['seconds']:>9.1f}{clock.generate.get(name, 0.0):>10.1f}"
            f"{clock.calls.get(name, 0):>7}"
        )
    outside = wall - gen - start
    built_tokens = stats["usage"]["total"]["output_tokens"]
    print(
        f"build wall time {wall:.1f}s = engine start {start:.1f}s + generation {gen:.1f}s + other"
    )
    print(f"share outside the engine: {outside / wall:.3f} of the wall time ({outside:.1f}s)")
    print(
        f"generation: {sum(clock.calls.values())} calls, {len(clock.sent)} requests, "
        f"{built_tokens} output tokens, engine busy {gen:.1f}s "
        f"({built_tokens / max(gen, 1e-9):.0f} tok/s)"
    )
    print(
        f"replay as one batch: {replayed} requests, {replay_tokens} output tokens in "
        f"{replay_s:.1f}s ({replay_tokens / max(replay_s, 1e-9):.0f} tok/s)"
    )
    ratio = gen / replay_s
    print(f"ratio build generation / one-batch replay: {ratio:.2f} (target <= 1.3 at 48 problems)")
    return {
        "recipe": recipe.name,
        "limit": limit,
        "mode": mode,
        "wall": wall,
        "generation": gen,
        "replay": replay_s,
        "ratio": ratio,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs",
        default="steperror:12,steperror:48,critique:8",
        help="recipe:problems, comma-separated (recipes: steperror, critique, or a path)",
    )
    parser.add_argument("--modes", default="flow,stages", help="flow, stages or both")
    parser.add_argument(
        "--window", type=int, default=None, help="runner.window (default: the recipe's)"
    )
    args = parser.parse_args()

    runs = []
    for item in args.runs.split(","):
        name, _, limit = item.rpartition(":")
        runs.append((RECIPES.get(name, Path(name)), int(limit)))
    modes = [m.strip() for m in args.modes.split(",")]
    clock = Clock()
    clock.install()
    results = []
    with BackendPool() as pool:
        for path, _ in runs:
            warm(load_recipe(path), pool)
        for path, limit in runs:
            for mode in modes:
                results.append(one(path, limit, mode == "flow", pool, clock, args.window))
    print("\nsummary: generation wall time / one-batch replay, same engine, same run")
    print(
        f"{'recipe':<20}{'problems':>9}{'mode':>8}{'build s':>9}{'gen s':>8}"
        f"{'replay s':>9}{'ratio':>7}"
    )
    for r in results:
        print(
            f"{r['recipe']:<20}{r['limit']:>9}{r['mode']:>8}{r['wall']:>9.1f}{r['generation']:>8.1f}"
            f"{r['replay']:>9.1f}{r['ratio']:>7.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

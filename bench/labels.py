"""Step-label cost: Monte-Carlo estimation vs binary search, prefix caching on vs off.

On the same real ProcessBench gsm8k solutions (>= --min-steps steps, a seeded sample;
reference answers from GSM8K's test set), with the embedded model on vLLM and no request
cache (every rollout generated), prints per labelled solution: engine requests, rollouts,
prompt tokens, prefix-cache hits, generated tokens and wall time, for full MC and for
binary search, each with vLLM's prefix caching on and off (two engines, one after the
other, in this run). Then a prefill-only pass (the MC probes with max_tokens=1) on both
engines isolates prefill time: the prefix-caching ratio.

Targets (issue 22): binary search <= 0.5x the rollouts of full MC on solutions of >= 6
steps; prefix caching cuts prefill time by >= 2x.

    .venv/bin/python bench/labels.py [--solutions 8] [--rollouts 4] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from supdata.core.stats import StageStats
from supdata.engines import Engine, EngineConfig
from supdata.engines.vllm_backend import VllmBackend
from supdata.eval.labels import label_pairs
from supdata.ops.labels import BinarySearchSource, McSource, RolloutCost, run_sources
from supdata.ops.labels.rollouts import RolloutSettings, run_probes
from supdata.sources.match import reference_index
from supdata.verify import VerifyConfig

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def pick(n: int, min_steps: int, seed: int):
    refs = reference_index([DATA / "gsm8k" / "test.jsonl"], "gsm8k")
    pairs = label_pairs(DATA / "processbench" / "gsm8k.json", refs)
    long = [pt for pt in pairs if len(pt[1].steps) >= min_steps]
    import random

    random.Random(seed).shuffle(long)
    return long[:n]


def row(name: str, cost: RolloutCost, solutions: int) -> str:
    per = lambda x: f"{x / solutions:9.1f}"  # noqa: E731
    return (
        f"{name:28s} {per(cost.requests)} {per(cost.rollouts)} {per(cost.prompt_tokens)} "
        f"{per(cost.prefix_cached_tokens)} {per(cost.output_tokens)} "
        f"{cost.seconds / solutions:8.2f}s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--solutions", type=int, default=8)
    ap.add_argument("--min-steps", type=int, default=6)
    ap.add_argument("--rollouts", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    pairs = pick(args.solutions, args.min_steps, args.seed)
    steps = [len(t.steps) for _, t in pairs]
    print(f"{len(pairs)} ProcessBench gsm8k solutions, steps {min(steps)}-{max(steps)} "
          f"(mean {sum(steps) / len(steps):.1f}); N={args.rollouts} rollouts, "
          f"max_tokens={args.max_tokens}")  # fmt: skip
    verify = VerifyConfig(workers=1)
    common = {"temperature": 0.7, "max_tokens": args.max_tokens, "engine": "actor"}
    sources = [
        McSource(kind="mc", completions=args.rollouts, **common),
        BinarySearchSource(kind="binary_search", rollouts=args.rollouts, **common),
    ]
    header = (f"{'per labelled solution':28s} {'requests':>9s} {'rollouts':>9s} {'prompt':>9s} "
              f"{'cached':>9s} {'generated':>9s} {'wall':>9s}")  # fmt: skip
    results: dict[str, dict[str, RolloutCost]] = {}
    prefill: dict[str, float] = {}
    for caching in (True, False):
        label = "prefix caching on" if caching else "prefix caching off"
        config = EngineConfig(
            kind="vllm", max_model_len=2048, kv_cache_gb=2,
            engine_kwargs={"enable_prefix_caching": caching},
        )  # fmt: skip
        started = time.perf_counter()
        backend = VllmBackend(config)
        print(f"\n{label}: engine started in {time.perf_counter() - started:.1f}s")
        engine = Engine(backend, None, name="actor")
        try:
            # prefill only: every MC probe, N samples of 1 token
            probes = [(p, t, k) for p, t in pairs for k in range(len(t.steps) - 1)]
            one = RolloutSettings(n=args.rollouts, max_tokens=1, seed=args.seed + 1)
            cost = RolloutCost()
            stats = StageStats("prefill")
            run_probes(probes, engine, one, verify, cost=cost, stats=stats, desc="prefill only")
            prefill[label] = cost.seconds
            print(f"prefill only ({len(probes)} prefixes x {args.rollouts}): "
                  f"{cost.seconds:.2f}s, prompt tokens {cost.prompt_tokens}, "
                  f"prefix-cache hits {cost.prefix_cached_tokens}")  # fmt: skip
            costs: dict[str, RolloutCost] = {}
            run_sources(pairs, sources, {"actor": engine}, verify, StageStats("bench"), costs=costs)
            results[label] = costs
            print(header)
            for name, c in costs.items():
                print(row(name, c, len(pairs)))
        finally:
            backend.close()
    on, off = results["prefix caching on"], results["prefix caching off"]
    print()
    for label, costs in results.items():
        ratio = costs["binary_search"].rollouts / max(1, costs["mc"].rollouts)
        print(f"binary search / full MC rollouts ({label}): {ratio:.2f}x (target <= 0.5x)")
    speed = prefill["prefix caching off"] / max(1e-9, prefill["prefix caching on"])
    print(f"prefill time, caching off / on: {prefill['prefix caching off']:.2f}s / "
          f"{prefill['prefix caching on']:.2f}s = {speed:.2f}x (target >= 2x)")  # fmt: skip
    for name in on:
        print(
            f"{name} wall, caching off / on: {off[name].seconds:.2f}s / "
            f"{on[name].seconds:.2f}s = {off[name].seconds / max(1e-9, on[name].seconds):.2f}x"
        )


if __name__ == "__main__":
    main()

"""The Ray runner against the in-process engine: the same generation, its start-up costs.

Generates one workload (prompts x n samples, seeded) through supdata's engine front door
twice: in process (``runner: local``) and through ``runner: ray`` on a local Ray cluster
with R vLLM replicas. Prints, for each: engine / cluster start, the first generate() call
(which, on Ray, starts the R replicas) and a second one with new prompts, served by the
same replicas; and the replica processes that served the Ray engine (must be R). On a
2-core CPU replicas share the same two cores: the figure here is the overhead, not a
speed-up.

    .venv/bin/python bench/ray_runner.py [--prompts 64] [--n 4] [--max-tokens 32] [--replicas 2]
"""

from __future__ import annotations

import argparse
import sys
import time

from supdata.engines import Engine, EngineConfig, Request, SamplingParams
from supdata.engines.runner_config import RunnerConfig


def requests(start: int, count: int, n: int, max_tokens: int) -> list[Request]:
    return [
        Request(
            messages=({"role": "user", "content": f"Solve step by step: what is {i} * {i + 3}?"},),
            sampling=SamplingParams(n=n, temperature=1.0, max_tokens=max_tokens, seed=i),
            id=str(i),
        )
        for i in range(start, start + count)
    ]


def measure(make_backend, args: argparse.Namespace) -> dict[str, float]:
    started = time.perf_counter()
    engine = Engine(make_backend(), cache=None)
    start_s = time.perf_counter() - started
    times, tokens = [], 0
    for call in range(2):
        batch = requests(call * args.prompts, args.prompts, args.n, args.max_tokens)
        started = time.perf_counter()
        out = engine.generate(batch, progress=False)
        times.append(time.perf_counter() - started)
        tokens += sum(sum(c.output_tokens) for c in out)
    starts = getattr(engine.backend, "replica_starts", None)
    engine.close()
    return {
        "start": start_s,
        "first": times[0],
        "second": times[1],
        "tokens": tokens,
        "replica_starts": starts,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--replicas", type=int, default=2)
    args = parser.parse_args()
    config = EngineConfig(kind="vllm", max_model_len=1024, kv_cache_gb=1)

    def local():
        from supdata.engines.vllm_backend import VllmBackend

        return VllmBackend(config)

    def on_ray():
        from supdata.engines.ray_backend import RayBackend

        runner = RunnerConfig(kind="ray", replicas=args.replicas, address="local")
        return RayBackend(config, runner)

    results = {"local": measure(local, args), f"ray x{args.replicas}": measure(on_ray, args)}
    print(
        f"2 generate() calls of {args.prompts} prompts x n={args.n}, "
        f"max_tokens={args.max_tokens} each"
    )
    for name, r in results.items():
        gen = r["first"] + r["second"]
        print(
            f"{name:<8} start {r['start']:6.1f}s  generate #1 {r['first']:6.1f}s  "
            f"#2 {r['second']:6.1f}s  ({r['tokens'] / gen:6.1f} out tok/s incl. replica starts)"
        )
    local_r, ray_r = results["local"], results[f"ray x{args.replicas}"]
    starts = ray_r["replica_starts"]
    print(f"replica starts for the two calls: {starts} (replicas: {args.replicas})")
    print(
        f"second call ray/local wall time: {ray_r['second'] / local_r['second']:.2f}"
        f"  (both on warm engines); first call: {ray_r['first'] / local_r['first']:.2f}"
        " (ray's includes starting the replicas)"
    )
    return 0 if ray_r["replica_starts"] == args.replicas else 1


if __name__ == "__main__":
    sys.exit(main())

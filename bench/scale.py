"""Scale: whole model-free builds at 10k, 100k and 1M problems, and a build with a
generation stage on a scripted engine.

Synthesizes GSM8K-style problems (question, step-by-step answer ending ``#### N``) into a
jsonl file, then runs ``supdata.build.build`` on a recipe that goes file source ->
references (segmented, verified by math-verify in the hard-timeout pool) -> rule
perturbation -> mixtures over references (``er_grid``) -> publish, then validates the
published folder (``validate_folder``: every row against its schema). Every size runs in
a fresh process, so each peak RSS is its own: the whole process tree (the build and its
verification workers), sampled from /proc. Prints rows/s per size (stage rows written:
problems, references, perturbed, candidates, mixture rows), the per-row throughput ratio
of the largest size against the smallest (target: within 1.15x) and the peak RSS
(target < 2 GiB). ``--generate N`` also builds N problems through a ``sample`` stage on a
scripted engine (no model: a backend that answers each request at once), to show the
LLM path is bounded too (stages stream ``runner.window`` problems per engine batch);
``--steperror N`` a steperror build on it (4 samples per problem -> pairs, restyling the
reference where no sample is right -> hard_er10, hard_er50), whose pairs stage joins
source, references and samples from disk window by window.

    .venv/bin/python bench/scale.py [--sizes 10000 100000 1000000] [--generate 100000]
                                    [--steperror 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
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


RECIPE = """\
name: scale
source: {{kind: file, path: {path}, normalizer: generic}}
{engines}builders:
{builders}publish: {{license: apache-2.0}}
"""
PERTURB = """\
  - kind: perturb
    swer_grid: [0.5]
    types: [wrong_result, swap_operator]
    er_grid: [0.1, 0.5]
"""
SAMPLE = """\
  - kind: sample
    engine: actor
    n: 1
    max_tokens: 64
"""


STEPERROR = """\
  - kind: steperror
    engine: actor
    n: 4
    max_tokens: 64
    er_grid: [0.1, 0.5]
"""
QUESTION = re.compile(r"buys (\d+) boxes with (\d+) \w+ each and gives away (\d+)")


class Scripted:
    """A backend with no model: the k-th completion of a request is a short solution whose
    final answer (read off the question) is right for one (problem, k) in three, so
    verification sees both and most problems get a pair; a request that shows a
    reference solution (steperror's restyle) gets a right answer."""

    kind = "scripted"
    fingerprint = "scripted-engine"

    def stream(self, requests):
        from supdata.engines import Completion

        for i, request in enumerate(requests):
            prompt = " ".join(m["content"] for m in request.messages)
            b, a, c = map(int, QUESTION.search(prompt).groups())
            digits, n = sum(map(ord, request.id)), request.sampling.n
            texts = [
                f"Multiply, then subtract.\nThe answer is "
                f"{a * b - c if '####' in prompt or (digits + k) % 3 == 0 else a * b - c + k + 1}."
                for k in range(n)
            ]
            yield i, Completion(request.id, texts, ["stop"] * n, 12 * n, [9] * n, [False] * n)

    def close(self) -> None:
        pass


BUILDERS = {"rules": PERTURB, "generate": SAMPLE, "steperror": STEPERROR}


def one_build(path: Path, size: int, kind: str) -> dict:
    """Build (and validate) one recipe (``BUILDERS[kind]``) in this process; the peak RSS
    of its tree."""
    from supdata.build import build
    from supdata.publish.validate import validate_folder
    from supdata.recipe import load_recipe

    scripted = kind != "rules"
    if scripted:
        from supdata import engines

        engines.BACKENDS["vllm"] = lambda config: Scripted()
    tmp = path.parent
    recipe = tmp / f"scale-{size}-{kind}.yaml"
    recipe.write_text(
        RECIPE.format(
            path=path,
            engines="engines:\n  actor: {kind: vllm}\n" if scripted else "",
            builders=BUILDERS[kind],
        )
    )
    out = tmp / f"out-{size}-{kind}"
    peak = TreeRss()
    started = time.perf_counter()
    stats = build(load_recipe(recipe), out, use_cache=False, force=True)
    built = time.perf_counter()
    counts = validate_folder(out)
    ended = time.perf_counter()
    peak.stop()
    stages = stats["stages"]
    return {
        "problems": size,
        "rows": sum(s["out"] for s in stages.values()),  # every stage's records, on disk
        "published": sum(counts.values()),
        "configs": counts,
        "seconds": built - started,
        "validate_seconds": ended - built,
        "stage_seconds": {name: s.get("seconds") for name, s in stages.items()},
        "tree_rss_mib": peak.tree_mib,
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_child(path: Path, size: int, kind: str) -> dict:
    cmd = [sys.executable, __file__, "--one", str(path), "--size", str(size), "--kind", kind]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def report(label: str, r: dict) -> None:
    stages = ", ".join(f"{k} {v:.0f}s" for k, v in r["stage_seconds"].items() if v is not None)
    print(
        f"{label:>22}: {r['rows'] / r['seconds']:8.0f} rows/s ({r['rows']} stage rows, "
        f"{r['published']} published, {r['seconds']:.0f}s build + {r['validate_seconds']:.0f}s "
        f"validate)  peak RSS of the tree {r['tree_rss_mib']:.0f} MiB  [{stages}]",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--generate", type=int, default=100_000, help="0: skip")
    parser.add_argument(
        "--steperror", type=int, default=100_000, help="a scripted steperror build; 0: skip"
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child: one build
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--kind", choices=sorted(BUILDERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_build(Path(args.one), args.size, args.kind)))
        return 0

    results, scripted = {}, {}
    wanted = {"generate": args.generate, "steperror": args.steperror}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sorted({*args.sizes, *(n for n in wanted.values() if n)}):
            path = Path(tmp) / f"problems-{size}.jsonl"
            synthesize(path, size)
            if size in args.sizes:
                results[size] = run_child(path, size, "rules")
                report(f"{size} problems", results[size])
            for kind, n in wanted.items():
                if size == n:
                    scripted[kind] = run_child(path, size, kind)
                    report(f"{size} {kind}", scripted[kind])
        if len(results) > 1:
            small, large = min(results), max(results)
            rate = {s: r["rows"] / r["seconds"] for s, r in results.items()}
            print(
                f"per-row time, {large} vs {small} problems: {rate[small] / rate[large]:.3f}x  "
                "(target <= 1.15)"
            )
        if results:
            peak = max(r["tree_rss_mib"] for r in results.values())
            print(f"peak RSS of the process tree over all sizes: {peak:.0f} MiB  (target < 2048)")
        for kind, r in scripted.items():
            print(
                f"{kind} on a scripted engine ({r['problems']} problems): "
                f"peak RSS {r['tree_rss_mib']:.0f} MiB  (target < 2048)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

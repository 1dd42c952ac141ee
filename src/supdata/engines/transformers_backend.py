"""transformers fallback, for platforms without vLLM.

A small decode loop over left-padded batches instead of ``generate()``: each sample
draws from its own ``torch.Generator`` seeded ``seed + i``, so a sample's text does
not depend on which other samples share its batch (up to float rounding).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from supdata.engines.config import EngineConfig
from supdata.engines.models import resolve_model
from supdata.engines.prompts import encode
from supdata.engines.quiet import quiet_start
from supdata.engines.types import Completion, Request, SamplingParams


@dataclass
class _Seq:
    request: int
    sample: int
    prompt: list[int]
    params: SamplingParams
    seed: int | None
    tokens: list[int] = field(default_factory=list)
    text: str = ""
    finish: str | None = None


class TransformersBackend:
    kind = "transformers"

    def __init__(self, config: EngineConfig) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = resolve_model(config)
        self.fingerprint = model.fingerprint("transformers")
        self.torch = torch
        device = config.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        dtype = config.dtype
        if dtype == "auto":
            dtype = "bfloat16" if self.device.type == "cuda" else "float32"
        with quiet_start(f"transformers ({model.model_id})"):
            self.tokenizer = AutoTokenizer.from_pretrained(model.path, revision=config.revision)
            self.model = AutoModelForCausalLM.from_pretrained(
                model.path,
                revision=config.revision,
                dtype=getattr(torch, dtype),
                **config.engine_kwargs,
            ).to(self.device)
        self.model.eval()
        self.batch_size = config.batch_size
        self.max_model_len = config.max_model_len
        self.eos = set(_as_list(self.model.generation_config.eos_token_id)) | set(
            _as_list(self.tokenizer.eos_token_id)
        )
        self.pad = self.tokenizer.pad_token_id
        if self.pad is None:
            self.pad = next(iter(self.eos), 0)

    def stream(self, requests: Sequence[Request]) -> Iterator[tuple[int, Completion]]:
        seqs: list[_Seq] = []
        for k, r in enumerate(requests):
            if r.sampling.structured is not None:
                raise ValueError(
                    f"request {r.id!r}: structured output needs the vllm or openai engine"
                )
            prompt = encode(self.tokenizer, r)
            if self.max_model_len is not None and len(prompt) >= self.max_model_len:
                yield k, Completion.unanswered(r, len(prompt))
                continue
            for i in range(r.sampling.n):
                seed = None if r.sampling.seed is None else r.sampling.seed + i
                seqs.append(_Seq(k, i, prompt, r.sampling, seed))
        left = [r.sampling.n for r in requests]
        done: dict[int, list[_Seq]] = {}
        # Similar lengths together: less padding.
        order = sorted(seqs, key=lambda s: len(s.prompt))
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            self._decode(batch)
            for s in batch:
                done.setdefault(s.request, []).append(s)
                left[s.request] -= 1
                if left[s.request] == 0:
                    yield s.request, _completion(requests[s.request].id, done.pop(s.request))

    def _decode(self, batch: list[_Seq]) -> None:
        torch = self.torch
        width = max(len(s.prompt) for s in batch)
        ids = torch.full((len(batch), width), self.pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for b, s in enumerate(batch):
            ids[b, width - len(s.prompt) :] = torch.tensor(s.prompt)
            mask[b, width - len(s.prompt) :] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        gens = []
        for s in batch:
            g = torch.Generator(device=self.device)
            g.manual_seed(s.seed if s.seed is not None else torch.seed())
            gens.append(g)
        budget = max(s.params.max_tokens for s in batch)
        if self.max_model_len is not None:
            budget = min(budget, self.max_model_len - width)
        past, step_ids = None, ids
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            for _ in range(max(budget, 0)):
                out = self.model(
                    input_ids=step_ids,
                    attention_mask=mask,
                    position_ids=positions,
                    past_key_values=past,
                    use_cache=True,
                )
                past = out.past_key_values
                logits = out.logits[:, -1, :].float()
                nxt = torch.full((len(batch),), self.pad, dtype=torch.long, device=self.device)
                for b, s in enumerate(batch):
                    if s.finish is None:
                        nxt[b] = _sample(torch, logits[b], s.params, gens[b])
                        self._advance(s, int(nxt[b]))
                if all(s.finish is not None for s in batch):
                    break
                step_ids = nxt[:, None]
                mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
                positions = positions[:, -1:] + 1
        for s in batch:
            if s.finish is None:
                s.finish = "length"
                s.text = self.tokenizer.decode(s.tokens, skip_special_tokens=True)

    def _advance(self, s: _Seq, token: int) -> None:
        if token in self.eos:
            s.finish = "stop"
            s.text = self.tokenizer.decode(s.tokens, skip_special_tokens=True)
            return
        s.tokens.append(token)
        if s.params.stop:
            text = self.tokenizer.decode(s.tokens, skip_special_tokens=True)
            hits = [text.find(x) for x in s.params.stop if x in text]
            if hits:
                s.finish, s.text = "stop", text[: min(hits)]
                return
        if len(s.tokens) >= s.params.max_tokens:
            s.finish = "length"
            s.text = self.tokenizer.decode(s.tokens, skip_special_tokens=True)

    def close(self) -> None:
        self.model = None


def _sample(torch, logits, params: SamplingParams, generator) -> int:
    if params.temperature == 0:
        return int(torch.argmax(logits))
    logits = logits / params.temperature
    if params.top_k > 0:
        kth = torch.topk(logits, min(params.top_k, logits.numel())).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if params.top_p < 1:
        sorted_probs, idx = torch.sort(probs, descending=True)
        keep = sorted_probs.cumsum(-1) - sorted_probs < params.top_p
        probs = torch.zeros_like(probs).scatter(0, idx[keep], sorted_probs[keep])
    return int(torch.multinomial(probs, 1, generator=generator))


def _completion(request_id: str, seqs: list[_Seq]) -> Completion:
    seqs = sorted(seqs, key=lambda s: s.sample)
    return Completion(
        request_id=request_id,
        texts=[s.text for s in seqs],
        finish_reasons=[s.finish for s in seqs],
        prompt_tokens=len(seqs[0].prompt),
        output_tokens=[len(s.tokens) for s in seqs],
        cached=[False] * len(seqs),
        cached_prompt_tokens=None,
    )


def _as_list(x) -> list[int]:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]

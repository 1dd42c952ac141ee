"""Issue 16, engines: credentials in base_url go nowhere but the Authorization header; the
OpenAI-compatible engine has a total deadline per request and honours Retry-After (all
against real local sockets); killing a build leaves no vLLM process behind."""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from supdata.engines import Engine, EngineConfig, Request, RequestCache
from supdata.engines.openai_backend import EngineRequestError, OpenAIBackend, retry_after_seconds

QUESTION = ({"role": "user", "content": "What is 6 times 7?"},)
OK_BODY = json.dumps(
    {
        "choices": [{"index": 0, "message": {"content": "42"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1},
    }
).encode()


def _response(status: str, body: bytes = OK_BODY, headers: dict[str, str] | None = None) -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Content-Type: application/json"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class SocketServer:
    """A real TCP server on loopback; ``handle(conn, request_bytes, index)`` answers each
    connection's first request however a test wants (or never)."""

    def __init__(self, handle: Callable[[socket.socket, bytes, int], None]) -> None:
        self.handle = handle
        self.requests: list[tuple[float, bytes]] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            while len(body) < length:
                body += conn.recv(65536)
            self.requests.append((time.monotonic(), head + b"\r\n\r\n" + body))
            with contextlib.suppress(OSError):  # the client gave up: what these tests want
                self.handle(conn, head, len(self.requests) - 1)

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., SocketServer]]:
    servers: list[SocketServer] = []

    def start(handle):
        servers.append(SocketServer(handle))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def _engine(url: str, cache: RequestCache | None = None, **kw) -> Engine:
    return Engine(OpenAIBackend(EngineConfig(kind="openai", model="m", base_url=url, **kw)), cache)


# -- item 7: a total deadline per request ----------------------------------------------


def test_a_server_that_trickles_bytes_is_cut_at_the_attempt_limit(serve):
    def trickle(conn, head, i):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        for _ in range(300):  # one byte every 0.1 s: the per-read timeout never fires
            conn.sendall(b" ")
            time.sleep(0.1)

    server = serve(trickle)
    engine = _engine(server.url, timeout_s=1.5, max_retries=0)
    started = time.monotonic()
    with pytest.raises(
        EngineRequestError, match=r"request 'q' .* failed after 1 attempts; last error timeout"
    ):
        engine.generate([Request(messages=QUESTION, id="q")], progress=False)
    assert time.monotonic() - started < 4


def test_a_server_that_never_answers_fails_at_the_deadline(serve):
    server = serve(lambda conn, head, i: time.sleep(60))
    engine = _engine(server.url, timeout_s=1, max_retries=100, deadline_s=3)
    started = time.monotonic()
    with pytest.raises(EngineRequestError, match=r"deadline_s 3"):
        engine.generate([Request(messages=QUESTION, id="q")], progress=False)
    elapsed = time.monotonic() - started
    assert 1.5 < elapsed < 4  # stops when the next try would pass the deadline
    assert 2 <= len(server.requests) <= 3  # retried within the deadline, then stopped


def test_default_deadline_is_ten_minutes():
    config = EngineConfig(kind="openai", base_url="http://h/v1")
    assert config.deadline_s == 600 and config.timeout_s <= config.deadline_s


# -- item 7: Retry-After on 429 / 503 ---------------------------------------------------


@pytest.mark.parametrize("status", ["429 Too Many Requests", "503 Service Unavailable"])
def test_retry_after_is_honoured(serve, status):
    def busy_then_ok(conn, head, i):
        if i == 0:
            conn.sendall(_response(status, b"busy", {"Retry-After": "2"}))
        else:
            conn.sendall(_response("200 OK"))

    server = serve(busy_then_ok)
    (out,) = _engine(server.url).generate([Request(messages=QUESTION, id="q")], progress=False)
    assert out.texts == ["42"]
    (t0, _), (t1, _) = server.requests
    assert t1 - t0 >= 1.9  # the backoff alone would wait 0.25-0.75 s


def test_retry_after_beyond_the_deadline_fails_at_once(serve):
    server = serve(
        lambda conn, head, i: conn.sendall(_response("429 Too Many", b"", {"Retry-After": "3600"}))
    )
    started = time.monotonic()
    with pytest.raises(EngineRequestError, match=r"next wait \(3600\.0s\) passes the deadline"):
        _engine(server.url).generate([Request(messages=QUESTION, id="q")], progress=False)
    assert time.monotonic() - started < 5 and len(server.requests) == 1


def test_retry_after_http_date():
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


# -- item 5: credentials in base_url ----------------------------------------------------


def test_credentials_in_base_url_are_sent_as_basic_auth_and_written_nowhere(serve, tmp_path):
    from supdata.recipe import load_recipe

    server = serve(lambda conn, head, i: conn.sendall(_response("200 OK")))
    port = server.url.split(":")[2].split("/")[0]
    url = f"http://user:s3cr%40t@127.0.0.1:{port}/v1"
    cache = RequestCache(tmp_path / "cache.sqlite")
    engine = _engine(url, cache)
    (out,) = engine.generate([Request(messages=QUESTION, id="q")], progress=False)
    assert out.texts == ["42"]
    ((_, raw),) = server.requests
    expected = base64.b64encode(b"user:s3cr@t").decode()
    headers = dict(
        line.split(": ", 1) for line in raw.split(b"\r\n\r\n")[0].decode().split("\r\n")[1:]
    )
    assert {k.lower(): v for k, v in headers.items()}["authorization"] == f"Basic {expected}"
    assert b"s3cr" not in raw.replace(expected.encode(), b"")  # only in the header
    # the fingerprint (rows' model field, the cache keys) has no credentials
    assert engine.fingerprint == f"openai:m@http://127.0.0.1:{port}/v1"
    cache.close()
    db = sqlite3.connect(tmp_path / "cache.sqlite")
    dumped = "\n".join(db.iterdump())
    db.close()
    assert "s3cr" not in dumped and "user:" not in dumped
    # the recipe dump (recipe.yaml, the card) has none either
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "name: x\nsource: {kind: reasoning_gym, name: gsm_symbolic, size: 4}\n"
        f"engines:\n  critic: {{kind: openai, base_url: '{url}'}}\n"
    )
    loaded = load_recipe(recipe)
    dumped = json.dumps(loaded.model_dump(mode="json"))
    assert "s3cr" not in dumped and f"http://127.0.0.1:{port}/v1" in dumped
    assert loaded.engines["critic"].base_url == url  # still there for the requests


def test_credentials_do_not_change_the_cache_key(serve, tmp_path):
    server = serve(lambda conn, head, i: conn.sendall(_response("200 OK")))
    port = server.url.split(":")[2].split("/")[0]
    cache = RequestCache(tmp_path / "cache.sqlite")
    request = Request(messages=QUESTION, id="q")
    _engine(f"http://a:one@127.0.0.1:{port}/v1", cache).generate([request], progress=False)
    (again,) = _engine(f"http://b:two@127.0.0.1:{port}/v1", cache).generate(
        [request], progress=False
    )
    assert again.cached == [True] and len(server.requests) == 1


def test_error_messages_hide_credentials(serve):
    server = serve(
        lambda conn, head, i: conn.sendall(_response("500 Internal Server Error", b"no"))
    )
    port = server.url.split(":")[2].split("/")[0]
    engine = _engine(f"http://user:hunter2@127.0.0.1:{port}/v1", max_retries=0)
    with pytest.raises(EngineRequestError) as info:
        engine.generate([Request(messages=QUESTION, id="q")], progress=False)
    assert "hunter2" not in str(info.value)


# -- item 6: killing the build leaves no vLLM process ----------------------------------

ORPHAN_RECIPE = """\
name: orphans
source: {kind: reasoning_gym, name: gsm_symbolic, size: 4, seed: 1}
engines:
  actor: {kind: vllm, model: default, max_model_len: 1024, kv_cache_gb: 1}
builders:
  - {kind: sample, engine: actor, n: 64, max_tokens: 512}
"""


def _title(p) -> str:
    import psutil

    try:
        return " ".join(p.cmdline())
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return ""


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM"])
def test_killing_the_build_leaves_no_engine_process(tmp_path, sig):
    """The real `supdata build` with the real vLLM engine (CPU build, embedded model) is
    killed while it generates; every process it started is gone within 10 s."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    import psutil

    pytest.importorskip("vllm")
    recipe = tmp_path / "orphans.yaml"
    recipe.write_text(ORPHAN_RECIPE)
    script = Path(sys.executable).parent / "supdata"
    env = {**os.environ, "SUPDATA_CACHE": str(tmp_path / "cache.sqlite")}
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(Path("src").resolve()), env.get("PYTHONPATH")])
    )
    log = (tmp_path / "build.log").open("w")
    build = subprocess.Popen(
        [str(script), "build", str(recipe), "--out", str(tmp_path / "out")],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # so a failed test can clean up its group
    )
    main = psutil.Process(build.pid)
    tree: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 600
        while True:
            assert build.poll() is None, (tmp_path / "build.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "vLLM did not start in 10 minutes"
            titles = [_title(p) for p in main.children(recursive=True)]
            if any(t.startswith("VLLM::Worker") for t in titles):
                break  # the engine core has started its worker
            time.sleep(0.5)
        time.sleep(5)  # the engine is generating
        tree = main.children(recursive=True)
        names = [_title(p) for p in tree]
        assert any(n.startswith("VLLM::EngineCore") for n in names), names
        os.kill(build.pid, getattr(signal, sig))
        build.wait(30)
        killed = time.monotonic()
        while time.monotonic() - killed < 10 and any(p.is_running() for p in tree):
            time.sleep(0.2)
        left = [_title(p) or p.name() for p in tree if p.is_running()]
        assert left == [], f"still running 10 s after {sig}: {left}"
        assert any("reap()" in n for n in names), names  # the build's reaper did it
    finally:  # a failed test leaves nothing either
        if main.is_running():
            tree += [main, *main.children(recursive=True)]
        for p in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
        log.close()


# -- item 8: request cache files that are not caches, and a full disk --------------------


def test_cache_on_a_file_that_is_not_sqlite_is_a_clear_error(tmp_path):
    from supdata.engines.cache import CacheError

    path = tmp_path / "notes.txt"
    path.write_text("my thesis\n" * 100)
    with pytest.raises(CacheError, match=rf"request cache {path}: not a supdata request cache"):
        RequestCache(path)
    assert path.read_text() == "my thesis\n" * 100  # untouched
    with pytest.raises(CacheError, match="is a folder"):
        RequestCache(tmp_path)


def test_cache_on_another_sqlite_database_leaves_it_alone(tmp_path):
    from supdata.engines.cache import CacheError

    path = tmp_path / "app.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE users (name TEXT)")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(CacheError, match=r"something else \(tables: \['users'\]\)"):
        RequestCache(path)
    assert path.read_bytes() == before


def test_a_full_disk_while_caching_is_a_clear_error_and_keeps_what_was_stored(tmp_path):
    from supdata.engines.cache import CachedSample, CacheError

    cache = RequestCache(tmp_path / "cache.sqlite")
    cache.put_many("e", {"a": CachedSample("kept", "stop", 1, 1)})
    pages = cache._db.execute("PRAGMA page_count").fetchone()[0]
    cache._db.execute(f"PRAGMA max_page_count={pages + 2}")  # the disk fills up here
    big = {f"k{i}": CachedSample("x" * 20000, "stop", 1, 1) for i in range(10)}
    with pytest.raises(
        CacheError, match=r"cannot store 10 sample\(s\) \(database or disk is full\)"
    ):
        cache.put_many("e", big)
    assert cache.get_many(["a", "k0"]) == {"a": CachedSample("kept", "stop", 1, 1)}
    cache.close()


def test_a_whole_build_writes_the_credentials_nowhere(serve, tmp_path):
    """`build` with an openai engine whose base_url holds user:secret: the published folder,
    the work folder and the request cache hold no trace of the secret."""
    from supdata.build import build
    from supdata.recipe import load_recipe

    answer = json.dumps(
        {
            "choices": [
                {
                    "index": i,
                    "message": {"content": "6 x 7 = 42\nSo \\boxed{42}"},
                    "finish_reason": "stop",
                }
                for i in range(2)
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 8},
        }
    ).encode()
    server = serve(lambda conn, head, i: conn.sendall(_response("200 OK", answer)))
    port = server.url.split(":")[2].split("/")[0]
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "name: creds\nsource: {kind: reasoning_gym, name: gsm_symbolic, size: 3, seed: 1}\n"
        f"engines:\n  actor: {{kind: openai, model: m, base_url: 'http://bob:Sup3rSecret@127.0.0.1:{port}/v1'}}\n"
        "builders:\n  - {kind: sample, engine: actor, n: 2, max_tokens: 64}\n"
        "verification: {workers: 0}\n"
    )
    out = tmp_path / "out"
    build(load_recipe(recipe), out, cache_path=tmp_path / "cache.sqlite")
    assert (out / "README.md").is_file() and server.requests
    leaks = [
        str(p)
        for p in tmp_path.rglob("*")
        if p.is_file() and p != recipe and b"Sup3rSecret" in p.read_bytes()
    ]
    assert leaks == []
    assert f"127.0.0.1:{port}" in (out / "recipe.yaml").read_text()

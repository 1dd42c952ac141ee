"""A process pool with a hard per-item deadline.

math-verify's SIGALRM timeouts do not fire while sympy sits in a long C call (say, a
power tower), and ``multiprocessing.Pool`` cannot kill one stuck task. Here each worker
answers items one by one over its own pipe, so the parent knows which item a worker is
on and since when; past the deadline it kills that worker, records the item as
``timeout`` and hands the rest of the chunk to a fresh worker.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

_READY = "__ready__"


def _worker_loop(conn: Connection, fn: Callable[..., Any]) -> None:
    conn.send(_READY)
    while True:
        chunk = conn.recv()
        if chunk is None:
            return
        for index, args in chunk:
            conn.send((index, fn(*args)))


@dataclass
class _Worker:
    process: Any
    conn: Connection
    ready: bool = False
    chunk: list[tuple[int, tuple]] = field(default_factory=list)
    answered: int = 0
    since: float = 0.0  # when the current item started

    @property
    def busy(self) -> bool:
        return self.answered < len(self.chunk)


class HardTimeoutPool:
    """Map ``fn`` over argument tuples in worker processes, in order, with a hard deadline.

    ``on_timeout(args, detail)`` builds the result for an item that was killed. Only a
    bounded window of items is held in memory, so inputs can be arbitrarily long.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        on_timeout: Callable[[tuple, str], Any],
        *,
        workers: int,
        timeout_s: float,
        chunk_size: int = 8,
        preload: Iterable[str] = (),
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self._fn = fn
        self._on_timeout = on_timeout
        self._n = workers
        self._timeout = timeout_s
        self._chunk_size = chunk_size
        self._ctx = mp.get_context("forkserver")
        self._ctx.set_forkserver_preload(list(preload))
        self._workers: list[_Worker] = []
        self.killed = 0

    def __enter__(self) -> HardTimeoutPool:
        self._workers = [self._spawn() for _ in range(self._n)]
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for w in self._workers:
            with contextlib.suppress(BrokenPipeError, OSError):
                w.conn.send(None)
        for w in self._workers:
            w.process.join(timeout=2)
            if w.process.is_alive():
                w.process.kill()
                w.process.join()
            w.conn.close()
        self._workers = []

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=_worker_loop, args=(child, self._fn), daemon=True)
        process.start()
        child.close()
        return _Worker(process=process, conn=parent)

    def _replace(self, worker: _Worker) -> None:
        worker.process.kill()
        worker.process.join()
        worker.conn.close()
        self._workers[self._workers.index(worker)] = self._spawn()
        self.killed += 1

    def map(self, items: Iterable[tuple]) -> Iterator[Any]:
        """Yield ``fn(*args)`` for each item, in input order."""
        if not self._workers:
            raise RuntimeError("use the pool inside a `with` block")
        source = enumerate(items)
        todo: deque[list[tuple[int, tuple]]] = deque()
        results: dict[int, Any] = {}
        next_out = 0
        exhausted = False
        window = self._n * self._chunk_size * 8

        while True:
            # Yield first: that frees room in the window, and the refill below must see it
            # before waiting (else, with every worker idle, the wait sleeps its full second).
            while next_out in results:
                yield results.pop(next_out)
                next_out += 1
            in_flight = sum(len(w.chunk) - w.answered for w in self._workers)
            queued = sum(len(c) for c in todo)
            while not exhausted and in_flight + queued + len(results) < window:
                chunk = [x for _, x in zip(range(self._chunk_size), source, strict=False)]
                if not chunk:
                    exhausted = True
                    break
                todo.append(chunk)
                queued += len(chunk)
            for w in self._workers:
                if w.ready and not w.busy and todo:
                    w.chunk, w.answered, w.since = todo.popleft(), 0, time.monotonic()
                    w.conn.send(w.chunk)
            if exhausted and not todo and not any(w.busy for w in self._workers) and not results:
                return
            self._wait(todo, results)

    def _wait(self, todo: deque, results: dict[int, Any]) -> None:
        now = time.monotonic()
        busy = [w for w in self._workers if w.busy]
        deadline = min((w.since + self._timeout for w in busy), default=now + 1.0)
        ready = wait([w.conn for w in self._workers], timeout=max(0.0, deadline - now))
        for w in list(self._workers):
            if w.conn not in ready:
                continue
            try:
                msg = w.conn.recv()
            except (EOFError, OSError):
                w.process.join(timeout=1)
                why = f"worker died (exit code {w.process.exitcode})"
                self._fail_current(w, todo, results, why)
                continue
            if msg == _READY:
                w.ready = True
                continue
            index, result = msg
            results[index] = result
            w.answered += 1
            w.since = time.monotonic()
        now = time.monotonic()
        for w in list(self._workers):
            if w.busy and now - w.since > self._timeout:
                self._fail_current(w, todo, results, f"killed after {self._timeout:g}s")

    def _fail_current(self, w: _Worker, todo: deque, results: dict[int, Any], why: str) -> None:
        if w.busy:
            index, args = w.chunk[w.answered]
            results[index] = self._on_timeout(args, why)
            rest = w.chunk[w.answered + 1 :]
            if rest:
                todo.appendleft(rest)
        self._replace(w)

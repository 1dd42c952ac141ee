"""A CPU-time budget for one verification, so that a busy machine cannot change a verdict.

math-verify's own timeouts are ``signal.alarm``: wall-clock, whole seconds, so under load
a slow comparison flips between ``incorrect`` and ``timeout`` from run to run. Here the
budget counts the CPU time of this process (``ITIMER_PROF``: user + system), which other
processes on the machine do not consume. A signal handler can only interrupt Python
bytecode; a long C call (a sympy power tower) is left to the pool's hard kill.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator


class SoftTimeout(BaseException):
    """The CPU budget ran out. A BaseException, so that no ``except Exception`` inside
    math-verify or sympy swallows it."""


def _on_prof(signum: int, frame: object) -> None:
    raise SoftTimeout


@contextlib.contextmanager
def cpu_budget(seconds: float) -> Iterator[None]:
    """Raise ``SoftTimeout`` inside the block once it has used ``seconds`` of CPU time.

    Outside the main thread signals cannot be used: the block then runs unbounded (the
    pool's hard kill still applies to workers, which run in their main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGPROF, _on_prof)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


@contextlib.contextmanager
def big_ints() -> Iterator[None]:
    """Lift Python's 4,300-digit limit on int <-> str conversion inside the block (sympy
    parses integer literals with ``int(str)``), restoring it after. Safe here because the
    CPU budget bounds the quadratic conversion time the limit guards against."""
    before = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(before)

"""Worker functions for pool tests; a module of their own so worker processes import them."""

from __future__ import annotations

import signal
import time


def square(x: int) -> int:
    return x * x


def stubborn(x: int) -> int:
    """Hangs on negative input, deaf to SIGALRM like a C call that never yields."""
    if x < 0:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        while True:
            time.sleep(0.05)
    return x * x


def crash(x: int) -> int:
    if x == 13:
        import os

        os._exit(3)
    return x


def on_timeout(args: tuple, detail: str) -> str:
    return f"timeout: {detail}"

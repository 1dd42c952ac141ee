"""Keep the terminal for supdata's own lines: engine start-up output goes to a log file.

vLLM, torch and transformers print hundreds of lines while an engine starts (Triton,
NUMA, tcmalloc, "Enforce eager set", FutureWarning), many from C++ or from vLLM's child
processes, which Python logging cannot reach. So while an engine starts, this process's
stdout and stderr file descriptors point at the log file: the children it spawns keep
writing there for their whole life, and this process gets its terminal back once the
engine is up. ``SUPDATA_ENGINE_LOG`` names the file (set by ``supdata build``, inside
the build's work folder); unset, or with ``--verbose`` (``SUPDATA_VERBOSE=1``), nothing
is redirected. A failed start re-raises its error, whose message names the log; the
log goes with the work folder once a build succeeds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("supdata.engines")
_announced: set[str] = set()


def engine_log() -> Path | None:
    if os.environ.get("SUPDATA_VERBOSE") == "1":
        return None
    path = os.environ.get("SUPDATA_ENGINE_LOG")
    return Path(path) if path else None


@contextlib.contextmanager
def quiet_start(what: str, *, stop: bool = False) -> Iterator[None]:
    """Run an engine start with stdout/stderr (fds 1 and 2) sent to the engine log.
    ``stop``: an engine shutting down after its build (a model shared by several builds)
    has no log left; its farewell lines are dropped unless ``--verbose``."""
    path = engine_log()
    if path is None and stop and os.environ.get("SUPDATA_VERBOSE") != "1":
        path = Path(os.devnull)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if str(path) not in _announced and path != Path(os.devnull):
        _announced.add(str(path))
        log.info("engine logs (vLLM, torch, transformers): %s", path)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.open("ab") as f:
        f.write(f"--- starting {what}\n".encode())
        f.flush()
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
    try:
        yield
    except BaseException as exc:
        _restore(saved)
        raise RuntimeError(f"{what} failed: {exc} (engine log: {path})") from exc
    _restore(saved)


def _restore(saved: tuple[int, int]) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(saved[0], 1)
    os.dup2(saved[1], 2)
    os.close(saved[0])
    os.close(saved[1])

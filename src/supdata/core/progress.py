"""Progress bars that know about concurrent stages.

One stage at a time, a long step (an engine call, a verification pass) shows its own
tqdm bar. When stages run together (``runner.flow``), their bars would overwrite each
other; the runner opens a ``board`` instead: one line that lists every active stage with
the records it has written so far and the step it is on (``samples 23 rows, actor
31/48 req 180 tok/s | perturb 4 rows, verify 12``), refreshed twice a second. ``bar()``
returns a tqdm bar or, inside a stage of a board, a task shown on the board's line.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from tqdm import tqdm

from supdata.core.stats import running_stage

_BOARD: list[Board] = []


class Task:
    """What a stage is doing now, shown on the board (tqdm's update/postfix/close)."""

    def __init__(self, desc: str, total: int | None, unit: str) -> None:
        self.desc = desc
        self.total = total
        self.unit = unit
        self.n = 0
        self.postfix = ""
        self.closed = False

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix_str(self, text: str, refresh: bool = False) -> None:
        self.postfix = text

    def close(self) -> None:
        self.closed = True

    def __str__(self) -> str:
        of = f"/{self.total}" if self.total is not None else ""
        tail = f" {self.postfix}" if self.postfix else ""
        return f"{self.desc} {self.n}{of} {self.unit}{tail}"


class Board:
    """The line of a flow build: stages done, and each active stage with its task."""

    def __init__(self, names: list[str], rows: Callable[[str], int], done: Callable[[str], bool]):
        self.names = names
        self.rows = rows
        self.done = done
        self.tasks: dict[str, list[Task]] = {}  # per stage, its steps running now

    def line(self) -> str:
        active = []
        for name in self.names:
            if self.done(name):
                continue
            doing = "".join(f", {t}" for t in self.tasks.get(name, ()) if not t.closed)
            active.append(f"{name} {self.rows(name)} rows{doing}")
        return " | ".join(active)

    def finished(self) -> int:
        return sum(self.done(n) for n in self.names)


@contextlib.contextmanager
def board(
    names: list[str], rows: Callable[[str], int], done: Callable[[str], bool]
) -> Iterator[Board]:
    """Show one line for the stages ``names`` while the block runs (a terminal only)."""
    shown = Board(names, rows, done)
    line = tqdm(total=len(names), desc="stages", unit="stage", disable=None, dynamic_ncols=True)
    stop = threading.Event()

    def refresh() -> None:
        while not stop.wait(0.5):
            line.n = shown.finished()
            line.set_postfix_str(shown.line())

    painter = threading.Thread(target=refresh, name="progress board", daemon=True)
    if not line.disable:
        painter.start()
    _BOARD.append(shown)
    try:
        yield shown
    finally:
        _BOARD.remove(shown)
        stop.set()
        if painter.is_alive():
            painter.join()
        line.n = shown.finished()
        line.close()


def bar(desc: str, total: int | None = None, unit: str = "it", **kwargs: Any) -> Any:
    """A tqdm bar, or inside a stage of an open board, that stage's task on the board."""
    stage = running_stage()
    if _BOARD and stage is not None and kwargs.get("disable") is not True:
        task = Task(desc, total, unit)
        tasks = _BOARD[-1].tasks.setdefault(stage.name, [])
        tasks[:] = [*(t for t in tasks if not t.closed), task]  # a stage's steps at once
        return task
    return tqdm(total=total, desc=desc, unit=unit, disable=kwargs.pop("disable", None), **kwargs)

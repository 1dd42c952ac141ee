"""Joins of stages on disk by problem, without loading either side.

Every stage derived from another writes its records in the order of the records it came
from (samples in source order, window by window; references in source order; pairs in
problem order), so two stages join like sorted runs: walk both, one record of each in
memory. A record out of that order is an error, never a silent miss.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from supdata.core import store


class Follow:
    """Walk a stream whose keys come in the order they will be asked for (a stage
    derived from another, record by record): ``seek`` skips to a key, ``take`` returns
    the run of records at the head with a key. The head is read when first needed, so
    nothing waits on a stage still being written before it must."""

    def __init__(self, records: Iterable[Any], key: Callable[[Any], str], what: str) -> None:
        self._it = iter(records)
        self._ready = getattr(self._it, "ready", None)  # a stage still being written
        self._marked = getattr(self._it, "marked", None)
        self._key = key
        self._what = what
        self._head: Any = _UNREAD

    def _peek(self, done: tuple[str, int] | None = None) -> Any:
        """The head record (None at the end). With ``done`` = (driver, position): if
        the stream's stage is done with ``driver`` past that position (its watermark)
        and the next record has not landed, ``_UNREAD``: no more records for it come."""
        if self._head is _UNREAD:
            # the mark first: past it, every record for the position is written, so none
            # landed then means all were read (not-landed first, then a mark, would miss
            # the records written in between)
            marked = done is not None and self._marked is not None
            if marked and self._marked(done[0]) > done[1] and not self._ready(0.0):
                return _UNREAD
            self._head = next(self._it, None)
        return self._head

    def take(self, key: str, done: tuple[str, int] | None = None) -> list[Any]:
        """The records at the head whose key is ``key`` (none: []); ``done`` (driver,
        position of ``key`` in it) lets a stage still being written answer without its
        next record (``_peek``)."""
        run = []
        while True:
            head = self._peek(done)
            if head is _UNREAD or head is None or self._key(head) != key:
                return run
            run.append(head)
            self._head = _UNREAD

    def seek(self, key: str) -> Any:
        """The next record with ``key``, skipping those before it."""
        while (head := self._peek()) is not None and self._key(head) != key:
            self._head = _UNREAD
        if head is None:
            raise LookupError(f"{self._what}: no record {key!r} at or after this point")
        self._head = _UNREAD
        return head

    def rest(self) -> Iterator[Any]:
        """What was never taken or skipped to, in order."""
        head = self._peek()
        if head is not None:
            yield head
            yield from self._it
        self._head = None

    def ready(self, wait_s: float = 0.0) -> bool:
        """Whether reading on would not wait for a stage still being written."""
        return self._ready is None or self._head is not _UNREAD or self._ready(wait_s)

    def finish(self) -> None:
        """Raise if a record was never taken: its key came out of order (or matches
        nothing), so a join that ended here would have missed it silently."""
        head = self._peek()
        if head is not None:
            raise LookupError(
                f"{self._what}: record {self._key(head)!r} was never joined; its key "
                "is out of the order of the records it joins, or joins none of them"
            )


_UNREAD = object()


# How long a window waits for the next record of a stage still being written before it
# goes with what it has: records land in bursts (a stage writes an engine batch's records
# in one go), so this keeps a burst in one window without holding a window back.
LINGER_S = 0.05


def windows(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """``items`` ``size`` at a time: how a stage streams a stage on disk through an
    engine, one large batch per window. Over a stage still being written (a flow build),
    a window also ends where the records that have landed so far end: the stage works on
    what it has while the rest is made, and its rows do not depend on where windows end.
    When the next window is asked for, the previous one's records are all written: the
    running stage's watermark on ``items`` moves (``core.store.mark``)."""
    todo = iter(items)
    ready = getattr(todo, "ready", None)
    done = 0
    while True:
        chunk = []
        while len(chunk) < size and (ready is None or not chunk or ready(LINGER_S)):
            item = next(todo, _END)
            if item is _END:
                break
            chunk.append(item)
        if not chunk:
            return
        yield chunk
        done += len(chunk)
        store.mark(items, done)


_END = object()


@dataclass
class Joined:
    """One record of the driving stage with the runs of the other stages that share its key."""

    item: Any
    runs: dict[str, list[Any]]

    def __getitem__(self, name: str) -> list[Any]:
        return self.runs[name]


def join_windows(
    items: Iterable[Any],
    key: Callable[[Any], str],
    window: int,
    **streams: tuple[Iterable[Any], Callable[[Any], str]],
) -> Iterator[list[Joined]]:
    """``window`` records of ``items`` at a time, each with the runs of ``streams``
    (name -> (records, their key)) keyed like it. Memory holds one window and its runs;
    every record of every stream must be joined (``Follow.finish``). Where a stream is a
    stage still being written, a window also ends at the last record that has landed
    (as ``windows`` does for ``items``)."""
    follows = {name: Follow(records, k, name) for name, (records, k) in streams.items()}
    driver = getattr(getattr(items, "path", None), "name", None)
    todo = iter(items)
    ready = getattr(todo, "ready", None)
    group: list[Joined] = []
    for i, x in enumerate(todo):
        done = (driver, i) if driver is not None else None
        group.append(Joined(x, {n: f.take(key(x), done) for n, f in follows.items()}))
        if (
            len(group) >= window
            or not all(f.ready(LINGER_S) for f in follows.values())
            or (ready is not None and not ready(LINGER_S))
        ):
            yield group
            group = []
            store.mark(items, i + 1)  # every record of the problems up to x is written
    if group:
        yield group
    for f in follows.values():
        f.finish()

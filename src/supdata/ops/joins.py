"""Joins of stages on disk by problem, without loading either side.

Every stage derived from another writes its records in the order of the records it came
from (samples in source order, window by window; references in source order; pairs in
problem order), so two stages join like sorted runs: walk both, one record of each in
memory. A record out of that order is an error, never a silent miss.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any


class Follow:
    """Walk a stream whose keys come in the order they will be asked for (a stage
    derived from another, record by record): ``seek`` skips to a key, ``take`` returns
    the run of records at the head with a key."""

    def __init__(self, records: Iterable[Any], key: Callable[[Any], str], what: str) -> None:
        self._it = iter(records)
        self._key = key
        self._what = what
        self._head = next(self._it, None)

    def take(self, key: str) -> list[Any]:
        """The records at the head whose key is ``key`` (none: [])."""
        run = []
        while self._head is not None and self._key(self._head) == key:
            run.append(self._head)
            self._head = next(self._it, None)
        return run

    def seek(self, key: str) -> Any:
        """The next record with ``key``, skipping those before it."""
        while self._head is not None and self._key(self._head) != key:
            self._head = next(self._it, None)
        if self._head is None:
            raise LookupError(f"{self._what}: no record {key!r} at or after this point")
        found, self._head = self._head, next(self._it, None)
        return found

    def rest(self) -> Iterator[Any]:
        """What was never taken or skipped to, in order."""
        if self._head is not None:
            yield self._head
            yield from self._it
        self._head = None

    def finish(self) -> None:
        """Raise if a record was never taken: its key came out of order (or matches
        nothing), so a join that ended here would have missed it silently."""
        if self._head is not None:
            raise LookupError(
                f"{self._what}: record {self._key(self._head)!r} was never joined; its key "
                "is out of the order of the records it joins, or joins none of them"
            )


def windows(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """``items`` ``size`` at a time: how a stage streams a stage on disk through an
    engine, one large batch per window."""
    todo = iter(items)
    while chunk := list(islice(todo, size)):
        yield chunk


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
    every record of every stream must be joined (``Follow.finish``)."""
    follows = {name: Follow(records, k, name) for name, (records, k) in streams.items()}
    for chunk in windows(items, window):
        yield [Joined(x, {n: f.take(key(x)) for n, f in follows.items()}) for x in chunk]
    for f in follows.values():
        f.finish()

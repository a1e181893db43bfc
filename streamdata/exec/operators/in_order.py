"""Results of numbered tasks released in index order (the one copy of this bookkeeping).

Operators that must emit outputs in the order of their tasks (a map with
``preserve_order``, the reduce side of an all-to-all, a repartition) hand each finished
task's result to :class:`InOrder` with the task's index and emit what it releases.

Example:
    >>> q = InOrder()
    >>> q.add(1, "b"), q.add(0, "a"), q.add(2, "c")
    ([], ['a', 'b'], ['c'])
    >>> len(q)
    0
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class InOrder(Generic[T]):
    """Holds results that arrived before an earlier index's; releases them in order."""

    __slots__ = ("_waiting", "_next")

    def __init__(self) -> None:
        self._waiting: dict[int, T] = {}
        self._next = 0

    def add(self, index: int, result: T) -> list[T]:
        """Record task ``index`` 's result; return the results now released, in order."""
        self._waiting[index] = result
        released: list[T] = []
        while self._next in self._waiting:
            released.append(self._waiting.pop(self._next))
            self._next += 1
        return released

    def waiting(self) -> Iterator[T]:
        """The results held back (waiting for an earlier index)."""
        return iter(self._waiting.values())

    def __len__(self) -> int:
        return len(self._waiting)

    def __bool__(self) -> bool:
        return bool(self._waiting)

    def clear(self) -> None:
        """Forget the held results (the execution is over)."""
        self._waiting.clear()

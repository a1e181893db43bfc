"""The results of a :class:`~streamdata.util.multiprocessing.pool.Pool`: ``AsyncResult`` and the
``imap`` iterators (``multiprocessing``'s names and behaviour).

A pool call runs as chunks: each chunk is one actor call returning a list of
per-item outcomes (a value, or the item's exception wrapped in :class:`ItemError`).

Example:
    >>> outcomes = [[1, 2], [ItemError(ValueError("bad"))]]
    >>> try:
    ...     flatten(outcomes)
    ... except ValueError as e:
    ...     print(e)
    bad
"""

from __future__ import annotations

import collections
import multiprocessing
import threading
import time
from typing import Any, Callable, Iterator

from streamdata.core import api


class ItemError:
    """An item's exception, carried back as a value so one bad item fails only its own result."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def flatten(chunks: list[list]) -> list:
    """The items of ``chunks`` in order; raises the first item's exception."""
    out = []
    for chunk in chunks:
        for item in chunk:
            if isinstance(item, ItemError):
                raise item.error
            out.append(item)
    return out


def _first_error(chunks: list[list]) -> BaseException | None:
    for chunk in chunks:
        for item in chunk:
            if isinstance(item, ItemError):
                return item.error
    return None


class AsyncResult:
    """The result of ``apply_async`` / ``map_async`` / ``starmap_async`` (``multiprocessing``'s).

    ``callback`` gets the result (``error_callback`` the first exception) in a
    background thread once every chunk is done.
    """

    def __init__(self, refs: list, single: bool = False, callback: Callable | None = None,
                 error_callback: Callable | None = None) -> None:
        self._refs = refs
        self._single = single
        self._chunks: list[list] | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = None
        if callback is not None or error_callback is not None:
            self._thread = threading.Thread(target=self._notify, args=(callback, error_callback), daemon=True,
                                            name="pool-result-callback")
            self._thread.start()

    def _collect(self, timeout: float | None) -> list[list] | None:
        with self._lock:
            if self._chunks is None:
                if self._refs:
                    ready, _ = api.wait(self._refs, num_returns=len(self._refs), timeout=timeout)
                    if len(ready) < len(self._refs):
                        return None
                chunks = []
                for ref in self._refs:
                    try:
                        chunks.append(api.get(ref))
                    except Exception as e:  # noqa: BLE001 - the actor died: the chunk's items failed
                        chunks.append([ItemError(e)])
                self._chunks = chunks
                self._done.set()
            return self._chunks

    def _notify(self, callback: Callable | None, error_callback: Callable | None) -> None:
        chunks = self._collect(None)
        assert chunks is not None
        error = _first_error(chunks)
        if error is not None:
            if error_callback is not None:
                error_callback(error)
        elif callback is not None:
            values = flatten(chunks)
            callback(values[0] if self._single else values)

    def wait(self, timeout: float | None = None) -> None:
        """Wait until the result is ready or ``timeout`` seconds pass (raises nothing)."""
        self._collect(timeout)

    def ready(self) -> bool:
        """Whether every chunk is done."""
        return self._collect(0) is not None

    def successful(self) -> bool:
        """Whether every item succeeded (ValueError if not ready yet)."""
        chunks = self._collect(0)
        if chunks is None:
            raise ValueError(f"{self!r} not ready")
        return _first_error(chunks) is None

    def get(self, timeout: float | None = None) -> Any:
        """The result: one value (``apply_async``) or a list; raises an item's exception.

        Raises:
            multiprocessing.TimeoutError: not ready in ``timeout`` seconds.
        """
        chunks = self._collect(timeout)
        if chunks is None:
            raise multiprocessing.TimeoutError(f"the pool's result was not ready in {timeout} s")
        if self._thread is not None:
            self._thread.join()  # callbacks run before get() returns, as multiprocessing's
        values = flatten(chunks)
        return values[0] if self._single else values


class IMapIterator:
    """The iterator of ``imap`` (``ordered``) / ``imap_unordered``: chunks are submitted as
    earlier ones finish, at most two per actor in flight, so a long or endless input
    is read lazily."""

    def __init__(self, submit: Callable[[list], Any], chunks: Iterator[list], max_in_flight: int,
                 ordered: bool) -> None:
        self._submit = submit
        self._chunks = chunks
        self._max_in_flight = max_in_flight
        self._ordered = ordered
        self._in_flight: collections.OrderedDict = collections.OrderedDict()  # ref -> chunk index
        self._done: dict[int, list] = {}
        self._next_index = 0  # the next chunk index to yield (ordered)
        self._submitted = 0
        self._exhausted = False
        self._ready: collections.deque = collections.deque()
        self._fill()

    def _fill(self) -> None:
        while not self._exhausted and len(self._in_flight) < self._max_in_flight:
            chunk = next(self._chunks, None)
            if chunk is None:
                self._exhausted = True
                return
            self._in_flight[self._submit(chunk)] = self._submitted
            self._submitted += 1

    def __iter__(self) -> "IMapIterator":
        return self

    def __next__(self) -> Any:
        return self.next()

    def next(self, timeout: float | None = None) -> Any:
        """The next result (in input order for ``imap``, as finished for ``imap_unordered``).

        Raises:
            multiprocessing.TimeoutError: none came in ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._ready:
            if not self._in_flight and not self._done:
                raise StopIteration
            if self._ordered and self._next_index in self._done:
                self._ready.extend(self._done.pop(self._next_index))
                self._next_index += 1
                continue
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _ = api.wait(list(self._in_flight), num_returns=1, timeout=left)
            if not ready:
                raise multiprocessing.TimeoutError(f"no result of the pool in {timeout} s")
            index = self._in_flight.pop(ready[0])
            try:
                chunk = api.get(ready[0])
            except Exception as e:  # noqa: BLE001 - the actor died: the chunk's items failed
                chunk = [ItemError(e)]
            self._fill()
            if self._ordered:
                self._done[index] = chunk
            else:
                self._ready.extend(chunk)
        item = self._ready.popleft()
        if isinstance(item, ItemError):
            raise item.error
        return item

"""One process-wide pool of threads for small blocking I/O on the driver (footers, listings),
and for work that releases the GIL in workers (:func:`run_beside`: Parquet encodes).

Starting threads is not free: a pool made per call paid 0.2–1.2 ms per thread, which
was most of ``count()`` on 16 Parquet files (benchmarks/PROFILES.md, "Issue 14, wave 5").
The pool is made on first use and forgotten in a forked child (its threads do not exist
there), so every process makes its own.

Example:
    >>> io_map(lambda x: x * x, [1, 2, 3])
    [1, 4, 9]
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_IO_THREADS = 16

_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def _shared_pool() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(MAX_IO_THREADS, thread_name_prefix="streamdata-io")
        return _pool


def _forget_in_child() -> None:
    global _pool, _lock
    _pool, _lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_in_child)


def io_map(fn: Callable[[T], R], items: Iterable[T], *, concurrent: bool = True) -> list[R]:
    """``[fn(x) for x in items]``, run on the shared I/O threads; the first error is raised.

    One item, or ``concurrent=False`` (local files: a footer read from the page cache
    costs less than handing it to a thread, 1.3–1.5 ms against 1.8–2.5 ms for 16), runs
    on the calling thread.
    """
    todo = list(items)
    if len(todo) <= 1 or not concurrent:
        return [fn(x) for x in todo]
    return list(_shared_pool().map(fn, todo))


def run_beside(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``[fn(x) for x in items]``: the first item on the calling thread, the others on the
    shared threads at the same time; waits for all, then raises the first error.

    The threads are the process's own, kept between calls: a pool made per call starts
    new threads, and each new thread's allocator heap starts with no pages (the memory of
    every call faulted in again).

    Example:
        >>> run_beside(lambda x: x + 1, [1, 2, 3])
        [2, 3, 4]
    """
    todo = list(items)
    if len(todo) <= 1:
        return [fn(x) for x in todo]
    futures = [_shared_pool().submit(fn, x) for x in todo[1:]]
    first: list[R] = []
    error: BaseException | None = None
    try:
        first.append(fn(todo[0]))
    except BaseException as exc:  # noqa: BLE001 - raised after the others finished
        error = exc
    rest: list[R] = []
    for future in futures:
        try:
            rest.append(future.result())
        except BaseException as exc:  # noqa: BLE001
            error = error or exc
    if error is not None:
        raise error
    return first + rest

"""One process-wide pool of threads for small blocking I/O on the driver (footers, listings).

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

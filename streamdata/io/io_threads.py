"""One process-wide pool of threads for small blocking I/O on the driver (footers, listings).

Starting threads is not free: a pool made per call paid 0.2–1.2 ms per thread, which
was most of ``count()`` on 16 Parquet files (benchmarks/PROFILES.md, "Issue 14, wave 5").
The pool is made on first use and forgotten in a forked child (its threads do not exist
there), so every process makes its own (:class:`ProcessThreadPool`, which the driver's
pool in :mod:`streamdata.execution.thread_pool` uses too).

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

class ProcessThreadPool:
    """A ``ThreadPoolExecutor`` made on first use and kept for the process; a forked child
    makes its own (the parent's threads do not exist there).

    Example:
        >>> pool = ProcessThreadPool(2, "example")
        >>> pool.get() is pool.get()
        True
    """

    _all: list[ProcessThreadPool] = []

    def __init__(self, max_workers: int, thread_name_prefix: str) -> None:
        self.max_workers = max_workers
        self.thread_name_prefix = thread_name_prefix
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        ProcessThreadPool._all.append(self)

    def get(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix=self.thread_name_prefix)
            return self._pool

    @classmethod
    def _forget_in_child(cls) -> None:
        for pool in cls._all:
            pool._pool, pool._lock = None, threading.Lock()


os.register_at_fork(after_in_child=ProcessThreadPool._forget_in_child)

_IO_POOL = ProcessThreadPool(MAX_IO_THREADS, "streamdata-io")


def io_map(fn: Callable[[T], R], items: Iterable[T], *, concurrent: bool = True) -> list[R]:
    """``[fn(x) for x in items]``, run on the shared I/O threads; the first error is raised.

    One item, or ``concurrent=False`` (local files: a footer read from the page cache
    costs less than handing it to a thread, 1.3–1.5 ms against 1.8–2.5 ms for 16), runs
    on the calling thread.
    """
    todo = list(items)
    if len(todo) <= 1 or not concurrent:
        return [fn(x) for x in todo]
    return list(_IO_POOL.get().map(fn, todo))

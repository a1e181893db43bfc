"""One process-wide pool of threads for the work the driver runs itself (small reads and
joins on its threads, :mod:`~streamdata.execution.driver_read`).

Starting a thread costs 0.3–0.4 ms here; a pool made per query paid it for every
thread, every query (0.8 ms of an 18 ms group-by, benchmarks/PROFILES.md, "Issue 14,
wave 13"). This pool keeps its threads: a submission runs on an idle thread, and a new
one starts only when none is idle. It never queues work behind busy threads, so a
thread of it may wait for another submission to it without a deadlock; how many run at
once is the caller's to bound. The pool is forgotten in a forked child (its threads do
not exist there).

Example:
    >>> shared_thread_pool().submit(sum, [1, 2, 3]).result()
    6
    >>> shared_thread_pool() is shared_thread_pool()
    True
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

#: high enough that a submission never waits for a busy thread (idle ones are reused)
_NEVER_QUEUE = 1 << 16

_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def shared_thread_pool() -> ThreadPoolExecutor:
    """The process's pool (made on first use); its threads outlive the call."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_NEVER_QUEUE, thread_name_prefix="streamdata-driver")
        return _pool


def _forget_in_child() -> None:
    global _pool, _lock
    _pool, _lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_in_child)

__all__ = ["shared_thread_pool"]

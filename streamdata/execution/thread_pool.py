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

from concurrent.futures import ThreadPoolExecutor

from streamdata.io.io_threads import ProcessThreadPool

#: high enough that a submission never waits for a busy thread (idle ones are reused)
_NEVER_QUEUE = 1 << 16

_DRIVER_POOL = ProcessThreadPool(_NEVER_QUEUE, "streamdata-driver")


def shared_thread_pool() -> ThreadPoolExecutor:
    """The process's pool (made on first use); its threads outlive the call."""
    return _DRIVER_POOL.get()


__all__ = ["shared_thread_pool"]

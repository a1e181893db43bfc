"""Wait for a process tree to go quiet before its steady-state repetitions are timed.

An engine's start-up does not end when its ``init`` returns: worker processes keep
importing, forking and connecting for a while (streamdata's workers' template imports
pandas and pyarrow for ~0.6 s of CPU after ``import streamdata``; Ray starts its workers on
first use). A workload of a few milliseconds then times its "steady" repetitions beside
that start-up, on a machine with two CPUs. The first repetition and the end-to-end time
keep every start-up cost; the repetitions after it are timed once the tree is quiet, the
same way for every engine, so they measure what they are named for.

Example:
    >>> is_quiet(cpu_s=0.004, window_s=0.1, busy_fraction=0.2)
    True
    >>> is_quiet(cpu_s=0.09, window_s=0.1, busy_fraction=0.2)
    False
"""

from __future__ import annotations

import os
import time

import psutil

#: the most a process tree is waited for (an engine with busy background processes never goes quiet)
MAX_SETTLE_S = 3.0
#: the window CPU time is measured over
WINDOW_S = 0.1
#: quiet: the tree used less than this fraction of one CPU over a window
BUSY_FRACTION = 0.2


def is_quiet(*, cpu_s: float, window_s: float, busy_fraction: float) -> bool:
    """Whether ``cpu_s`` seconds of CPU over ``window_s`` of wall time is quiet."""
    return cpu_s < busy_fraction * window_s


def tree_cpu_s(root: psutil.Process) -> float:
    """CPU seconds (user + system) used so far by ``root`` and every live descendant."""
    total = 0.0
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return total
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.Error:  # exited between the listing and the read
            continue
        total += times.user + times.system
    return total


def wait_until_quiet(pid: int | None = None, *, max_s: float = MAX_SETTLE_S, window_s: float = WINDOW_S,
                     busy_fraction: float = BUSY_FRACTION) -> float:
    """Block until the tree of ``pid`` (default: this process) is quiet for one window,
    or ``max_s`` has passed; the seconds waited."""
    root = psutil.Process(pid or os.getpid())
    start = time.perf_counter()
    before = tree_cpu_s(root)
    while time.perf_counter() - start < max_s:
        time.sleep(window_s)
        now = tree_cpu_s(root)
        if is_quiet(cpu_s=max(0.0, now - before), window_s=window_s, busy_fraction=busy_fraction):
            break
        before = now
    return round(time.perf_counter() - start, 3)


__all__ = ["BUSY_FRACTION", "MAX_SETTLE_S", "WINDOW_S", "is_quiet", "tree_cpu_s", "wait_until_quiet"]

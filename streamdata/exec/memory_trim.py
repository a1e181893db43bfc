"""Returns the memory Arrow freed to the OS once a worker has grown by a threshold.

Arrow's default allocator (mimalloc in the pyarrow wheels) keeps pages it freed for
reuse, and per thread: a task that reads a 20 MiB Parquet file with the reader's
threads, maps it and writes it leaves about twice its peak allocation resident
after everything was freed (measured: Arrow's pool at 0 bytes allocated, 100-115 MiB
private in its arena). Every worker then holds its own high-water mark, on top of the
blocks the memory budget counts. ``MemoryPool.release_unused()`` hands those pages
back (a few ms); doing that after every block would cost small blocks more than it
saves, so :class:`ArrowMemoryTrim` does it only once the process's resident memory
has grown by ``threshold_bytes`` over its size after the last release (reading the
resident size costs microseconds). Map tasks call :func:`after_block` (one trim per
process, kept across tasks: what a task left behind is what the next one finds).

The threshold follows the execution's memory budget (:func:`threshold_for_budget`): a
release is not free either — the pages handed back are faulted in again by the next
task that allocates (a task reading and writing 200k rows paid 20–35% more CPU when it
started from released memory, benchmarks/PROFILES.md "Issue 14, wave 6"). With a small
budget a worker keeps at most 32 MiB above its last release; with the default budget
(half the object store) up to 256 MiB, an eighth of the budget's share per CPU.

Example:
    >>> sizes = iter([100, 120, 200, 90, 110])
    >>> released = []
    >>> trim = ArrowMemoryTrim(50, resident=lambda: next(sizes), release=lambda: released.append(1))
    >>> [trim.after_block() for _ in range(3)], len(released)
    ([False, True, False], 1)
"""

from __future__ import annotations

import os
from typing import Callable

#: growth of a worker's resident memory that makes it hand back what Arrow freed (the
#: smallest threshold :func:`threshold_for_budget` gives)
DEFAULT_THRESHOLD_BYTES = 32 * 2**20
#: the largest threshold :func:`threshold_for_budget` gives
MAX_THRESHOLD_BYTES = 256 * 2**20
#: a worker may keep this share of the memory budget's part per CPU before it releases
BUDGET_SHARE = 1 / 8

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def should_release(resident: int, baseline: int, threshold: int) -> bool:
    """Whether a process that is at ``resident`` bytes, ``baseline`` after its last
    release, hands back what its allocator keeps.

    Example:
        >>> should_release(180 << 20, 100 << 20, 32 << 20), should_release(110 << 20, 100 << 20, 32 << 20)
        (True, False)
    """
    return resident - baseline >= threshold


def threshold_for_budget(budget_bytes: float, cpus: float) -> int:
    """The growth that makes a worker release, for an execution with a memory budget of
    ``budget_bytes`` on ``cpus`` CPUs: :data:`BUDGET_SHARE` of the budget per CPU, between
    :data:`DEFAULT_THRESHOLD_BYTES` and :data:`MAX_THRESHOLD_BYTES` (an unknown or infinite
    budget gives the largest).

    Example:
        >>> MIB = 2**20
        >>> threshold_for_budget(40 * MIB, 2) // MIB, threshold_for_budget(1024 * MIB, 2) // MIB
        (32, 64)
        >>> threshold_for_budget(float("inf"), 2) // MIB
        256
    """
    if not budget_bytes > 0:  # 0, negative or NaN: no budget known
        return DEFAULT_THRESHOLD_BYTES
    per_cpu = budget_bytes * BUDGET_SHARE / max(1.0, float(cpus))
    return int(max(DEFAULT_THRESHOLD_BYTES, min(MAX_THRESHOLD_BYTES, per_cpu)))


def resident_bytes() -> int:
    """This process's resident memory (0 where ``/proc`` is not there: never trims).

    Example:
        >>> resident_bytes() >= 0
        True
    """
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def release_arrow_memory() -> None:
    """Hand back to the OS what Arrow's default memory pool freed and keeps."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


class ArrowMemoryTrim:
    """Calls ``release`` after a block when the process grew by ``threshold_bytes``
    since it was created or last released.

    Args:
        threshold_bytes: growth of the resident size that triggers a release.
        resident: the process's resident bytes now.
        release: hands the allocator's kept pages back.
    """

    def __init__(self, threshold_bytes: int = DEFAULT_THRESHOLD_BYTES,
                 resident: Callable[[], int] = resident_bytes,
                 release: Callable[[], None] = release_arrow_memory) -> None:
        self._threshold = threshold_bytes
        self._resident = resident
        self._release = release
        self._baseline = resident()

    @property
    def threshold_bytes(self) -> int:
        return self._threshold

    def after_block(self, threshold_bytes: int | None = None) -> bool:
        """Release if the process grew enough (by ``threshold_bytes`` when given, which
        becomes the threshold from now on); returns whether it did."""
        if threshold_bytes is not None:
            self._threshold = threshold_bytes
        now = self._resident()
        if not should_release(now, self._baseline, self._threshold):
            self._baseline = min(self._baseline, now)
            return False
        self._release()
        self._baseline = self._resident()
        return True


_process_trim: ArrowMemoryTrim | None = None


def after_block(threshold_bytes: int | None = None) -> bool:
    """The process's :class:`ArrowMemoryTrim`, after a block was produced (or a task
    ended); returns whether it released memory.

    Args:
        threshold_bytes: the growth that makes it release (the task's
            ``TaskContext.memory_trim_bytes``); None keeps the process's current one.

    Example:
        >>> isinstance(after_block(), bool)
        True
    """
    global _process_trim
    if _process_trim is None:
        _process_trim = ArrowMemoryTrim(threshold_bytes or DEFAULT_THRESHOLD_BYTES)
        return False
    return _process_trim.after_block(threshold_bytes)

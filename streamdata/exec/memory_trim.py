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

numpy's arrays come from the C library's ``malloc``, whose own heuristics hand large freed
blocks back at once: glibc serves an allocation above its mmap threshold (128 KiB at
first, raised up to 32 MiB by what was freed) with a fresh mapping, and trims the top of
its heap beyond twice that. A task making many short-lived arrays of a few MiB (a sort:
its key, packed words, row order) then faults every page in again each time (measured on
the sort workload: 2,200 minor faults per worker and per run, +3.5 ms of CPU per merge
task). :func:`tune_libc_malloc` makes such arrays come from the heap, which keeps up to
the same threshold of freed memory, and a release trims the heap too, so the growth the
policy allows is the same for both allocators.

The threshold follows the execution's object-store budget (:func:`threshold_for_budget`):
a release makes the next task's allocations fault their pages in again, which on the
benchmark writes (tasks of ~50 MiB of Arrow memory, back to back) cost 20–28% of the
workers' CPU when every task released (benchmarks/PROFILES.md, "Issue 14, wave 7"). A
worker may keep an eighth of the budget per CPU (32–256 MiB): under a small budget
(``larger_than_memory``: 80 MiB) it still releases after about every task, under the
default one it keeps its pages for the next task.

Example:
    >>> sizes = iter([100, 120, 200, 90, 110])
    >>> released = []
    >>> trim = ArrowMemoryTrim(50, resident=lambda: next(sizes), release=lambda: released.append(1))
    >>> [trim.after_block() for _ in range(3)], len(released)
    ([False, True, False], 1)
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Any, Callable

#: growth of a worker's resident memory that makes it hand back what Arrow freed (the least)
DEFAULT_THRESHOLD_BYTES = 32 * 2**20
#: the most a worker keeps, whatever the budget
MAX_THRESHOLD_BYTES = 256 * 2**20
#: the share of the object-store budget per CPU a worker may keep
BUDGET_SHARE_PER_CPU = 1 / 8

#: arrays up to this size come from glibc's heap (reused when freed), not a fresh mapping
HEAP_ALLOCATION_LIMIT = 32 * 2**20

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters (glibc's malloc.h)
_glibc: Any = None


def _libc() -> Any:
    """glibc's malloc functions (None elsewhere: musl, macOS, Windows)."""
    global _glibc
    if _glibc is None:
        _glibc = False
        if sys.platform.startswith("linux"):
            try:
                lib = ctypes.CDLL(None)
            except OSError:
                lib = None
            if lib is not None and hasattr(lib, "gnu_get_libc_version") and hasattr(lib, "mallopt"):
                _glibc = lib
    return _glibc or None


def tune_libc_malloc(threshold_bytes: int) -> bool:
    """Make glibc's malloc serve allocations up to :data:`HEAP_ALLOCATION_LIMIT` from its
    heap and keep up to ``threshold_bytes`` of freed memory at its top (for the next task)
    instead of unmapping it; returns whether it could (glibc only).

    Example:
        >>> isinstance(tune_libc_malloc(32 * 2**20), bool)
        True
    """
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, HEAP_ALLOCATION_LIMIT)) and \
        bool(libc.mallopt(_M_TRIM_THRESHOLD, int(threshold_bytes)))


def should_release(resident: int, baseline: int, threshold: int) -> bool:
    """Whether a process that is at ``resident`` bytes, ``baseline`` after its last
    release, hands back what its allocator keeps.

    Example:
        >>> should_release(180 << 20, 100 << 20, 32 << 20), should_release(110 << 20, 100 << 20, 32 << 20)
        (True, False)
    """
    return resident - baseline >= threshold


def threshold_for_budget(budget_bytes: float, num_cpus: float) -> int:
    """The growth that makes a worker release, for an execution with ``budget_bytes`` of
    object store on ``num_cpus`` CPUs: :data:`BUDGET_SHARE_PER_CPU` of the budget per CPU,
    between :data:`DEFAULT_THRESHOLD_BYTES` and :data:`MAX_THRESHOLD_BYTES` (the least
    when the budget is not a finite positive number).

    Example:
        >>> MIB = 2**20
        >>> [threshold_for_budget(b, 2) // MIB for b in (80 * MIB, 1024 * MIB, 3584 * MIB, float("inf"))]
        [32, 64, 224, 32]
    """
    if not (0 < budget_bytes < float("inf")):
        return DEFAULT_THRESHOLD_BYTES
    share = budget_bytes * BUDGET_SHARE_PER_CPU / max(1.0, float(num_cpus))
    return int(min(MAX_THRESHOLD_BYTES, max(DEFAULT_THRESHOLD_BYTES, share)))


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
    """Hand back to the OS what Arrow's default memory pool and glibc's malloc freed and keep."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


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
        self.threshold = threshold_bytes
        self._resident = resident
        self._release = release
        self._baseline = resident()

    def after_block(self) -> bool:
        """Release if the process grew enough; returns whether it did."""
        now = self._resident()
        if not should_release(now, self._baseline, self.threshold):
            self._baseline = min(self._baseline, now)
            return False
        self._release()
        self._baseline = self._resident()
        return True


_process_trim: ArrowMemoryTrim | None = None


def after_block(threshold_bytes: int | None = None) -> bool:
    """The process's :class:`ArrowMemoryTrim`, after a block was produced (or a task
    ended); returns whether it released memory. ``threshold_bytes`` (the task's, from
    :func:`threshold_for_budget`) replaces the trim's threshold when given.

    Example:
        >>> isinstance(after_block(), bool)
        True
    """
    global _process_trim
    if _process_trim is None:
        _process_trim = ArrowMemoryTrim(threshold_bytes or DEFAULT_THRESHOLD_BYTES)
        tune_libc_malloc(_process_trim.threshold)
        return False
    if threshold_bytes is not None and threshold_bytes != _process_trim.threshold:
        _process_trim.threshold = threshold_bytes
        tune_libc_malloc(threshold_bytes)
    return _process_trim.after_block()

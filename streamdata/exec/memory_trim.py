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

#: growth of a worker's resident memory that makes it hand back what Arrow freed
DEFAULT_THRESHOLD_BYTES = 32 * 2**20

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def should_release(resident: int, baseline: int, threshold: int) -> bool:
    """Whether a process that is at ``resident`` bytes, ``baseline`` after its last
    release, hands back what its allocator keeps.

    Example:
        >>> should_release(180 << 20, 100 << 20, 32 << 20), should_release(110 << 20, 100 << 20, 32 << 20)
        (True, False)
    """
    return resident - baseline >= threshold


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

    def after_block(self) -> bool:
        """Release if the process grew enough; returns whether it did."""
        now = self._resident()
        if not should_release(now, self._baseline, self._threshold):
            self._baseline = min(self._baseline, now)
            return False
        self._release()
        self._baseline = self._resident()
        return True


_process_trim: ArrowMemoryTrim | None = None


def after_block() -> bool:
    """The process's :class:`ArrowMemoryTrim`, after a block was produced (or a task
    ended); returns whether it released memory.

    Example:
        >>> isinstance(after_block(), bool)
        True
    """
    global _process_trim
    if _process_trim is None:
        _process_trim = ArrowMemoryTrim()
        return False
    return _process_trim.after_block()

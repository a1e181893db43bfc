"""Peak memory of a process tree, sampled by a background thread.

Two sums are kept over the process and all its descendants (Ray's raylet, GCS and
workers, streamdata's workers, a process pool's children...):

* **RSS**: what each process has resident. Pages shared between processes (a
  shared-memory object store mapped by several workers, the code of shared
  libraries) are counted once per process, so the sum over-counts.
* **PSS**: each shared page divided among the processes that map it; the sum is
  what the tree really costs. It is the headline figure of the reports.

``shm_delta`` is the growth of ``/dev/shm`` over the start of sampling: objects in
a shared-memory store that no process maps at the moment are in neither sum. It
is machine-wide (other users of the machine move it too), so it is only reported.

Example:
    >>> import os
    >>> with TreeMemorySampler(os.getpid(), interval_s=0.01) as sampler:
    ...     block = bytearray(50 * 2**20)
    >>> sampler.peak.rss_bytes > 50 * 2**20
    True
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass, field
from types import TracebackType

import psutil

SHM_PATH = "/dev/shm"


@dataclass(slots=True)
class MemoryPeak:
    """Largest values seen (each maximised separately over the samples)."""

    rss_bytes: int = 0
    pss_bytes: int = 0
    shm_delta_bytes: int = 0
    num_processes: int = 0
    samples: int = 0
    pss_available: bool = True

    def as_dict(self) -> dict[str, float | int | bool]:
        """MiB figures, rounded, for a results file."""
        mib = 2**20
        return {"peak_rss_mb": round(self.rss_bytes / mib, 1),
                "peak_pss_mb": round(self.pss_bytes / mib, 1) if self.pss_available else None,
                "peak_shm_delta_mb": round(self.shm_delta_bytes / mib, 1),
                "peak_processes": self.num_processes, "memory_samples": self.samples}


def _shm_used() -> int:
    try:
        return shutil.disk_usage(SHM_PATH).used
    except OSError:
        return 0


def sample_tree(root: psutil.Process,
                seen: dict[int, psutil.Process] | None = None) -> tuple[int, int | None, int]:
    """One sample: (RSS sum, PSS sum or None when unreadable, process count).

    Processes that exit while being read are skipped. Descendants are added to ``seen``
    (pid → process) when given, so that a caller can find them after ``root`` exits.
    """
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0, 0, 0
    if seen is not None:
        for proc in procs[1:]:
            seen.setdefault(proc.pid, proc)
    rss = 0
    pss: int | None = 0
    count = 0
    for proc in procs:
        try:
            if pss is not None:
                try:
                    full = proc.memory_full_info()
                    rss += full.rss
                    pss += full.pss
                    count += 1
                    continue
                except (psutil.AccessDenied, AttributeError):
                    pss = None
            rss += proc.memory_info().rss
            count += 1
        except psutil.Error:
            continue
    return rss, pss, count


@dataclass
class TreeMemorySampler:
    """Context manager sampling the memory of ``pid`` and its descendants.

    Args:
        pid: root of the tree.
        interval_s: time between samples.

    Attributes:
        peak: the peaks so far.
        seen: every descendant seen in a sample (pid → ``psutil.Process``).
    """

    pid: int
    interval_s: float = 0.1
    peak: MemoryPeak = field(default_factory=MemoryPeak)
    seen: dict[int, psutil.Process] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _shm_start: int = 0

    def start(self) -> TreeMemorySampler:
        """Start the sampling thread (takes one sample at once)."""
        self._shm_start = _shm_used()
        self._root = psutil.Process(self.pid)
        self._sample()
        self._thread = threading.Thread(target=self._run, name="tree-memory-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> MemoryPeak:
        """Stop sampling (one last sample first) and return the peaks."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        return self.peak

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def _sample(self) -> None:
        rss, pss, count = sample_tree(self._root, self.seen)
        peak = self.peak
        peak.samples += 1
        peak.rss_bytes = max(peak.rss_bytes, rss)
        if pss is None:
            peak.pss_available = False
        else:
            peak.pss_bytes = max(peak.pss_bytes, pss)
        peak.num_processes = max(peak.num_processes, count)
        peak.shm_delta_bytes = max(peak.shm_delta_bytes, _shm_used() - self._shm_start)

    def __enter__(self) -> TreeMemorySampler:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def process_memory_mb(pid: int | None = None) -> float:
    """Current RSS of one process in MiB (default: this one).

    Example:
        >>> process_memory_mb() > 1
        True
    """
    return psutil.Process(pid or os.getpid()).memory_info().rss / 2**20

"""The memory monitor: kill a task's worker before the machine runs out of memory (Ray's).

Every ``memory_monitor_refresh_ms`` (default 250; 0 disables the monitor) the
driver reads how much of the machine's memory is in use (``total - available``,
or the cgroup's usage and limit when a cgroup limit is lower). Past
``memory_usage_threshold`` (default 0.95) the runtime kills one worker, chosen by
:func:`pick_victim` (Ray's policy): retriable work first; among it, the caller
(owner) with the most running tasks; in that group, the newest task. The killed
task is retried if it has retries left (``max_retries``), else it fails with
:class:`~streamdata.errors.OutOfMemoryError` naming the task, the worker's memory
and the threshold. An actor killed this way restarts if it may (``max_restarts``).
One kill at a time: the next one waits until the victim's death is seen.

Configuration, as in Ray: the environment variables ``RAY_memory_usage_threshold``
and ``RAY_memory_monitor_refresh_ms``, or ``sd.init(_system_config={
"memory_usage_threshold": ..., "memory_monitor_refresh_ms": ...})`` (which wins).

The policy is a pure function; :class:`MemoryMonitor` is the thread that reads
memory and feeds :class:`~streamdata.core.events.MemoryPressure` to the runtime.

Example:
    >>> a = RunningWork("w1", "f", owner="driver", retriable=True, started=1)
    >>> b = RunningWork("w2", "g", owner="driver", retriable=True, started=2)
    >>> pick_victim(used=96, total=100, threshold=0.95, running=[a, b]).worker_id
    'w2'
    >>> pick_victim(used=50, total=100, threshold=0.95, running=[a, b]) is None
    True
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any, Mapping

import psutil

THRESHOLD_ENV = "RAY_memory_usage_threshold"
REFRESH_ENV = "RAY_memory_monitor_refresh_ms"


@dataclass(frozen=True, slots=True)
class MemoryMonitorConfig:
    """``usage_threshold``: the fraction of memory in use past which a worker is killed;
    ``refresh_ms``: how often memory is read (0: the monitor is off)."""

    usage_threshold: float = 0.95
    refresh_ms: int = 250

    def __post_init__(self) -> None:
        t = self.usage_threshold
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.0 < t <= 1.0:
            raise ValueError(f"memory_usage_threshold must be a number in (0, 1], got {t!r}")
        r = self.refresh_ms
        if isinstance(r, bool) or not isinstance(r, int) or r < 0:
            raise ValueError(f"memory_monitor_refresh_ms must be an int >= 0 (0 disables the monitor), "
                             f"got {r!r}")

    @property
    def enabled(self) -> bool:
        return self.refresh_ms > 0

    @classmethod
    def from_sources(cls, system_config: Mapping[str, Any] | None = None,
                     environ: Mapping[str, str] = os.environ) -> "MemoryMonitorConfig":
        """The config from ``_system_config`` (first), the environment, else the defaults.

        Example:
            >>> MemoryMonitorConfig.from_sources({"memory_usage_threshold": 0.5}, environ={})
            MemoryMonitorConfig(usage_threshold=0.5, refresh_ms=250)
            >>> MemoryMonitorConfig.from_sources(None, {"RAY_memory_monitor_refresh_ms": "0"}).enabled
            False
        """
        system_config = dict(system_config or {})
        threshold: Any = system_config.get("memory_usage_threshold")
        refresh: Any = system_config.get("memory_monitor_refresh_ms")
        if threshold is None and environ.get(THRESHOLD_ENV):
            threshold = _parse(THRESHOLD_ENV, environ[THRESHOLD_ENV], float)
        if refresh is None and environ.get(REFRESH_ENV):
            refresh = _parse(REFRESH_ENV, environ[REFRESH_ENV], int)
        defaults = cls()
        return cls(defaults.usage_threshold if threshold is None else threshold,
                   defaults.refresh_ms if refresh is None else refresh)


def _parse(name: str, text: str, kind: type) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"environment variable {name}={text!r} is not a{'n int' if kind is int else ' number'}"
                         ) from None


@dataclass(frozen=True, slots=True)
class RunningWork:
    """One busy worker as the policy sees it: what runs there, who submitted it, whether a
    kill is retried, how recently it started (larger: newer), its resident memory."""

    worker_id: str
    name: str
    owner: str
    retriable: bool
    started: int
    rss: int = 0


def pick_victim(used: int, total: int, threshold: float, running: list[RunningWork]) -> RunningWork | None:
    """The worker to kill, or None while use is under the threshold (or nothing runs).

    Retriable work goes first; among it, the owner with the most running tasks (so
    every caller keeps some progress); within that owner, the newest task.

    Example:
        >>> old = RunningWork("w1", "f", owner="a", retriable=True, started=1)
        >>> lone = RunningWork("w2", "g", owner="b", retriable=True, started=9)
        >>> new = RunningWork("w3", "f", owner="a", retriable=True, started=5)
        >>> fixed = RunningWork("w4", "h", owner="a", retriable=False, started=10)
        >>> pick_victim(99, 100, 0.9, [old, lone, new, fixed]).worker_id
        'w3'
        >>> pick_victim(99, 100, 0.9, [fixed]).worker_id
        'w4'
    """
    if total <= 0 or used < threshold * total or not running:
        return None
    pool = [w for w in running if w.retriable] or list(running)
    groups: dict[str, list[RunningWork]] = {}
    for work in pool:
        groups.setdefault(work.owner, []).append(work)
    largest = max(groups.values(), key=lambda g: (len(g), max(w.started for w in g)))
    return max(largest, key=lambda w: w.started)


def kill_message(victim: RunningWork, used: int, total: int, threshold: float) -> str:
    """Why ``victim`` was killed (the OutOfMemoryError's message)."""
    gib = 1 << 30
    return (f"the memory monitor killed the worker running {victim.name} (it used {victim.rss / gib:.2f} GiB) "
            f"because the machine's memory use, {used / gib:.2f} of {total / gib:.2f} GiB "
            f"({used / total:.0%}), passed memory_usage_threshold={threshold:g}. Give the task more "
            f"memory (memory=...), run fewer at once, or raise the threshold ({THRESHOLD_ENV}; "
            f"{REFRESH_ENV}=0 turns the monitor off)")


def read_memory() -> tuple[int, int]:
    """``(used, total)`` bytes of the machine, or of its cgroup when that limit is lower."""
    vm = psutil.virtual_memory()
    used, total = vm.total - vm.available, vm.total
    limit = _cgroup_int("memory.max")
    if limit is not None and 0 < limit < total:
        current = _cgroup_int("memory.current")
        if current is not None:
            return max(0, current - _cgroup_inactive_file()), limit
    return used, total


def _cgroup_int(name: str) -> int | None:
    try:
        with open(f"/sys/fs/cgroup/{name}") as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _cgroup_inactive_file() -> int:
    try:
        with open("/sys/fs/cgroup/memory.stat") as f:
            for line in f:
                if line.startswith("inactive_file "):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class MemoryMonitor:
    """The thread that reads memory every ``refresh_ms`` and, past the threshold, reports
    :class:`~streamdata.core.events.MemoryPressure` (with the busy workers' memory)
    through ``report(used, total, rss_by_worker)``.

    Args:
        config: threshold and period.
        worker_pids: a callable returning ``{worker_id: pid}`` of the live workers.
        report: called (from this thread) when use is past the threshold.
    """

    def __init__(self, config: MemoryMonitorConfig, worker_pids: Any, report: Any) -> None:
        self.config = config
        self._worker_pids = worker_pids
        self._report = report
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="streamdata-memory-monitor", daemon=True)

    def start(self) -> "MemoryMonitor":
        if self.config.enabled:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        period = self.config.refresh_ms / 1000.0
        threshold = self.config.usage_threshold
        while not self._stop.wait(period):
            try:
                used, total = read_memory()
                if used < threshold * total:
                    continue
                rss = {}
                for worker_id, pid in self._worker_pids().items():
                    try:
                        info = psutil.Process(pid).memory_info()  # private: the shared store not counted
                        rss[worker_id] = max(0, info.rss - getattr(info, "shared", 0))
                    except (psutil.NoSuchProcess, psutil.AccessDenied):
                        continue
                self._report(used, total, rss)
            except Exception:  # noqa: BLE001 - the monitor never takes the runtime down
                continue

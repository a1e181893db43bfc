"""Task start/end records for ``timeline()`` (bounded, no I/O) and their Chrome tracing form.

The state machine records when each task is handed to a worker and when its
result (or error) comes back; :func:`chrome_trace` turns the records into the
Chrome tracing format (``chrome://tracing``, Perfetto) that ``ray.timeline``
writes.

Example:
    >>> clock = iter([1.0, 1.5]).__next__
    >>> log = TaskLog(clock, limit=10)
    >>> log.started("t1", "f", "w1")
    >>> log.finished("t1", ok=True)
    >>> [event] = chrome_trace(log.records())
    >>> event["name"], event["ph"], event["dur"]
    ('f', 'X', 500000.0)
"""

from __future__ import annotations

from collections import deque
from typing import Callable

#: records kept (the oldest go first): a long session's timeline stays small
DEFAULT_LIMIT = 10_000


class TaskLog:
    """When tasks started and ended, the last ``limit`` of them."""

    def __init__(self, clock: Callable[[], float], limit: int = DEFAULT_LIMIT) -> None:
        self._clock = clock
        self._running: dict[str, tuple[str, str, float, str | None]] = {}
        self._done: deque[tuple[str, str, str, float, float, bool, str | None]] = deque(maxlen=limit)

    def started(self, task_id: str, name: str, worker_id: str, actor_id: str | None = None) -> None:
        self._running[task_id] = (name, worker_id, self._clock(), actor_id)

    def finished(self, task_id: str, ok: bool) -> None:
        entry = self._running.pop(task_id, None)
        if entry is not None:
            name, worker_id, start, actor_id = entry
            self._done.append((task_id, name, worker_id, start, self._clock(), ok, actor_id))

    def records(self) -> list[tuple[str, str, str, float, float, bool]]:
        """``(task_id, name, worker_id, start, end, ok)`` of finished tasks, oldest first."""
        return [r[:6] for r in self._done]

    def finished_details(self) -> list[tuple[str, str, str, float, float, bool, str | None]]:
        """As :meth:`records`, each with the actor id of an actor call (None for a task) last."""
        return list(self._done)

    def start_time(self, task_id: str) -> float | None:
        """When a running task started (None if it is not running)."""
        entry = self._running.get(task_id)
        return None if entry is None else entry[2]


def chrome_trace(records: list[tuple[str, str, str, float, float, bool]]) -> list[dict]:
    """Chrome tracing "complete" events (microseconds), one per task, one row per worker."""
    return [{"cat": "task", "name": name, "ph": "X", "pid": "node", "tid": f"worker:{worker_id}",
             "ts": start * 1e6, "dur": (end - start) * 1e6,
             "args": {"task_id": task_id, "ok": ok}, "cname": "good" if ok else "terrible"}
            for task_id, name, worker_id, start, end, ok in records]

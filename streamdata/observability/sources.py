"""What serve and train publish for monitoring (they are above the dashboard's reach).

The dashboard may not import serve or train (nothing below a client imports
it), so they publish here: serve registers a function returning its status when
it starts; each training run records its name, state and reported metrics in a
:class:`TrainRun`. This module imports nothing, so publishing costs nothing.

Example:
    >>> run = train_run_started("demo", "/tmp/demo")
    >>> run.history.append({"loss": 0.5})
    >>> run.finish(None)
    >>> [r["state"] for r in train_runs() if r["name"] == "demo"][-1]
    'FINISHED'
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Callable

#: training runs kept (the oldest go first)
KEEP_RUNS = 20
#: reported metrics kept per run for display (the latest)
KEEP_REPORTS = 50

_lock = threading.Lock()
_status_sources: dict[str, Callable[[], Any]] = {}
_runs: deque[TrainRun] = deque(maxlen=KEEP_RUNS)


def register_status(name: str, fn: Callable[[], Any] | None) -> None:
    """Publish ``fn`` (returns a JSON-able status) under ``name``; None withdraws it."""
    with _lock:
        if fn is None:
            _status_sources.pop(name, None)
        else:
            _status_sources[name] = fn


def status(name: str) -> Any:
    """The status published under ``name`` now (None if none; an error as ``{"error": ...}``)."""
    with _lock:
        fn = _status_sources.get(name)
    if fn is None:
        return None
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - monitoring shows the failure, never raises it
        return {"error": f"{type(exc).__name__}: {exc}"}


class TrainRun:
    """One training run as the dashboard shows it; ``history`` is the run's own list of reports."""

    def __init__(self, name: str, path: str, history: list | None = None) -> None:
        self.name = name
        self.path = path
        self.history: list[dict[str, Any]] = history if history is not None else []
        self.state = "RUNNING"
        self.error = ""
        self.failures = 0
        self.start_time = time.time()
        self.end_time: float | None = None

    def finish(self, error: BaseException | None, failures: int = 0) -> None:
        self.state = "FINISHED" if error is None else "ERRORED"
        self.error = "" if error is None else f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        self.failures = failures
        self.end_time = time.time()

    def to_dict(self) -> dict[str, Any]:
        reports = list(self.history[-KEEP_REPORTS:])
        return {"name": self.name, "path": self.path, "state": self.state, "error": self.error,
                "failures": self.failures, "start_time": self.start_time, "end_time": self.end_time,
                "num_reports": len(self.history),
                "metrics": [{k: v for k, v in r.items() if isinstance(v, (int, float, str, bool))}
                            for r in reports if isinstance(r, dict)]}


def train_run_started(name: str, path: str, history: list | None = None) -> TrainRun:
    """Record a training run that starts (its ``history`` list is read live)."""
    run = TrainRun(name, path, history)
    with _lock:
        _runs.append(run)
    return run


def train_runs() -> list[dict[str, Any]]:
    """The training runs kept, oldest first."""
    with _lock:
        runs = list(_runs)
    return [r.to_dict() for r in runs]

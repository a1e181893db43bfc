"""The executions of this process, running and recently finished, for monitoring.

Each :class:`~streamdata.exec.executor.StreamingExecutor` registers here when
it starts; a running one is held weakly (monitoring never keeps its blocks
alive) and read when asked; at its end its summary is kept (the last
:data:`KEEP`). :func:`datasets` gives plain dicts of metadata only — operator
names, rows, bytes, tasks, memory against budget, backpressure time — never data
values. The dashboard and the Prometheus exporter read them.

Example:
    >>> import streamdata as sd
    >>> _ = sd.range(10).map_batches(lambda b: b).take_all()
    >>> ds = datasets()[-1]
    >>> ds["state"], [op["rows_out"] for op in ds["operators"]][-1]
    ('FINISHED', 10)
"""

from __future__ import annotations

import itertools
import threading
import time
import weakref
from collections import deque
from typing import Any

#: finished executions kept
KEEP = 50

_lock = threading.Lock()
_ids = itertools.count(1)
_running: dict[int, weakref.ref] = {}
_finished: deque[dict] = deque(maxlen=KEEP)
_clocks: dict[int, BackpressureClock] = {}


class BackpressureClock:
    """Seconds each operator had inputs queued that it was not given (held back by
    backpressure or waiting for resources), as Ray Data's backpressure time.

    Example:
        >>> clock = BackpressureClock()
        >>> clock.note([1, 0], now=10.0)
        >>> clock.note([0, 0], now=10.5)
        >>> clock.totals(now=11.0)
        [0.5, 0.0]
    """

    __slots__ = ("seconds", "since")

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.since: list[float | None] = []

    def note(self, queued: list[int], now: float | None = None) -> None:
        """After a dispatch pass: ``queued[i]`` inputs are still waiting before operator i."""
        if now is None:
            now = time.perf_counter()
        if len(self.seconds) < len(queued):
            self.seconds += [0.0] * (len(queued) - len(self.seconds))
            self.since += [None] * (len(queued) - len(self.since))
        since = self.since
        for i, n in enumerate(queued):
            if n:
                if since[i] is None:
                    since[i] = now
            elif since[i] is not None:
                self.seconds[i] += now - since[i]  # type: ignore[operator]
                since[i] = None

    def totals(self, now: float | None = None) -> list[float]:
        if now is None:
            now = time.perf_counter()
        return [s + (now - t if t is not None else 0.0) for s, t in zip(self.seconds, self.since)]


def register(executor: Any) -> int:
    """Record a started execution; returns its id."""
    exec_id = next(_ids)
    with _lock:
        _running[exec_id] = weakref.ref(executor)
        _clocks[exec_id] = BackpressureClock()
    return exec_id


def note_queued(exec_id: int, queued: list[int]) -> None:
    """After each dispatch pass of execution ``exec_id``: the inputs left queued per operator."""
    clock = _clocks.get(exec_id)
    if clock is not None:
        clock.note(queued)


def finished(exec_id: int, executor: Any) -> None:
    """Keep the final summary of an execution that ended (``FINISHED``/``FAILED``/``STOPPED``)."""
    state = "FINISHED" if executor._finished else "FAILED" if executor._error is not None else "STOPPED"
    try:
        summary = summarize(exec_id, executor, state)
    except Exception:  # noqa: BLE001 - monitoring never breaks an execution
        summary = None
    with _lock:
        _running.pop(exec_id, None)
        _clocks.pop(exec_id, None)
        if summary is not None:
            _finished.append(summary)


def summarize(exec_id: int, executor: Any, state: str) -> dict[str, Any]:
    """Metadata of one execution: per operator rows, bytes, tasks, memory and backpressure."""
    stats = executor.stats()
    clock = _clocks.get(exec_id)
    end = executor._end
    totals = clock.totals(end) if clock is not None else []
    backpressure = {st.op.name: (totals[i] if i < len(totals) else 0.0)
                    for i, st in enumerate(executor._states)}
    ops = []
    for op in stats.operators:
        ops.append({"name": op.name, "rows_out": op.rows_out, "bytes_out": op.bytes_out,
                    "blocks_out": op.blocks_out, "tasks": op.tasks, "wall_s": round(op.wall_s, 4),
                    "cpu_s": round(op.cpu_s, 4), "peak_bytes": int(op.peak_bytes),
                    "backpressure_s": round(backpressure.get(op.name, 0.0), 4),
                    "errored_blocks": len(op.errored_blocks)})
    return {"id": exec_id, "name": executor.name, "state": state, "wall_s": round(stats.wall_s, 4),
            "budget_bytes": int(stats.budget_bytes), "peak_object_store_bytes": int(stats.peak_object_store_bytes),
            "operators": ops, "updated": time.time()}


def datasets() -> list[dict[str, Any]]:
    """Every finished execution kept, then the running ones, oldest first."""
    with _lock:
        done = list(_finished)
        running = list(_running.items())
    out = list(done)
    for exec_id, ref in running:
        executor = ref()
        if executor is None:
            continue
        try:
            out.append(summarize(exec_id, executor, "RUNNING"))
        except Exception:  # noqa: BLE001 - it ended while we read it
            continue
    return out

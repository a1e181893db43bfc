"""What goes into the runtime's state machine (events) and what comes out (commands).

:class:`~streamdata.core.state.RuntimeState` turns each event into a list of
commands and does no I/O itself; :class:`~streamdata.core.runtime.Runtime` (the
loop) receives messages and timers, feeds them as events, and executes the
commands: it sends, spawns, kills, moves and deletes files, wakes the driver's
waiting callers.

Example:
    >>> from streamdata.core.protocol import Cancel
    >>> Send("w1", Cancel("t1"))
    Send(worker_id='w1', message=Cancel(task_id='t1'))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


# --------------------------------------------------------------------------- events
@dataclass(frozen=True, slots=True)
class WorkerMessage:
    """A wire message from worker ``worker_id``, or from the driver itself when it is None
    (the driver's own submissions, puts, requests and ref changes take the same path)."""

    worker_id: str | None
    message: Any


@dataclass(frozen=True, slots=True)
class WorkerDied:
    """A worker's connection closed (it exited or was killed); ``exit_info`` says how."""

    worker_id: str
    exit_info: str


@dataclass(frozen=True, slots=True)
class TimerFired:
    """A timer started by a :class:`StartTimer` command is due."""

    timer_id: int


@dataclass(frozen=True, slots=True)
class ObjectSpilled:
    """A :class:`SpillObject` command moved an object to ``location`` (on disk)."""

    obj_id: str
    location: tuple


@dataclass(frozen=True, slots=True)
class SpillFailed:
    """A :class:`SpillObject` command could not move the object (the disk is full)."""

    obj_id: str


@dataclass(frozen=True, slots=True)
class MemoryPressure:
    """The machine's memory use (``used`` of ``total`` bytes) passed ``threshold``;
    ``rss`` is each live worker's private resident memory (the memory monitor's reading)."""

    used: int
    total: int
    threshold: float
    rss: dict


@dataclass(frozen=True, slots=True)
class ShutdownStarted:
    """The driver shuts the runtime down: every worker is told to exit."""


# --------------------------------------------------------------------------- commands
@dataclass(frozen=True, slots=True)
class Send:
    """Send a wire message to a worker."""

    worker_id: str
    message: Any


@dataclass(frozen=True, slots=True)
class SpawnWorker:
    """Start a worker process with this id (``env``: extra environment variables)."""

    worker_id: str
    env: dict | None


@dataclass(frozen=True, slots=True)
class KillWorker:
    """Kill a worker process (its death comes back as :class:`WorkerDied`)."""

    worker_id: str


@dataclass(frozen=True, slots=True)
class ReplyToDriver:
    """Answer the driver's own request ``req_id`` (``ok`` False: ``value`` is the exception)."""

    req_id: int
    ok: bool
    value: Any


@dataclass(frozen=True, slots=True)
class StartTimer:
    """Feed :class:`TimerFired` ``timer_id`` after ``delay`` seconds."""

    timer_id: int
    delay: float


@dataclass(frozen=True, slots=True)
class FreeObject:
    """Delete (or recycle, for shared memory) a freed object's file."""

    location: tuple


@dataclass(frozen=True, slots=True)
class SpillObject:
    """Move an object from shared memory to disk; answered by
    :class:`ObjectSpilled` or :class:`SpillFailed`."""

    obj_id: str
    location: tuple


Command = Send | SpawnWorker | KillWorker | ReplyToDriver | StartTimer | FreeObject | SpillObject
Event = WorkerMessage | WorkerDied | TimerFired | ObjectSpilled | SpillFailed | MemoryPressure | ShutdownStarted

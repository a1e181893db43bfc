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

from typing import Any, NamedTuple

from streamdata.core.protocol import typed_equality


# --------------------------------------------------------------------------- events
class WorkerMessage(NamedTuple):
    """A wire message from worker ``worker_id``, or from the driver itself when it is None
    (the driver's own submissions, puts, requests and ref changes take the same path)."""

    worker_id: str | None
    message: Any


class WorkerDied(NamedTuple):
    """A worker's connection closed (it exited or was killed); ``exit_info`` says how."""

    worker_id: str
    exit_info: str


class TimerFired(NamedTuple):
    """A timer started by a :class:`StartTimer` command is due."""

    timer_id: int


class ObjectSpilled(NamedTuple):
    """A :class:`SpillObject` command moved an object to ``location`` (on disk)."""

    obj_id: str
    location: tuple


class SpillFailed(NamedTuple):
    """A :class:`SpillObject` command could not move the object (the disk is full)."""

    obj_id: str


class ShutdownStarted(NamedTuple):
    """The driver shuts the runtime down: every worker is told to exit."""


# --------------------------------------------------------------------------- commands
class Send(NamedTuple):
    """Send a wire message to a worker."""

    worker_id: str
    message: Any


class SpawnWorker(NamedTuple):
    """Start a worker process with this id (``env``: extra environment variables)."""

    worker_id: str
    env: dict | None


class KillWorker(NamedTuple):
    """Kill a worker process (its death comes back as :class:`WorkerDied`)."""

    worker_id: str


class ReplyToDriver(NamedTuple):
    """Answer the driver's own request ``req_id`` (``ok`` False: ``value`` is the exception)."""

    req_id: int
    ok: bool
    value: Any


class StartTimer(NamedTuple):
    """Feed :class:`TimerFired` ``timer_id`` after ``delay`` seconds."""

    timer_id: int
    delay: float


class FreeObject(NamedTuple):
    """Delete (or recycle, for shared memory) a freed object's file."""

    location: tuple


class SpillObject(NamedTuple):
    """Move an object from shared memory to disk; answered by
    :class:`ObjectSpilled` or :class:`SpillFailed`."""

    obj_id: str
    location: tuple


typed_equality(WorkerMessage, WorkerDied, TimerFired, ObjectSpilled, SpillFailed, ShutdownStarted,
               Send, SpawnWorker, KillWorker, ReplyToDriver, StartTimer, FreeObject, SpillObject)

Command = Send | SpawnWorker | KillWorker | ReplyToDriver | StartTimer | FreeObject | SpillObject
Event = WorkerMessage | WorkerDied | TimerFired | ObjectSpilled | SpillFailed | ShutdownStarted

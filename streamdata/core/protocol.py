"""The wire messages between the driver and its workers, defined once.

Every message is a frozen dataclass. On the worker's Unix socket it travels as
a pickled tuple ``(tag, *field values)`` (:func:`encode`, :func:`decode`): no
class lookup or field names on the wire, so it costs what a tuple costs.

Driver → worker: :class:`TaskSpec` (run a task or an actor call),
:class:`ActorInit`, :class:`Reply`, :class:`Cancel`, :class:`Exit`.

Worker → driver: :class:`Hello`, :class:`RefsDelta`, :class:`TaskDone`,
:class:`Submit`, :class:`PutObject`, :class:`Request`, :class:`RequestCancel`,
:class:`ActorReady`, :class:`ActorFailed`.

Example:
    >>> msg = Cancel("t1")
    >>> decode(encode(msg)) == msg
    True
"""

from __future__ import annotations

import operator
import pickle
from dataclasses import dataclass, fields
from typing import Any, Callable


class Message:
    """Base of the wire messages: pickles as ``(class, field values)``."""

    __slots__ = ()

    def __reduce__(self) -> tuple:
        cls = type(self)
        getter = _GETTERS.get(cls)
        if getter is None:
            getter = _GETTERS[cls] = _values_getter(cls)
        return (cls, getter(self))


#: per message class, a C-level getter of its field values as a tuple
_GETTERS: dict[type, Callable[[Any], tuple]] = {}


def _values_getter(cls: type) -> Callable[[Any], tuple]:
    names = [f.name for f in fields(cls)]
    if not names:
        return lambda _msg: ()
    if len(names) == 1:
        one = operator.attrgetter(names[0])
        return lambda msg: (one(msg),)
    return operator.attrgetter(*names)


# --------------------------------------------------------------------- driver → worker
@dataclass(frozen=True, slots=True)
class TaskSpec(Message):
    """Run one task (``target`` is a function id) or actor call (``target`` is a method name).

    ``fn_bytes`` is the pickled function the first time this worker gets it, else
    None. ``deps`` pairs each top-level ObjectRef argument with its location.
    """

    task_id: str
    target: str
    fn_bytes: bytes | None
    args: bytes
    deps: list
    return_ids: list
    env: dict | None
    gpu_ids: list
    name: str
    is_call: bool = False
    resources: dict | None = None  # what the task was granted (get_assigned_resources)


@dataclass(frozen=True, slots=True)
class ActorInit(Message):
    """Construct the actor this worker now hosts."""

    actor_id: str
    fn_id: str
    fn_bytes: bytes | None
    args: bytes
    deps: list
    env: dict | None
    gpu_ids: list
    name: str
    max_concurrency: int
    is_async: bool
    resources: dict | None = None  # what the actor was granted
    restarts: int = 0  # > 0: this is a restart (was_current_actor_reconstructed)


@dataclass(frozen=True, slots=True)
class Reply(Message):
    """The answer to a :class:`Request` (``ok`` False: ``value`` is the exception)."""

    req_id: int
    ok: bool
    value: Any


@dataclass(frozen=True, slots=True)
class Cancel(Message):
    """Cancel a task of this worker (answered early if not started, interrupted if running)."""

    task_id: str


@dataclass(frozen=True, slots=True)
class Exit(Message):
    """Leave at once (the driver shuts down)."""


# --------------------------------------------------------------------- worker → driver
@dataclass(frozen=True, slots=True)
class Hello(Message):
    """A worker started."""

    worker_id: str
    pid: int


@dataclass(frozen=True, slots=True)
class RefsDelta(Message):
    """ObjectRefs the sending process gained (+1) or dropped (-1): ``[(delta, id), ...]``."""

    deltas: list


@dataclass(frozen=True, slots=True)
class TaskDone(Message):
    """A task or call finished: ``outputs`` ``[(id, location, contained), ...]`` or ``error``."""

    task_id: str
    outputs: list | None
    error: tuple | None


@dataclass(frozen=True, slots=True)
class Submit(Message):
    """A task, actor or actor call submitted from inside a task (the submission dict)."""

    spec: dict


@dataclass(frozen=True, slots=True)
class PutObject(Message):
    """An object the sender stored (``sd.put``) at ``location``."""

    obj_id: str
    location: tuple
    contained: list


@dataclass(frozen=True, slots=True)
class Request(Message):
    """Ask the driver for ``op`` (``get``, ``wait``, ``cancel``, ...); answered by a :class:`Reply`."""

    req_id: int
    op: str
    args: tuple


@dataclass(frozen=True, slots=True)
class RequestCancel(Message):
    """The worker stopped waiting for request ``req_id`` (a timeout)."""

    req_id: int


@dataclass(frozen=True, slots=True)
class ActorReady(Message):
    """The actor's constructor returned."""

    actor_id: str


@dataclass(frozen=True, slots=True)
class ActorFailed(Message):
    """The actor's constructor raised (``payload`` as a task error)."""

    actor_id: str
    payload: tuple


#: every message class, by its wire tag
MESSAGES: tuple[type, ...] = (TaskSpec, ActorInit, Reply, Cancel, Exit, Hello, RefsDelta, TaskDone, Submit,
                              PutObject, Request, RequestCancel, ActorReady, ActorFailed)
_TAGS: dict[type, int] = {cls: tag for tag, cls in enumerate(MESSAGES)}


def encode(msg: Message) -> bytes:
    """The bytes of ``msg`` on the wire: a pickled ``(tag, *field values)``."""
    cls = type(msg)
    getter = _GETTERS.get(cls)
    if getter is None:
        getter = _GETTERS[cls] = _values_getter(cls)
    return pickle.dumps((_TAGS[cls], *getter(msg)), protocol=5)


def decode(data: bytes) -> Message:
    """The message :func:`encode` wrote."""
    tag, *values = pickle.loads(data)
    return MESSAGES[tag](*values)

"""The wire messages between the driver and its workers, defined once.

Every message is an immutable named tuple (cheap to build and to define, which
matters on the per-task path and at start-up), equal only to messages of its own
class. On the worker's Unix socket it travels as a pickled tuple ``(tag, *field
values)`` (:func:`encode`, :func:`decode`): no class lookup or field names on the
wire, so it costs what a tuple costs.

Driver → worker: :class:`TaskSpec` (run a task or an actor call),
:class:`ActorInit`, :class:`Reply`, :class:`Cancel`, :class:`Exit`.

Worker → driver: :class:`Hello`, :class:`RefsDelta`, :class:`TaskDone`,
:class:`Submit`, :class:`PutObject`, :class:`Request`, :class:`RequestCancel`,
:class:`ActorReady`, :class:`ActorFailed`, :class:`GeneratorItem`.

Example:
    >>> msg = Cancel("t1")
    >>> decode(encode(msg)) == msg
    True
"""

from __future__ import annotations

import pickle
from typing import Any, NamedTuple, Union


def typed_equality(*classes: type) -> None:
    """Make named-tuple messages equal only to messages of their own class (a plain
    tuple compares by values alone, so ``Cancel("t1") == ActorReady("t1")`` would hold)."""
    def eq(a: Any, b: Any) -> bool:
        return type(a) is type(b) and tuple.__eq__(a, b)

    def ne(a: Any, b: Any) -> bool:
        return not eq(a, b)

    for cls in classes:
        cls.__eq__, cls.__ne__, cls.__hash__ = eq, ne, tuple.__hash__  # type: ignore[assignment,method-assign]


# --------------------------------------------------------------------- driver → worker
class TaskSpec(NamedTuple):
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
    streaming: bool = False  # a generator task or call: report each item as it is yielded
    device_ids: dict | None = None  # accelerator -> the device ids granted (get_accelerator_ids)


class ActorInit(NamedTuple):
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
    concurrency_groups: dict | None = None  # group name -> max concurrency (besides the default group)
    registered_name: str = ""  # the name given with .options(name=...); "" for an unnamed actor
    device_ids: dict | None = None  # accelerator -> the device ids granted (get_accelerator_ids)


class Reply(NamedTuple):
    """The answer to a :class:`Request` (``ok`` False: ``value`` is the exception)."""

    req_id: int
    ok: bool
    value: Any


class Cancel(NamedTuple):
    """Cancel a task of this worker (answered early if not started, interrupted if running)."""

    task_id: str


class Exit(NamedTuple):
    """Leave at once (the driver shuts down)."""


# --------------------------------------------------------------------- worker → driver
class Hello(NamedTuple):
    """A worker started."""

    worker_id: str
    pid: int


class RefsDelta(NamedTuple):
    """ObjectRefs the sending process gained (+1) or dropped (-1): ``[(delta, id), ...]``."""

    deltas: list


class TaskDone(NamedTuple):
    """A task or call finished: ``outputs`` ``[(id, location, contained), ...]`` or ``error``."""

    task_id: str
    outputs: list | None
    error: tuple | None


class Submit(NamedTuple):
    """A task, actor or actor call submitted from inside a task (the submission dict)."""

    spec: dict


class PutObject(NamedTuple):
    """An object the sender stored (``sd.put``) at ``location``."""

    obj_id: str
    location: tuple
    contained: list


class Request(NamedTuple):
    """Ask the driver for ``op`` (``get``, ``wait``, ``cancel``, ...); answered by a :class:`Reply`."""

    req_id: int
    op: str
    args: tuple


class RequestCancel(NamedTuple):
    """The worker stopped waiting for request ``req_id`` (a timeout)."""

    req_id: int


class ActorReady(NamedTuple):
    """The actor's constructor returned."""

    actor_id: str


class GeneratorItem(NamedTuple):
    """Task ``task_id`` (a ``num_returns="streaming"`` task or call) yielded item ``index``,
    stored as ``obj_id`` (its :class:`PutObject` came first)."""

    task_id: str
    index: int
    obj_id: str


class ActorFailed(NamedTuple):
    """The actor's constructor raised (``payload`` as a task error)."""

    actor_id: str
    payload: tuple


#: every message class, by its wire tag
MESSAGES: tuple[type, ...] = (TaskSpec, ActorInit, Reply, Cancel, Exit, Hello, RefsDelta, TaskDone, Submit,
                              PutObject, Request, RequestCancel, ActorReady, ActorFailed, GeneratorItem)
_TAGS: dict[type, int] = {cls: tag for tag, cls in enumerate(MESSAGES)}
typed_equality(*MESSAGES)
#: any wire message
Message = Union[TaskSpec, ActorInit, Reply, Cancel, Exit, Hello, RefsDelta, TaskDone, Submit, PutObject, Request,
                RequestCancel, ActorReady, ActorFailed, GeneratorItem]


def encode(msg: Message) -> bytes:
    """The bytes of ``msg`` on the wire: a pickled ``(tag, *field values)``."""
    return pickle.dumps((_TAGS[type(msg)], *msg), protocol=5)


def decode(data: bytes) -> Message:
    """The message :func:`encode` wrote."""
    tag, *values = pickle.loads(data)
    return MESSAGES[tag]._make(values)

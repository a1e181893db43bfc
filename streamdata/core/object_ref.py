"""``ObjectRef``: a reference to an object owned by the driver.

Each process counts the ObjectRefs it holds per object id; only the transitions
0→1 and 1→0 are reported to the driver (queued here, flushed by the process's
runtime client before its next message), so the driver frees an object when no
process, no pending task and no containing object holds it.
"""

from __future__ import annotations

import threading
import types
from collections import deque
from typing import Any, Callable

from streamdata.core import context, serialization


class RefTracker:
    """Per-process reference counts with a queue of transitions to report.

    Example:
        >>> t = RefTracker()
        >>> t.incr("a"); t.incr("a"); t.decr("a")
        >>> t.drain()
        [(1, 'a')]
    """

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._pending: deque[tuple[int, str]] = deque()
        self._lock = threading.RLock()
        self.on_pending: Callable[[], None] | None = None

    def incr(self, obj_id: str) -> None:
        with self._lock:
            count = self._counts.get(obj_id, 0)
            self._counts[obj_id] = count + 1
            if count == 0:
                self._pending.append((1, obj_id))

    def decr(self, obj_id: str) -> None:
        with self._lock:
            count = self._counts.get(obj_id, 0) - 1
            if count > 0:
                self._counts[obj_id] = count
                return
            self._counts.pop(obj_id, None)
            if count == 0:
                self._pending.append((-1, obj_id))
        hook = self.on_pending
        if hook is not None:
            hook()

    def drain(self) -> list[tuple[int, str]]:
        """Take the queued transitions, in order. Cancelling pairs are kept:
        order matters when another message pinned the object in between."""
        out = []
        pending = self._pending
        while pending:
            try:
                out.append(pending.popleft())
            except IndexError:
                break
        return out

    def held(self) -> int:
        return len(self._counts)


#: the tracker of this process
tracker = RefTracker()


class ObjectRef:
    """A reference to a (possibly not yet computed) object.

    Pass it to tasks (top-level arguments are resolved to values), ``sd.get`` it,
    ``await`` it in async code.
    """

    __slots__ = ("_id", "__weakref__")

    #: ``ObjectRef[T]`` in annotations (as Ray's ObjectRef is generic)
    __class_getitem__ = classmethod(types.GenericAlias)

    def __init__(self, obj_id: str) -> None:
        self._id = obj_id
        tracker.incr(obj_id)

    def __del__(self) -> None:
        try:
            tracker.decr(self._id)
        except Exception:  # interpreter shutdown
            pass

    def hex(self) -> str:
        return self._id

    @property
    def id(self) -> str:
        return self._id

    def __reduce__(self) -> tuple:
        contained = serialization.current_contained_ids()
        if contained is not None:
            contained.append(self._id)
        return (ObjectRef, (self._id,))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectRef) and other._id == self._id

    def __hash__(self) -> int:
        return hash(self._id)

    def __repr__(self) -> str:
        return f"ObjectRef({self._id})"

    def future(self) -> Any:
        """A ``concurrent.futures.Future`` resolved with the value (or the error)."""
        return context.current_client().future(self)

    def __await__(self) -> Any:
        import asyncio
        return asyncio.wrap_future(self.future()).__await__()


class ObjectRefGenerator:
    """The refs a generator task yields (``@sd.remote(num_returns="streaming")``), in order.

    Iterate it (``for ref in gen``, or ``async for`` in async code) and ``sd.get`` each
    ref. Each ref is available as soon as the task yields its item, while the task
    still runs. If the task fails, the next ref after the items it yielded raises the
    task's error when read (then the iteration ends), as Ray's generators do. Refs
    not taken are released when the generator is dropped. Not thread-safe.

    Example:
        >>> import streamdata as sd
        >>> @sd.remote(num_returns="streaming")
        ... def count(n):
        ...     yield from range(n)
        >>> [sd.get(ref) for ref in count.remote(3)]
        [0, 1, 2]
    """

    __class_getitem__ = classmethod(types.GenericAlias)

    def __init__(self, generator_ref: ObjectRef, worker: Any = None) -> None:
        self._refs_ref = generator_ref  # ready when the task has finished (its value: the item count)
        self._next = 0
        self._finished = False

    def __iter__(self) -> "ObjectRefGenerator":
        return self

    def __next__(self) -> ObjectRef:
        if self._finished:
            raise StopIteration
        kind, obj_id = context.current_client().call("stream_next", self._refs_ref.id, self._next)
        if kind == "item":
            self._next += 1
            return ObjectRef(obj_id)
        self._finished = True
        try:
            context.current_backend().get(self._refs_ref, None)
        except Exception:  # noqa: BLE001 - the task failed: its ref carries the error
            return self._refs_ref
        raise StopIteration

    def __aiter__(self) -> "ObjectRefGenerator":
        return self

    async def __anext__(self) -> ObjectRef:
        import asyncio
        ref = await asyncio.get_running_loop().run_in_executor(None, next, self, None)
        if ref is None:  # (StopIteration cannot cross a Future)
            raise StopAsyncIteration
        return ref

    def completed(self) -> ObjectRef:
        """A ref that is ready when the generator task has finished."""
        return self._refs_ref

    def is_finished(self) -> bool:
        """Whether iteration has reached the end of the task's items."""
        return self._finished

    def __repr__(self) -> str:
        return f"ObjectRefGenerator({self._refs_ref.id})"

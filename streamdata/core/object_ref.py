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
    ref. On the local runtime the task's items become available when the task
    finishes (they are not streamed while it runs); a failed task raises its error
    on the first ``next``.

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
        self._refs_ref = generator_ref  # its value: the list of the items' refs
        self._refs: list | None = None
        self._next = 0

    def _load(self) -> list:
        if self._refs is None:
            self._refs = context.current_backend().get(self._refs_ref, None)
        return self._refs

    def __iter__(self) -> "ObjectRefGenerator":
        return self

    def __next__(self) -> ObjectRef:
        refs = self._load()
        if self._next >= len(refs):
            raise StopIteration
        self._next += 1
        return refs[self._next - 1]

    def __aiter__(self) -> "ObjectRefGenerator":
        return self

    async def __anext__(self) -> ObjectRef:
        import asyncio
        if self._refs is None:
            self._refs = await self._refs_ref
        try:
            return self.__next__()
        except StopIteration:
            raise StopAsyncIteration from None
        finally:
            await asyncio.sleep(0)

    def completed(self) -> ObjectRef:
        """A ref that is ready when the generator task has finished."""
        return self._refs_ref

    def is_finished(self) -> bool:
        return self._refs is not None and self._next >= len(self._refs)

    def __repr__(self) -> str:
        return f"ObjectRefGenerator({self._refs_ref.id})"


class GeneratorTask:
    """Runs a generator function in the worker and stores each item it yields as an object."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn
        self.__name__ = getattr(fn, "__name__", "generator")

    def __call__(self, *args: Any, **kwargs: Any) -> list:
        result = self.fn(*args, **kwargs)
        if not hasattr(result, "__iter__") or isinstance(result, (str, bytes, dict)):
            raise TypeError(f"{self.__name__} was declared with num_returns='streaming' but returned "
                            f"{type(result).__name__}, not a generator")
        backend = context.current_backend()
        return [backend.put(item) for item in result]

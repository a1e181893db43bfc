"""``@sd.serve.batch``: callers pass one item and await one result; the decorated
body gets a list of items and returns a list of results (Ray Serve's).

A batch starts when the first item arrives and closes when it holds
``max_batch_size`` items or ``batch_wait_timeout_s`` has passed since it
started; at most ``max_concurrent_batches`` batches run at once, and items that
arrive meanwhile wait for the next batch (so batches grow under load). With
``batch_size_fn`` a batch's size is what that function says of its items (e.g.
their total tokens) instead of their count: a batch takes items in order while
the size stays within ``max_batch_size``, and an item too big on its own fails
its caller with a RuntimeError (as Ray). One
queue exists per decorated function (per instance, for methods) and per event
loop. A body that raises fails every caller of that batch with its exception;
a body that returns the wrong number of results fails them all with
:class:`~streamdata.errors.UDFReturnError`.

A body that is an async generator streams: each list it yields holds the next result
of every caller, whose call is then an async generator of its results (a
``StopIteration`` in a caller's place ends that caller's stream). The decorated
function's ``set_max_batch_size(n)`` and ``set_batch_wait_timeout_s(s)`` change its
batches from then on (a deployment's ``reconfigure`` may call them), as Ray's.

Example:
    >>> import asyncio
    >>> from streamdata import serve
    >>> @serve.batch(max_batch_size=4, batch_wait_timeout_s=0.1)
    ... async def double(items):
    ...     return [2 * x for x in items]
    >>> async def main():
    ...     return await asyncio.gather(*(double(i) for i in range(6)))
    >>> asyncio.run(main())
    [0, 2, 4, 6, 8, 10]
"""

from __future__ import annotations

import asyncio
import collections
import functools
import inspect
import threading
import uuid
import weakref
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from streamdata.errors import UDFReturnError, describe

_stats_lock = threading.Lock()
#: batch sizes run in this process, per batched function: {name: {size: count}}
_BATCH_SIZES: dict[str, collections.Counter] = {}


def batch_size_counts() -> dict[str, dict[int, int]]:
    """How many batches of each size every ``@batch`` function of this process ran.

    Example:
        >>> isinstance(batch_size_counts(), dict)
        True
    """
    with _stats_lock:
        return {name: dict(counts) for name, counts in _BATCH_SIZES.items()}


def _record(name: str, size: int) -> None:
    with _stats_lock:
        _BATCH_SIZES.setdefault(name, collections.Counter())[size] += 1


@dataclass
class BatchSettings:
    """A batched function's settings, shared by its queues (its setters change them)."""

    max_batch_size: int
    batch_wait_timeout_s: float
    max_concurrent_batches: int
    batch_size_fn: Callable[[list], int] | None = None


class _Stream:
    """One caller's results of a streaming batch body, as they come (future-like for the
    queue: ``done``, ``set_result`` ends it, ``set_exception`` fails it)."""

    _END = object()

    def __init__(self) -> None:
        self.results: asyncio.Queue = asyncio.Queue()
        self._done = False

    def done(self) -> bool:
        return self._done

    def put(self, result: Any) -> None:
        if not self._done:
            self.results.put_nowait(result)

    def set_result(self, _: Any = None) -> None:
        if not self._done:
            self._done = True
            self.results.put_nowait(self._END)

    def set_exception(self, exc: BaseException) -> None:
        if not self._done:
            self._done = True
            self.results.put_nowait(exc)

    async def __aiter__(self) -> Any:
        while True:
            result = await self.results.get()
            if result is self._END:
                return
            if isinstance(result, BaseException):
                raise result
            yield result


class _BatchQueue:
    """The pending items of one batched function on one event loop."""

    def __init__(self, body: Callable[[list], Any], name: str, settings: BatchSettings) -> None:
        self._body = body
        self._settings = settings
        self._name = name
        self._items: collections.deque[tuple[Any, Any]] = collections.deque()
        self._arrived = asyncio.Event()
        self._slots = asyncio.Semaphore(settings.max_concurrent_batches)
        self._loop_task: asyncio.Task | None = None
        self._running: set[asyncio.Task] = set()

    @property
    def _max(self) -> int:
        return self._settings.max_batch_size

    @property
    def _size_fn(self) -> Callable[[list], int] | None:
        return self._settings.batch_size_fn

    def _enqueue(self, item: Any, waiter: Any) -> None:
        self._items.append((item, waiter))
        self._arrived.set()
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.get_running_loop().create_task(self._form_batches())

    async def submit(self, item: Any) -> Any:
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._enqueue(item, fut)
        return await fut

    def submit_stream(self, item: Any) -> _Stream:
        """Queue ``item`` for a streaming body; its results arrive on the returned stream."""
        stream = _Stream()
        self._enqueue(item, stream)
        return stream

    def _live(self) -> int:
        while self._items and self._items[0][1].done():  # callers that gave up
            self._items.popleft()
        return sum(1 for _, fut in self._items if not fut.done())

    def _size(self, items: list) -> int:
        """The size of a batch of ``items`` (``batch_size_fn`` or their count)."""
        if self._size_fn is None:
            return len(items)
        size = self._size_fn(items)
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError(f"@serve.batch batch_size_fn of {self._name!r} must return an int, got {describe(size)}")
        return size

    def _pending_size(self) -> int:
        if self._size_fn is None:
            return self._live()
        self._live()
        return self._size([item for item, fut in self._items if not fut.done()])

    def _take(self) -> list[tuple[Any, asyncio.Future]]:
        """The next batch: items in order while the batch's size stays within the limit."""
        batch: list[tuple[Any, asyncio.Future]] = []
        while self._items:
            item, fut = self._items[0]
            if fut.done():
                self._items.popleft()
                continue
            if self._size_fn is None:
                if len(batch) >= self._max:
                    break
            else:
                try:
                    size = self._size([i for i, _ in batch] + [item])
                except Exception as exc:  # noqa: BLE001 - the caller whose item broke it gets the error
                    self._items.popleft()
                    fut.set_exception(exc)
                    continue
                if size > self._max:
                    if batch:
                        break
                    self._items.popleft()
                    fut.set_exception(RuntimeError(
                        f"@serve.batch {self._name!r}: the size of an item ({size}, from batch_size_fn) is greater "
                        f"than max_batch_size={self._max}; raise max_batch_size or check batch_size_fn"))
                    continue
            self._items.popleft()
            batch.append((item, fut))
        return batch

    async def _form_batches(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._live():
                self._arrived.clear()
                await self._arrived.wait()
                continue
            await self._slots.acquire()
            deadline = loop.time() + self._settings.batch_wait_timeout_s
            while self._filling():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                self._arrived.clear()
                try:
                    await asyncio.wait_for(self._arrived.wait(), remaining)
                except asyncio.TimeoutError:
                    break
            batch = self._take()
            if not batch:
                self._slots.release()
                continue
            task = loop.create_task(self._run_batch(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    def _filling(self) -> bool:
        """Whether the waiting items are short of a full batch."""
        try:
            return self._pending_size() < self._max
        except Exception:  # noqa: BLE001 - _take fails the item that breaks batch_size_fn
            return False

    async def _run_batch(self, batch: list[tuple[Any, Any]]) -> None:
        futures = [fut for _, fut in batch]
        try:
            _record(self._name, len(batch))
            out = self._body([item for item, _ in batch])
            if inspect.isasyncgen(out):
                await self._stream_results(out, futures)
                return
            results = _as_results(await out, len(batch), self._name)
        except BaseException as exc:  # noqa: BLE001 - every caller of the batch gets it
            for fut in futures:
                if not fut.done():
                    fut.set_exception(exc)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
        else:
            for fut, result in zip(futures, results):
                if not fut.done():
                    fut.set_result(result)
        finally:
            self._slots.release()

    async def _stream_results(self, out: Any, streams: list[_Stream]) -> None:
        """Hand each list a streaming body yields to its callers, one result each."""
        async for results in out:
            for stream, result in zip(streams, _as_results(results, len(streams), self._name)):
                if result is StopIteration or isinstance(result, StopIteration):
                    stream.set_result()
                else:
                    stream.put(result)
        for stream in streams:
            stream.set_result()


def _as_results(results: Any, n: int, name: str) -> list[Any]:
    if isinstance(results, (str, bytes, dict)) or not hasattr(results, "__len__") \
            or not hasattr(results, "__iter__"):
        raise UDFReturnError(f"@serve.batch function {name!r} must return a list with one result per "
                             f"input ({n} inputs), got {describe(results)}")
    if len(results) != n:
        raise UDFReturnError(f"@serve.batch function {name!r} returned {len(results)} results for a batch "
                             f"of {n} inputs; it must return a list with one result per input")
    return list(results)


def _check_params(max_batch_size: Any, batch_wait_timeout_s: Any, max_concurrent_batches: Any) -> None:
    if isinstance(max_batch_size, bool) or not isinstance(max_batch_size, int) or max_batch_size < 1:
        raise ValueError(f"max_batch_size must be an int >= 1, got {max_batch_size!r}")
    if isinstance(batch_wait_timeout_s, bool) or not isinstance(batch_wait_timeout_s, (int, float)) \
            or batch_wait_timeout_s < 0:
        raise ValueError(f"batch_wait_timeout_s must be a number >= 0, got {batch_wait_timeout_s!r}")
    if isinstance(max_concurrent_batches, bool) or not isinstance(max_concurrent_batches, int) \
            or max_concurrent_batches < 1:
        raise ValueError(f"max_concurrent_batches must be an int >= 1, got {max_concurrent_batches!r}")


_queues_lock = threading.Lock()
#: queues of batched functions: event loop -> {batch id: queue}
_FUNCTION_QUEUES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: queues of batched methods: instance -> {batch id: (weakref to the loop, queue)}
_METHOD_QUEUES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _queue_for(batch_id: str, name: str, fn: Callable, owner: Any,
               settings: BatchSettings) -> _BatchQueue:
    """The queue of ``fn`` (bound to ``owner`` for a method) on the running loop."""
    loop = asyncio.get_running_loop()
    with _queues_lock:
        if owner is None:
            queues = _FUNCTION_QUEUES.setdefault(loop, {})
            queue = queues.get(batch_id)
            if queue is None:
                queue = queues[batch_id] = _BatchQueue(fn, name, settings)
            return queue
        try:
            per_owner = _METHOD_QUEUES.setdefault(owner, {})
            owner_ref = weakref.ref(owner)  # the queue must not keep its instance alive
        except TypeError:  # not weak-referenceable: keep the queues on the instance
            per_owner = owner.__dict__.setdefault("__sd_batch_queues__", {})
            owner_ref = lambda: owner  # noqa: E731 - a cycle through the instance, freed with it
        entry = per_owner.get(batch_id)
        if entry is None or entry[0]() is not loop:
            def body(items: list, _ref: Callable[[], Any] = owner_ref) -> Awaitable[Any]:
                return fn(_ref(), items)
            entry = per_owner[batch_id] = (weakref.ref(loop), _BatchQueue(body, name, settings))
        return entry[1]


def batch(_func: Callable | None = None, *, max_batch_size: int = 10, batch_wait_timeout_s: float = 0.01,
          max_concurrent_batches: int = 1, batch_size_fn: Callable[[list], int] | None = None) -> Any:
    """Batch the calls of an async function or method (``@batch`` or ``@batch(...)``).

    Args:
        max_batch_size: the most items in one call of the body.
        batch_wait_timeout_s: how long a batch waits to fill after its first item.
        max_concurrent_batches: how many calls of the body may run at once.
        batch_size_fn: the size of a list of items (None: their count); batches are
            kept within ``max_batch_size`` of that size.

    The body takes ``(self, items)`` for a method or ``(items)`` for a function;
    callers call it with one item and get one result.

    Example:
        >>> import asyncio
        >>> class Model:
        ...     @batch(max_batch_size=2)
        ...     async def __call__(self, items):
        ...         return [len(items)] * len(items)
        >>> m = Model()
        >>> async def main():
        ...     return await asyncio.gather(m(1), m(2), m(3))
        >>> asyncio.run(main())
        [2, 2, 1]
    """
    _check_params(max_batch_size, batch_wait_timeout_s, max_concurrent_batches)
    if batch_size_fn is not None and not callable(batch_size_fn):
        raise TypeError(f"batch_size_fn must be a callable or None, got {type(batch_size_fn).__name__}")

    def decorate(fn: Callable) -> Callable:
        streaming = inspect.isasyncgenfunction(fn)
        if not inspect.iscoroutinefunction(fn) and not streaming:
            raise TypeError(f"@serve.batch needs an async function or async generator (async def), got {fn!r}")
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(params) not in (1, 2):
            raise TypeError(f"@serve.batch function {fn.__qualname__!r} must take the list of items "
                            "(and self, for a method) as its only argument(s)")
        is_method = len(params) == 2
        name = fn.__qualname__
        # the queues live in module-level registries, not in this closure, so the
        # decorated function (and a class holding it) stays picklable
        batch_id = f"{fn.__module__}.{name}:{uuid.uuid4().hex}"
        settings = BatchSettings(max_batch_size, batch_wait_timeout_s, max_concurrent_batches, batch_size_fn)

        def queue_and_item(args: tuple, kwargs: dict) -> tuple[_BatchQueue, Any]:
            if kwargs:
                raise TypeError(f"{name}() batches one positional item per call; got keyword arguments "
                                f"{sorted(kwargs)}")
            expected = 2 if is_method else 1
            if len(args) != expected:
                raise TypeError(f"{name}() takes one item per call, got {len(args) - expected + 1} arguments")
            owner, item = (args[0], args[1]) if is_method else (None, args[0])
            return _queue_for(batch_id, name, fn, owner, settings), item

        if streaming:
            @functools.wraps(fn)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                queue, item = queue_and_item(args, kwargs)
                async for result in queue.submit_stream(item):
                    yield result
        else:
            @functools.wraps(fn)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                queue, item = queue_and_item(args, kwargs)
                return await queue.submit(item)

        def set_max_batch_size(new_max_batch_size: int) -> None:
            _check_params(new_max_batch_size, settings.batch_wait_timeout_s, settings.max_concurrent_batches)
            settings.max_batch_size = new_max_batch_size

        def set_batch_wait_timeout_s(new_batch_wait_timeout_s: float) -> None:
            _check_params(settings.max_batch_size, new_batch_wait_timeout_s, settings.max_concurrent_batches)
            settings.batch_wait_timeout_s = new_batch_wait_timeout_s

        wrapper.set_max_batch_size = set_max_batch_size  # type: ignore[attr-defined]
        wrapper.set_batch_wait_timeout_s = set_batch_wait_timeout_s  # type: ignore[attr-defined]
        wrapper._get_max_batch_size = lambda: settings.max_batch_size  # type: ignore[attr-defined]
        wrapper._get_batch_wait_timeout_s = lambda: settings.batch_wait_timeout_s  # type: ignore[attr-defined]
        wrapper.__sd_batch__ = settings  # type: ignore[attr-defined]
        return wrapper

    if _func is not None:
        if not callable(_func):
            raise TypeError("use @serve.batch or @serve.batch(max_batch_size=..., ...)")
        return decorate(_func)
    return decorate


__all__ = ["batch", "batch_size_counts"]

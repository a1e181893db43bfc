"""Ray's ``ray.util.queue``: a first-in first-out queue that tasks and actors share.

The queue lives in an actor (asyncio-backed, so blocking ``get``/``put`` calls wait
there without holding a thread); the ``Queue`` object is a small handle that can be
passed to tasks and actors.

Example:
    >>> import streamdata as sd
    >>> q = Queue(maxsize=10)
    >>> @sd.remote
    ... def produce(queue, n):
    ...     for i in range(n):
    ...         queue.put(i)
    >>> sd.get(produce.remote(q, 3))
    >>> [q.get(timeout=10) for _ in range(3)]
    [0, 1, 2]
    >>> q.empty()
    True
    >>> try:
    ...     q.get_nowait()
    ... except Empty:
    ...     print("empty")
    empty
    >>> q.shutdown()
"""

from __future__ import annotations

import asyncio
import queue as _stdlib_queue
from collections.abc import Iterable
from typing import Any

from streamdata.core import api

__all__ = ["Queue", "Empty", "Full"]


class Empty(_stdlib_queue.Empty):
    """Raised by ``get``/``get_nowait`` on an empty queue (a ``queue.Empty``)."""


class Full(_stdlib_queue.Full):
    """Raised by ``put``/``put_nowait`` on a full queue (a ``queue.Full``)."""


class _QueueActor:
    """The queue's state, in an async actor."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.queue: asyncio.Queue = asyncio.Queue(maxsize)

    def qsize(self) -> int:
        return self.queue.qsize()

    def empty(self) -> bool:
        return self.queue.empty()

    def full(self) -> bool:
        return self.queue.full()

    async def put(self, item: Any, timeout: float | None = None) -> None:
        try:
            await asyncio.wait_for(self.queue.put(item), timeout)
        except asyncio.TimeoutError:
            raise Full(f"the queue stayed full for {timeout} s (maxsize {self.maxsize})") from None

    async def get(self, timeout: float | None = None) -> Any:
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except asyncio.TimeoutError:
            raise Empty(f"the queue stayed empty for {timeout} s") from None

    async def put_nowait(self, item: Any) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            raise Full(f"the queue is full (maxsize {self.maxsize})") from None

    async def put_nowait_batch(self, items: list) -> None:
        if self.maxsize > 0 and len(items) + self.queue.qsize() > self.maxsize:
            raise Full(f"Cannot add {len(items)} items to queue of size {self.queue.qsize()} and maxsize "
                       f"{self.maxsize}.")
        for item in items:
            self.queue.put_nowait(item)

    async def get_nowait(self) -> Any:
        try:
            return self.queue.get_nowait()
        except asyncio.QueueEmpty:
            raise Empty("the queue is empty") from None

    async def get_nowait_batch(self, num_items: int) -> list:
        if num_items > self.queue.qsize():
            raise Empty(f"Cannot get {num_items} items from queue of size {self.queue.qsize()}.")
        return [self.queue.get_nowait() for _ in range(num_items)]


def _check_timeout(timeout: float | None) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
        raise ValueError(f"'timeout' must be a non-negative number or None, got {timeout!r}")
    return float(timeout)


def _call(ref: Any) -> Any:
    """``get`` a queue call, raising Empty/Full as themselves (not wrapped in a TaskError)."""
    try:
        return api.get(ref)
    except Empty as e:
        raise Empty(_message(e)) from None
    except Full as e:
        raise Full(_message(e)) from None


def _message(error: BaseException) -> str:
    cause = getattr(error, "cause", None) or getattr(error, "__cause__", None)
    return str(cause) if isinstance(cause, (Empty, Full)) else str(error).splitlines()[-1]


class Queue:
    """A FIFO queue shared by the driver, tasks and actors (Ray's ``ray.util.queue.Queue``).

    Args:
        maxsize: the most items it holds (0: no limit); ``put`` waits (or raises
            ``Full``) when it is full.
        actor_options: options of the queue's actor (``.options(**actor_options)``),
            e.g. ``{"name": "q"}``.
    """

    def __init__(self, maxsize: int = 0, actor_options: dict | None = None) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int):
            raise TypeError(f"Queue(maxsize=...) must be an int (0: no limit), got {maxsize!r}")
        if actor_options is not None and not isinstance(actor_options, dict):
            raise TypeError(f"Queue(actor_options=...) must be a dict of actor options, got "
                            f"{type(actor_options).__name__}")
        self.maxsize = maxsize
        self.actor = api.remote(_QueueActor).options(**(actor_options or {})).remote(maxsize)

    def _handle(self) -> Any:
        if self.actor is None:
            raise RuntimeError("this Queue was shut down (Queue.shutdown())")
        return self.actor

    def __len__(self) -> int:
        return self.size()

    def size(self) -> int:
        """How many items are in the queue now."""
        return api.get(self._handle().qsize.remote())

    def qsize(self) -> int:
        """As :meth:`size` (``queue.Queue``'s name)."""
        return self.size()

    def empty(self) -> bool:
        """Whether the queue is empty now."""
        return api.get(self._handle().empty.remote())

    def full(self) -> bool:
        """Whether the queue is full now."""
        return api.get(self._handle().full.remote())

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Add ``item``; if full, wait (up to ``timeout`` seconds) when ``block``, else raise ``Full``.

        Raises:
            Full: the queue is full (and stayed full for ``timeout`` seconds).
        """
        if not block:
            return _call(self._handle().put_nowait.remote(item))
        _call(self._handle().put.remote(item, _check_timeout(timeout)))

    async def put_async(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """As :meth:`put`, awaitable in async code."""
        ref = (self._handle().put_nowait.remote(item) if not block
               else self._handle().put.remote(item, _check_timeout(timeout)))
        try:
            return await ref
        except Full as e:
            raise Full(_message(e)) from None

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """Take the oldest item; if empty, wait (up to ``timeout`` seconds) when ``block``, else raise ``Empty``.

        Raises:
            Empty: the queue is empty (and stayed empty for ``timeout`` seconds).
        """
        if not block:
            return _call(self._handle().get_nowait.remote())
        return _call(self._handle().get.remote(_check_timeout(timeout)))

    async def get_async(self, block: bool = True, timeout: float | None = None) -> Any:
        """As :meth:`get`, awaitable in async code."""
        ref = (self._handle().get_nowait.remote() if not block
               else self._handle().get.remote(_check_timeout(timeout)))
        try:
            return await ref
        except Empty as e:
            raise Empty(_message(e)) from None

    def put_nowait(self, item: Any) -> None:
        """``put(item, block=False)``."""
        return self.put(item, block=False)

    def put_nowait_batch(self, items: Iterable) -> None:
        """Add all ``items`` at once, or none of them if they do not fit (``Full``)."""
        if not isinstance(items, Iterable) or isinstance(items, (str, bytes)):
            raise TypeError(f"Argument 'items' must be an Iterable of items, got {type(items).__name__}")
        _call(self._handle().put_nowait_batch.remote(list(items)))

    def get_nowait(self) -> Any:
        """``get(block=False)``."""
        return self.get(block=False)

    def get_nowait_batch(self, num_items: int) -> list:
        """Take ``num_items`` items at once, or none if fewer are there (``Empty``)."""
        if isinstance(num_items, bool) or not isinstance(num_items, int):
            raise TypeError(f"Argument 'num_items' must be an int, got {num_items!r}")
        if num_items < 0:
            raise ValueError(f"'num_items' must be nonnegative, got {num_items}")
        return _call(self._handle().get_nowait_batch.remote(num_items))

    def shutdown(self, force: bool = False, grace_period_s: int = 5) -> None:
        """Stop the queue's actor; calls still waiting in it fail. Items left are lost.

        Args:
            force: kill at once, without waiting for calls in progress.
            grace_period_s: how long to wait for calls in progress before killing.
        """
        if self.actor is None:
            return
        actor, self.actor = self.actor, None
        if not force:
            api.wait([actor.qsize.remote()], timeout=grace_period_s)
        api.kill(actor, no_restart=True)

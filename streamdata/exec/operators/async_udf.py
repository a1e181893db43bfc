"""Async UDFs (``async def`` functions or ``__call__`` s, and async generators), as Ray
Data runs them: one event loop per process, in its own thread; up to ``max_concurrency``
items of one task in flight at once; outputs in input order; the user's exception
re-raised as it was (same type).

Example:
    >>> import asyncio
    >>> async def double(x):
    ...     await asyncio.sleep(0)
    ...     return x * 2
    >>> [out for outs in run_ordered(double, iter([1, 2, 3]), max_concurrency=2) for out in outs]
    [2, 4, 6]
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

#: batches of one task in flight at once (Ray's default for async map_batches UDFs)
ASYNC_BATCH_CONCURRENCY = 4
#: rows of one task in flight at once (Ray's default for async row UDFs)
ASYNC_ROW_CONCURRENCY = 16

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def is_async(fn: Any) -> bool:
    """Whether calling ``fn`` (a function or an instance with ``__call__``) gives a
    coroutine or an async generator.

    Example:
        >>> async def f(x): return x
        >>> is_async(f), is_async(len)
        (True, False)
    """
    target = fn if inspect.isfunction(fn) or inspect.ismethod(fn) else getattr(fn, "__call__", None)
    return inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)


def _event_loop() -> asyncio.AbstractEventLoop:
    """This process's loop for async UDFs (started once, in a daemon thread)."""
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="streamdata-async-udf",
                             daemon=True).start()
            _loop = loop
        return _loop


async def _outputs(fn: Callable[[Any], Any], item: Any) -> list[Any]:
    result = fn(item)
    if inspect.isasyncgen(result):
        return [out async for out in result]  # unrolled here, so the concurrency cap holds
    if inspect.isawaitable(result):
        return [await result]
    return [result]


def run_ordered(fn: Callable[[Any], Any], items: Iterator[Any], *,
                max_concurrency: int) -> Iterator[list[Any]]:
    """``fn`` over ``items`` on the async loop, at most ``max_concurrency`` at once; yields
    each item's outputs (a list: one for a coroutine, all yielded for an async generator)
    in input order. The first exception is raised as the user raised it."""
    loop = _event_loop()
    pending: deque[Future[list[Any]]] = deque()
    try:
        for item in items:
            pending.append(asyncio.run_coroutine_threadsafe(_outputs(fn, item), loop))
            while len(pending) >= max(1, max_concurrency):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:  # an error or an abandoned consumer: stop the rest
            future.cancel()

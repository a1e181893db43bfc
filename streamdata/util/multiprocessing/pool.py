"""``Pool``: Python's ``multiprocessing.Pool`` API on actors (Ray's ``ray.util.multiprocessing.Pool``).

Each of the pool's processes is an actor holding no CPU (as Ray's: the pool's
size is the parallelism, and a pool never blocks other work from being scheduled);
work goes to them in chunks of items, each chunk one actor call.

Example:
    >>> def add(a, b):
    ...     return a + b
    >>> pool = Pool(processes=2)
    >>> pool.starmap(add, [(1, 2), (3, 4)])
    [3, 7]
    >>> pool.apply(add, (5, 6))
    11
    >>> list(pool.imap(abs, [-1, -2, -3]))
    [1, 2, 3]
    >>> pool.close(); pool.join()
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any, Callable, Iterator

from streamdata.core import api
from streamdata.util.multiprocessing.results import AsyncResult, IMapIterator, ItemError


class PoolActor:
    """One process of the pool: runs the initializer once, then chunks of calls."""

    def __init__(self, initializer: Callable | None = None, initargs: tuple = ()) -> None:
        if initializer is not None:
            initializer(*initargs)

    def ping(self) -> bool:
        return True

    def run_batch(self, func: Callable, batch: list[tuple[tuple, dict]]) -> list:
        out: list = []
        for args, kwargs in batch:
            try:
                out.append(func(*args, **kwargs))
            except Exception as e:  # noqa: BLE001 - an item's error is that item's result
                out.append(ItemError(e))
        return out


def _check_callable(value: Any, what: str, optional: bool = False) -> None:
    if (value is None and optional) or callable(value):
        return
    raise TypeError(f"Pool.{what} must be a callable{' or None' if optional else ''}, got {type(value).__name__}")


def _check_chunksize(chunksize: Any, what: str) -> None:
    if chunksize is not None and (isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1):
        raise ValueError(f"Pool.{what}(chunksize=...) must be None or an int >= 1, got {chunksize!r}")


def _chunks(items: Iterator[tuple[tuple, dict]], size: int) -> Iterator[list]:
    while True:
        chunk = list(itertools.islice(items, size))
        if not chunk:
            return
        yield chunk


class Pool:
    """A pool of ``processes`` actor processes with ``multiprocessing.Pool``'s methods.

    Args:
        processes: how many actors (default: the runtime's CPUs). More than the
            runtime's CPUs is a ValueError, as Ray's.
        initializer: called with ``*initargs`` once in each actor when it starts.
        initargs: the initializer's arguments.
        maxtasksperchild: chunks an actor runs before it is replaced by a fresh one
            (None: never replaced).
        context: a ``multiprocessing`` context (accepted for the standard signature;
            actors are the processes here).
        ray_address: the Ray cluster to run on when the runtime is not started yet
            (``"local"``/None: the local runtime, started with ``num_cpus=processes``).
        ray_remote_args: options of the actors (``num_cpus``, ``num_gpus``,
            ``resources``, ``runtime_env``...; default ``num_cpus=0``).
    """

    def __init__(self, processes: int | None = None, initializer: Callable | None = None,
                 initargs: Iterable | None = None, maxtasksperchild: int | None = None, context: Any = None,
                 ray_address: str | None = None, ray_remote_args: dict[str, Any] | None = None) -> None:
        if processes is not None and (isinstance(processes, bool) or not isinstance(processes, int)):
            raise TypeError(f"Pool(processes=...) must be an int or None, got {processes!r}")
        if processes is not None and processes <= 0:
            raise ValueError(f"Pool(processes=...) must be > 0, got {processes}")
        _check_callable(initializer, "initializer", optional=True)
        if initargs is not None and not isinstance(initargs, Iterable):
            raise TypeError(f"Pool(initargs=...) must be an iterable of arguments, got {type(initargs).__name__}")
        if maxtasksperchild is not None and (isinstance(maxtasksperchild, bool)
                                             or not isinstance(maxtasksperchild, int) or maxtasksperchild < 1):
            raise ValueError(f"Pool(maxtasksperchild=...) must be None or an int >= 1, got {maxtasksperchild!r}")
        if ray_remote_args is not None and not isinstance(ray_remote_args, dict):
            raise TypeError(f"Pool(ray_remote_args=...) must be a dict of actor options, got "
                            f"{type(ray_remote_args).__name__}")
        self._initializer = initializer
        self._initargs = tuple(initargs or ())
        self._maxtasksperchild = maxtasksperchild
        self._actor_class = api.remote(PoolActor).options(**{"num_cpus": 0, **(ray_remote_args or {})})
        processes = self._start_runtime(processes, ray_address)
        self._processes = processes
        self._actors: list[list] = [[self._new_actor(), 0] for _ in range(processes)]  # [handle, chunks run]
        self._retired: list[tuple[Any, Any]] = []  # (actor, its last call) to stop once that call is done
        self._next = 0
        self._running = True
        api.get([actor.ping.remote() for actor, _ in self._actors])

    @staticmethod
    def _start_runtime(processes: int | None, ray_address: str | None) -> int:
        if not api.is_initialized():
            if ray_address in (None, "local"):
                api.init(num_cpus=processes)
            else:
                api.init(address=ray_address, backend="ray")
        cpus = int(api.cluster_resources().get("CPU", 0))
        if processes is None:
            return max(cpus, 1)
        if cpus < processes:
            raise ValueError(f"Tried to start a pool with {processes} processes, but the runtime has only {cpus} "
                             "CPUs (Pool(processes=...) may be at most the CPU count, as Ray's)")
        return processes

    def _new_actor(self) -> Any:
        return self._actor_class.remote(self._initializer, self._initargs)

    # ---- dispatch
    def _check_running(self) -> None:
        if not self._running:
            raise ValueError("Pool not running")

    def _submit_chunk(self, func: Callable, chunk: list[tuple[tuple, dict]]) -> Any:
        index = self._next
        self._next = (self._next + 1) % len(self._actors)
        actor, count = self._actors[index]
        ref = actor.run_batch.remote(func, chunk)
        count += 1
        if self._maxtasksperchild is not None and count >= self._maxtasksperchild:
            self._retired.append((actor, ref))
            self._actors[index] = [self._new_actor(), 0]
        else:
            self._actors[index][1] = count
        self._stop_retired(timeout=0)
        return ref

    def _stop_retired(self, timeout: float | None) -> None:
        still = []
        for actor, last in self._retired:
            ready, _ = api.wait([last], timeout=timeout)
            if ready:
                api.kill(actor)
            else:
                still.append((actor, last))
        self._retired = still

    def _chunksize(self, items: list) -> int:
        # as multiprocessing: about four chunks per process
        size, extra = divmod(len(items), self._processes * 4)
        return max(1, size + (1 if extra else 0))

    def _map_refs(self, func: Callable, iterable: Iterable, chunksize: int | None, star: bool, what: str) -> list:
        self._check_running()
        _check_callable(func, f"{what}(func=...)")
        _check_chunksize(chunksize, what)
        if not isinstance(iterable, Iterable):
            raise TypeError(f"Pool.{what}(iterable=...) must be an iterable, got {type(iterable).__name__}")
        items = list(iterable)
        calls = [(tuple(item), {}) if star else ((item,), {}) for item in items]
        size = chunksize or self._chunksize(items)
        return [self._submit_chunk(func, chunk) for chunk in _chunks(iter(calls), size)]

    # ---- multiprocessing.Pool's API
    def apply(self, func: Callable, args: tuple | None = None, kwargs: dict | None = None) -> Any:
        """``func(*args, **kwargs)`` in one of the pool's processes; waits for the result."""
        return self.apply_async(func, args, kwargs).get()

    def apply_async(self, func: Callable, args: tuple | None = None, kwargs: dict | None = None,
                    callback: Callable[[Any], None] | None = None,
                    error_callback: Callable[[Exception], None] | None = None) -> AsyncResult:
        """``func(*args, **kwargs)`` in one of the pool's processes; an :class:`AsyncResult`."""
        self._check_running()
        _check_callable(func, "apply_async(func=...)")
        if kwargs is not None and not isinstance(kwargs, dict):
            raise TypeError(f"Pool.apply_async(kwargs=...) must be a dict, got {type(kwargs).__name__}")
        ref = self._submit_chunk(func, [(tuple(args or ()), dict(kwargs or {}))])
        return AsyncResult([ref], single=True, callback=callback, error_callback=error_callback)

    def map(self, func: Callable, iterable: Iterable, chunksize: int | None = None) -> list:
        """``[func(x) for x in iterable]`` across the pool, in order."""
        return self.map_async(func, iterable, chunksize).get()

    def map_async(self, func: Callable, iterable: Iterable, chunksize: int | None = None,
                  callback: Callable[[list], None] | None = None,
                  error_callback: Callable[[Exception], None] | None = None) -> AsyncResult:
        """As :meth:`map`, returning an :class:`AsyncResult`."""
        return AsyncResult(self._map_refs(func, iterable, chunksize, False, "map_async"), callback=callback,
                           error_callback=error_callback)

    def starmap(self, func: Callable, iterable: Iterable, chunksize: int | None = None) -> list:
        """``[func(*args) for args in iterable]`` across the pool, in order."""
        return self.starmap_async(func, iterable, chunksize).get()

    def starmap_async(self, func: Callable, iterable: Iterable, callback: Callable[[list], None] | None = None,
                      error_callback: Callable[[Exception], None] | None = None,
                      chunksize: int | None = None) -> AsyncResult:
        """As :meth:`starmap`, returning an :class:`AsyncResult`."""
        return AsyncResult(self._map_refs(func, iterable, chunksize, True, "starmap_async"), callback=callback,
                           error_callback=error_callback)

    def _imap(self, func: Callable, iterable: Iterable, chunksize: int | None, ordered: bool,
              what: str) -> IMapIterator:
        self._check_running()
        _check_callable(func, f"{what}(func=...)")
        _check_chunksize(chunksize, what)
        if not isinstance(iterable, Iterable):
            raise TypeError(f"Pool.{what}(iterable=...) must be an iterable, got {type(iterable).__name__}")
        calls = (((item,), {}) for item in iterable)
        return IMapIterator(lambda chunk: self._submit_chunk(func, chunk), _chunks(calls, chunksize or 1),
                            2 * len(self._actors), ordered)

    def imap(self, func: Callable, iterable: Iterable, chunksize: int | None = 1) -> IMapIterator:
        """An iterator of ``func(x)`` for ``x`` in ``iterable``, in order; reads the input lazily."""
        return self._imap(func, iterable, chunksize, True, "imap")

    def imap_unordered(self, func: Callable, iterable: Iterable, chunksize: int | None = 1) -> IMapIterator:
        """As :meth:`imap`, yielding results as they finish."""
        return self._imap(func, iterable, chunksize, False, "imap_unordered")

    # ---- lifecycle
    def close(self) -> None:
        """Accept no more work; the work submitted goes on (then :meth:`join`)."""
        self._running = False

    def terminate(self) -> None:
        """Stop the pool's processes now; work in progress is lost."""
        self._running = False
        for actor, _ in self._actors:
            api.kill(actor)
        for actor, _ in self._retired:
            api.kill(actor)
        self._actors, self._retired = [], []

    def join(self) -> None:
        """Wait for the submitted work to finish and stop the processes (after :meth:`close`)."""
        if self._running:
            raise ValueError("Pool is still running (call close() or terminate() before join())")
        if self._actors:
            api.get([actor.ping.remote() for actor, _ in self._actors])  # calls run in order: all done before
        self._stop_retired(timeout=None)
        for actor, _ in self._actors:
            api.kill(actor)
        self._actors = []

    def __enter__(self) -> "Pool":
        self._check_running()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.terminate()

    def __repr__(self) -> str:
        return f"Pool(processes={self._processes}, {'running' if self._running else 'closed'})"

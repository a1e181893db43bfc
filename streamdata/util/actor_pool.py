"""Ray's ``ActorPool``: spread work over a fixed set of actors.

Example:
    >>> import streamdata as sd
    >>> @sd.remote
    ... class Square:
    ...     def run(self, x):
    ...         return x * x
    >>> pool = ActorPool([Square.remote(), Square.remote()])
    >>> list(pool.map(lambda a, v: a.run.remote(v), [1, 2, 3, 4]))
    [1, 4, 9, 16]
    >>> sorted(pool.map_unordered(lambda a, v: a.run.remote(v), [5, 6]))
    [25, 36]
    >>> pool.submit(lambda a, v: a.run.remote(v), 7)
    >>> pool.get_next()
    49
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

from streamdata.core import api
from streamdata.core.actor import ActorHandle
from streamdata.errors import GetTimeoutError

__all__ = ["ActorPool"]

_TIMEOUT_MSG = "Timed out waiting for result"


def _check_fn(fn: Any, what: str) -> None:
    if not callable(fn):
        raise TypeError(f"ActorPool.{what}(fn=...) must be a callable (actor, value) -> ObjectRef, got "
                        f"{type(fn).__name__}")


class ActorPool:
    """Run ``fn(actor, value)`` calls on a pool of actors, one call per idle actor at a time.

    ``fn`` takes an actor handle and a value and returns the ObjectRef of one
    call on that actor (``lambda a, v: a.method.remote(v)``). Work submitted while
    every actor is busy waits in the pool and starts when an actor frees up.

    Args:
        actors: the actor handles of the pool (at least one).
    """

    def __init__(self, actors: list) -> None:
        actors = list(actors) if isinstance(actors, (list, tuple)) else actors
        if not isinstance(actors, list):
            raise TypeError(f"ActorPool(actors=...) expects a list of actor handles, got {type(actors).__name__}")
        for actor in actors:
            if not isinstance(actor, ActorHandle) and not type(actor).__name__ == "ActorHandle":
                raise TypeError(f"ActorPool(actors=...): {actor!r} is not an actor handle (create actors with "
                                "SomeClass.remote())")
        self._idle_actors = list(actors)
        self._future_to_actor: dict[Any, tuple[int, Any]] = {}
        self._index_to_future: dict[int, Any] = {}
        self._next_task_index = 0
        self._next_return_index = 0
        self._pending_submits: list[tuple[Callable, Any]] = []

    # ---- bulk
    def map(self, fn: Callable[[Any, Any], Any], values: Iterable[Any]) -> Iterator[Any]:
        """Apply ``fn`` to every value; yields the results in the order of ``values``.

        Results of earlier submits not yet fetched are dropped first (as Ray's).
        """
        _check_fn(fn, "map")
        self._drain()
        for value in values:
            self.submit(fn, value)

        def results() -> Iterator[Any]:
            while self.has_next():
                yield self.get_next()
        return results()

    def map_unordered(self, fn: Callable[[Any, Any], Any], values: Iterable[Any]) -> Iterator[Any]:
        """As :meth:`map`, yielding each result as soon as it is ready."""
        _check_fn(fn, "map_unordered")
        self._drain()
        for value in values:
            self.submit(fn, value)

        def results() -> Iterator[Any]:
            while self.has_next():
                yield self.get_next_unordered()
        return results()

    def _drain(self) -> None:
        while self.has_next():
            try:
                self.get_next_unordered(timeout=0, ignore_if_timedout=True)
            except TimeoutError:
                pass

    # ---- one at a time
    def submit(self, fn: Callable[[Any, Any], Any], value: Any) -> None:
        """Run ``fn(actor, value)`` on an idle actor now, or when one frees up."""
        _check_fn(fn, "submit")
        if not self._idle_actors:
            self._pending_submits.append((fn, value))
            return
        actor = self._idle_actors.pop()
        future = fn(actor, value)
        key = tuple(future) if isinstance(future, list) else future
        if not all(api.is_object_ref(ref) for ref in self._as_list(future)) or not self._as_list(future):
            self._idle_actors.append(actor)
            raise TypeError(f"ActorPool: fn(actor, value) must return the ObjectRef of an actor call "
                            f"(e.g. actor.method.remote(value)), got {type(future).__name__}")
        self._future_to_actor[key] = (self._next_task_index, actor)
        self._index_to_future[self._next_task_index] = future
        self._next_task_index += 1

    def has_next(self) -> bool:
        """Whether results (running or waiting to run) are there to fetch."""
        return bool(self._future_to_actor)

    def get_next(self, timeout: float | None = None, ignore_if_timedout: bool = False) -> Any:
        """The next result in submission order (waiting up to ``timeout`` seconds).

        Raises:
            StopIteration: nothing was submitted.
            TimeoutError: not ready in ``timeout``; with ``ignore_if_timedout`` the
                result is dropped too (its actor goes back to the pool).
            ValueError: after :meth:`get_next_unordered` took results out of order.
        """
        if not self.has_next():
            raise StopIteration("No more results to get")
        if self._next_return_index >= self._next_task_index:
            raise ValueError("It is not allowed to call get_next() after get_next_unordered().")
        future = self._index_to_future[self._next_return_index]
        ignored = False
        if timeout is not None:
            ready, _ = api.wait(self._as_list(future), num_returns=len(self._as_list(future)), timeout=timeout)
            if len(ready) < len(self._as_list(future)):
                if not ignore_if_timedout:
                    raise GetTimeoutError(_TIMEOUT_MSG)
                ignored = True
        del self._index_to_future[self._next_return_index]
        self._next_return_index += 1
        _, actor = self._future_to_actor.pop(tuple(future) if isinstance(future, list) else future)
        self._return_actor(actor)
        if ignored:
            raise GetTimeoutError(f"{_TIMEOUT_MSG}. The task {future} has been ignored.")
        return api.get(future)

    def get_next_unordered(self, timeout: float | None = None, ignore_if_timedout: bool = False) -> Any:
        """Any next result, the first to be ready (waiting up to ``timeout`` seconds).

        Raises:
            StopIteration: nothing was submitted.
            TimeoutError: none ready in ``timeout``.
        """
        if not self.has_next():
            raise StopIteration("No more results to get")
        firsts = {(k[0] if isinstance(k, tuple) else k): k for k in self._future_to_actor}
        ready, _ = api.wait(list(firsts), num_returns=1, timeout=timeout)
        if not ready:
            raise GetTimeoutError(_TIMEOUT_MSG)
        key = firsts[ready[0]]
        index, actor = self._future_to_actor.pop(key)
        self._return_actor(actor)
        future = self._index_to_future.pop(index)
        self._next_return_index = max(self._next_return_index, index + 1)
        return api.get(future)

    # ---- actors
    def has_free(self) -> bool:
        """Whether an actor is idle and no submit waits for one."""
        return bool(self._idle_actors) and not self._pending_submits

    def pop_idle(self) -> Any:
        """Take an idle actor out of the pool (None if there is none)."""
        return self._idle_actors.pop() if self.has_free() else None

    def push(self, actor: Any) -> None:
        """Add ``actor`` to the pool (it may take a waiting submit at once).

        Raises:
            ValueError: the actor is in the pool already.
        """
        busy = [a for _, a in self._future_to_actor.values()]
        if actor in self._idle_actors or actor in busy:
            raise ValueError("Actor already belongs to current ActorPool")
        self._return_actor(actor)

    def _return_actor(self, actor: Any) -> None:
        self._idle_actors.append(actor)
        while self._idle_actors and self._pending_submits:
            self.submit(*self._pending_submits.pop(0))

    @staticmethod
    def _as_list(future: Any) -> list:
        return list(future) if isinstance(future, list) else [future]

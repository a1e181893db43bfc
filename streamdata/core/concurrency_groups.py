"""Actor concurrency groups, as in Ray: ``@sd.remote(concurrency_groups={"io": 2})`` gives
the actor a pool (threaded actor) or :class:`AsyncSlots` (async actor) per group, besides the
default group of ``max_concurrency``; ``@sd.method(concurrency_group="io")`` puts a
method in a group, and ``handle.f.options(concurrency_group="io")`` one call. A group
the actor does not define means the default group, as in Ray (with a warning).

A call travels with its group in the method name (``"f@io"``: no method name holds
an ``@``), so the wire messages need no field for it.

Example:
    >>> class A:
    ...     @staticmethod
    ...     def f(): ...
    >>> check_groups({"io": 2}, A)
    {'io': 2}
    >>> call_target("f", "io"), split_target("f@io"), split_target("f")
    ('f@io', ('f', 'io'), ('f', None))
"""

from __future__ import annotations

import inspect
import warnings
from collections import deque
from typing import Any, Callable

#: the name of the group of the calls no other group claims
DEFAULT_GROUP = "_default"


def check_groups(groups: Any, cls: type) -> dict[str, int]:
    """Validate ``concurrency_groups`` and the groups ``cls``'s methods name."""
    if groups is None:
        groups = {}
    if not isinstance(groups, dict):
        raise TypeError(f"concurrency_groups must be a dict of group name to max concurrency, got {groups!r}")
    for name, limit in groups.items():
        if not isinstance(name, str) or not name or "@" in name or name == DEFAULT_GROUP:
            raise ValueError(f"concurrency_groups: {name!r} is not a usable group name")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValueError(f"concurrency_groups[{name!r}] must be an int >= 1, got {limit!r}")
    for method, group in method_groups(cls).items():
        if group not in groups:  # Ray runs such a method in the default group: so do we, saying so
            warnings.warn(f"{cls.__name__}.{method} is in concurrency group {group!r}, which the actor does "
                          f"not define (concurrency_groups={groups}): it runs in the default group",
                          stacklevel=3)
    return dict(groups)


def method_groups(cls: type) -> dict[str, str]:
    """The methods of ``cls`` that ``@sd.method(concurrency_group=...)`` put in a group."""
    out = {}
    for name, member in inspect.getmembers(cls, predicate=callable):
        group = getattr(member, "__sd_concurrency_group__", None)
        if group is not None:
            out[name] = group
    return out


def call_target(method: str, group: str | None) -> str:
    """The wire name of a call of ``method`` in ``group`` (None: the method's own group)."""
    return method if group is None else f"{method}@{group}"


def split_target(target: str) -> tuple[str, str | None]:
    """``(method, group)`` of a call's wire name."""
    method, _, group = target.partition("@")
    return method, (group or None)


class AsyncSlots:
    """At most ``limit`` calls of an async actor (or of one of its groups) run at once;
    the others wait in arrival order. Used only from the actor's event loop thread.

    As in Ray, which admits calls to the loop from outside it, a call starts when a
    slot is free *at its admission*: the call a finishing one hands its slot to starts
    after the coroutines that finishing call woke (an ``asyncio.Semaphore`` would let a
    call that arrived meanwhile take the slot first).

    Example:
        >>> slots, started = AsyncSlots(1), []
        >>> slots.submit(lambda: started.append("a")); slots.submit(lambda: started.append("b"))
        >>> started
        ['a']
        >>> slots.done(); started
        ['a', 'b']
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.running = 0
        self._queue: deque[Callable[[], None]] = deque()

    def submit(self, start: Callable[[], None]) -> None:
        """Run ``start`` now if a slot is free, else when one is handed on (FIFO)."""
        if self.running < self.limit:
            self.running += 1
            start()
        else:
            self._queue.append(start)

    def done(self) -> None:
        """A call ended: its slot goes to the oldest waiting call, if any."""
        if self._queue:
            self._queue.popleft()()
        else:
            self.running -= 1


class GroupRouter:
    """In the actor's worker: which group a call runs in, and that group's executor
    (a thread pool, or :class:`AsyncSlots` for an async actor)."""

    def __init__(self, cls: type, groups: dict[str, int], max_concurrency: int, is_async: bool) -> None:
        self._methods = method_groups(cls)
        limits = {DEFAULT_GROUP: max_concurrency, **groups}
        if is_async:
            self.executors: dict[str, Any] = {g: AsyncSlots(n) for g, n in limits.items()}
        else:
            import concurrent.futures
            self.executors = {g: concurrent.futures.ThreadPoolExecutor(n, thread_name_prefix=f"actor-{g}")
                              for g, n in limits.items()}

    def route(self, target: str) -> tuple[str, Any]:
        """``(method, executor)`` of a call; a group the actor does not define means the
        default group (as in Ray), with a warning the first time."""
        method, group = split_target(target)
        group = group or self._methods.get(method, DEFAULT_GROUP)
        executor = self.executors.get(group)
        if executor is None:
            warn_undefined(group, sorted(g for g in self.executors if g != DEFAULT_GROUP))
            executor = self.executors[DEFAULT_GROUP]
        return method, executor


_warned: set[str] = set()


def warn_undefined(group: str, defined: list[str]) -> None:
    """Say once per process that calls in ``group`` run in the default group."""
    if group not in _warned:
        _warned.add(group)
        warnings.warn(f"concurrency group {group!r} is not defined on this actor (its groups: {defined}): "
                      "its calls run in the default group", stacklevel=2)

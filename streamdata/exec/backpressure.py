"""Which operators may launch work now: backpressure and the liveness rule (pure).

An operator that launches work may take one more input only while

* it has an input waiting and says it can take it (``should_add_input``),
* one more unit of its work fits the CPU and GPU budgets, and
* its memory usage (its unconsumed outputs, the estimated output of its work in
  flight, what it buffers) plus the estimated output of one more unit stays within
  its allowance (:func:`streamdata.exec.resources.memory_allowances`). An operator
  holding nothing at all may always run one unit, so a budget smaller than one
  block slows the pipeline down instead of stopping it.

A slow consumer (a GPU stage, the user's ``iter_batches`` loop) leaves outputs
unconsumed, so the operators feeding it stop, and the ones feeding those, and
memory stays bounded. The liveness rule: when nothing is in flight anywhere and
the user has nothing left to consume, the most downstream operator that has input
may run one unit regardless of memory, so the pipeline always moves forward.
Operators are visited downstream first, so work that frees memory goes first.

Example:
    >>> from streamdata.exec.resources import OpResourceState
    >>> read = OpResourceState(name="read", queued_inputs=5, output_bytes=900,
    ...                        incremental=ExecutionResources(cpu=1, object_store_memory=100))
    >>> sink = OpResourceState(name="sink", queued_inputs=1, upstream=(0,),
    ...                        incremental=ExecutionResources(cpu=1, object_store_memory=100))
    >>> pick_next([read, sink], budget=1000, limits=ExecutionResources(cpu=2),
    ...           output_queue_empty=True)
    1
"""

from __future__ import annotations

from streamdata.exec.interfaces import ExecutionResources
from streamdata.exec.resources import (
    OpResourceState,
    fits,
    memory_allowances,
    total_usage,
)


def may_launch(i: int, states: list[OpResourceState], allowances: list[float],
               used: ExecutionResources, limits: ExecutionResources) -> bool:
    """Whether operator ``i`` may take one more input now (see the module docstring).

    Example:
        >>> s = OpResourceState(name="m", queued_inputs=1, output_bytes=50,
        ...                     incremental=ExecutionResources(cpu=1, object_store_memory=60))
        >>> may_launch(0, [s], [100.0], ExecutionResources(), ExecutionResources(cpu=1))
        False
    """
    s = states[i]
    if s.completed or s.queued_inputs <= 0 or not s.can_accept:
        return False
    if not s.throttled:
        return True
    if not fits(s, used, limits):
        return False
    usage = s.memory_usage()
    if usage <= 0 and s.active_tasks == 0:
        return True
    return usage + s.incremental.object_store_memory <= allowances[i]


def liveness_pick(states: list[OpResourceState], used: ExecutionResources,
                  limits: ExecutionResources, output_queue_empty: bool) -> int | None:
    """The operator to run when nothing else can: the most downstream one with input.

    Only when nothing is in flight anywhere and the user has nothing waiting to
    consume; None otherwise (the pipeline is moving, or the consumer will make room).

    Example:
        >>> a = OpResourceState(name="a", queued_inputs=1, output_bytes=10**9)
        >>> b = OpResourceState(name="b", queued_inputs=1, output_bytes=10**9)
        >>> liveness_pick([a, b], ExecutionResources(), ExecutionResources(cpu=1), True)
        1
    """
    if not output_queue_empty or any(s.active_tasks > 0 for s in states):
        return None
    for i in range(len(states) - 1, -1, -1):
        s = states[i]
        if not s.completed and s.queued_inputs > 0 and s.can_accept and fits(s, used, limits):
            return i
    return None


def pick_next(states: list[OpResourceState], *, budget: float, limits: ExecutionResources,
              output_queue_empty: bool) -> int | None:
    """The operator to hand one input to now, or None: the most downstream working
    operator allowed by :func:`may_launch`, else the liveness pick.

    Example:
        >>> m = OpResourceState(name="m", queued_inputs=1,
        ...                     incremental=ExecutionResources(cpu=1, object_store_memory=10))
        >>> pick_next([m], budget=100, limits=ExecutionResources(cpu=1), output_queue_empty=False)
        0
    """
    used = total_usage(states)
    allowances = memory_allowances(states, budget)
    for i in range(len(states) - 1, -1, -1):
        if states[i].throttled and may_launch(i, states, allowances, used, limits):
            return i
    chosen = liveness_pick(states, used, limits, output_queue_empty)
    if chosen is not None and states[chosen].throttled:
        return chosen
    return None

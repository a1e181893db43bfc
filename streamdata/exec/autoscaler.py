"""When an actor pool grows or shrinks: a pure policy fed with the pool's state.

The executor builds an :class:`ActorPoolState` for each actor-pool operator on
every loop, asks :func:`decide_scaling`, and applies the answer. Nothing here
touches processes, so the policy is tested with fabricated states.

Example:
    >>> busy = ActorPoolState(min_size=1, max_size=4, num_actors=2, num_pending=0, num_idle=0,
    ...                       tasks_in_flight=8, max_tasks_in_flight_per_actor=4, queued_inputs=3,
    ...                       inputs_done=False, can_afford_one_more=True)
    >>> decide_scaling(busy)
    1
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class ActorPoolState:
    """A snapshot of one actor pool, as the autoscaler sees it.

    Attributes:
        min_size: the pool never shrinks below this while work may still come.
        max_size: the pool never grows above this (None: as resources allow).
        num_actors: live actors, starting ones included.
        num_pending: actors still starting (constructors running).
        num_idle: ready actors with nothing in flight.
        tasks_in_flight: calls submitted and not finished, over all actors.
        max_tasks_in_flight_per_actor: calls one actor may have queued.
        queued_inputs: input bundles waiting for a slot (inside the operator and upstream of it).
        inputs_done: no more input will come.
        can_afford_one_more: the resource budgets have room for one more actor.
    """

    min_size: int
    max_size: int | None
    num_actors: int
    num_pending: int
    num_idle: int
    tasks_in_flight: int
    max_tasks_in_flight_per_actor: int
    queued_inputs: int
    inputs_done: bool
    can_afford_one_more: bool

    def utilization(self) -> float:
        """Calls in flight over the slots of the pool (0 for an empty pool)."""
        slots = self.num_actors * self.max_tasks_in_flight_per_actor
        return self.tasks_in_flight / slots if slots else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class AutoscalingConfig:
    """Thresholds of the policy.

    Attributes:
        scale_up_utilization: grow when utilization reaches this and inputs are waiting.
        scale_down_utilization: shrink (one idle actor at a time) below this with nothing waiting.
    """

    scale_up_utilization: float = 0.8
    scale_down_utilization: float = 0.5


def decide_scaling(state: ActorPoolState, config: AutoscalingConfig = AutoscalingConfig()) -> int:
    """How many actors to add (> 0) or remove (< 0; idle ones only) now.

    Rules, in order:

    1. Below ``min_size`` (and work may still come): start the missing actors.
    2. Inputs done and nothing waiting: remove every idle actor (the pool is finishing).
    3. Inputs waiting, utilization at least ``scale_up_utilization``, no actor still
       starting, below ``max_size`` and the budget has room: add one.
    4. Nothing waiting, an idle actor, above ``min_size`` and utilization below
       ``scale_down_utilization``: remove one.

    Example:
        >>> idle = ActorPoolState(min_size=1, max_size=4, num_actors=3, num_pending=0, num_idle=2,
        ...                       tasks_in_flight=1, max_tasks_in_flight_per_actor=4, queued_inputs=0,
        ...                       inputs_done=False, can_afford_one_more=True)
        >>> decide_scaling(idle)
        -1
    """
    finishing = state.inputs_done and state.queued_inputs == 0
    if finishing:
        return -state.num_idle if state.num_idle else 0
    if state.num_actors < state.min_size:
        return state.min_size - state.num_actors
    below_max = state.max_size is None or state.num_actors < state.max_size
    if (state.queued_inputs > 0 and state.utilization() >= config.scale_up_utilization
            and state.num_pending == 0 and below_max and state.can_afford_one_more):
        return 1
    if (state.queued_inputs == 0 and state.num_idle > 0 and state.num_actors > state.min_size
            and state.utilization() < config.scale_down_utilization):
        return -1
    return 0

"""The executor's policies, fed with fabricated operator states (no processes)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from streamdata.exec.autoscaler import ActorPoolState, decide_scaling
from streamdata.exec.backpressure import (
    liveness_pick,
    may_launch,
    pick_next,
)
from streamdata.exec.interfaces import ExecutionResources as R
from streamdata.exec.resources import (
    OpResourceState,
    PoolSpec,
    can_afford_actor,
    charge_downstream_usage,
    fits,
    memory_allowances,
    object_store_budget,
    plan_cpu_oversubscription,
)

MB = 1024 * 1024


def op(name: str, **kw: object) -> OpResourceState:
    kw.setdefault("incremental", R(cpu=1, object_store_memory=10 * MB))
    return OpResourceState(name=name, **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------- budgets


def test_budget_from_share_or_explicit_limit() -> None:
    assert object_store_budget(1000 * MB, share=0.25) == 250 * MB
    assert object_store_budget(1000 * MB, share=0.25, explicit_limit=7) == 7
    with pytest.raises(ValueError, match="execution_object_store_share"):
        object_store_budget(1, share=0)


def test_allowances_reserve_half_and_share_the_rest() -> None:
    idle = [op("a"), op("b")]
    assert memory_allowances(idle, 400) == [300.0, 300.0]  # 100 reserved each + the 200 shared
    # b uses 250: 150 over its reservation comes out of the shared pool, a keeps 100 + 50
    busy = [op("a"), op("b", output_bytes=250)]
    assert memory_allowances(busy, 400) == [150.0, 300.0]


def test_allowances_ignore_unthrottled_and_completed_operators() -> None:
    states = [op("input", throttled=False), op("map"), op("done", completed=True)]
    allow = memory_allowances(states, 100)
    assert allow[0] == float("inf") and allow[1] == 100.0 and allow[2] == float("inf")


def test_unthrottled_outputs_are_charged_upstream() -> None:
    states = [op("map"), op("limit", throttled=False, internal_bytes=5), op("union", throttled=False)]
    charged = charge_downstream_usage(states, [10.0, 20.0, 30.0], [[1], [2], []])
    assert charged[0] == 10 + 20 + 5 + 30


def test_cpu_and_gpu_budgets_are_separate() -> None:
    gpu_stage = op("model", incremental=R(gpu=1))
    cpu_stage = op("decode", incremental=R(cpu=1))
    limits = R(cpu=2, gpu=1)
    # every CPU busy: the GPU stage still fits, the CPU stage does not
    assert fits(gpu_stage, R(cpu=2, gpu=0), limits)
    assert not fits(cpu_stage, R(cpu=2, gpu=0), limits)
    # the GPU taken: the CPU stage still fits
    assert fits(cpu_stage, R(cpu=1, gpu=1), limits)
    assert not fits(gpu_stage, R(cpu=0, gpu=1), limits)


# ---------------------------------------------------------------- backpressure


def test_producer_stops_when_its_outputs_fill_its_share() -> None:
    budget = 100 * MB
    producer = op("read", queued_inputs=50, output_bytes=95 * MB)
    consumer = op("model", queued_inputs=0, active_tasks=4,
                  incremental=R(object_store_memory=10 * MB), upstream=(0,))
    states = [producer, consumer]
    allow = memory_allowances(states, budget)
    assert not may_launch(0, states, allow, R(), R(cpu=2, gpu=1))
    # once the consumer took most of it, the producer runs again
    states[0] = op("read", queued_inputs=50, output_bytes=20 * MB)
    allow = memory_allowances(states, budget)
    assert may_launch(0, states, allow, R(), R(cpu=2, gpu=1))


def test_slow_consumer_throttles_the_last_operator() -> None:
    last = op("map", queued_inputs=10, output_bytes=200 * MB)  # the user has not taken these
    assert pick_next([last], budget=100 * MB, limits=R(cpu=2), output_queue_empty=False) is None


def dispatch_round(states: list[OpResourceState], *, budget: float, limits: R,
                   output_queue_empty: bool) -> list[int]:
    """The operators pick_next feeds, one input each, in one round (each hand-out
    simulated: the queue shrinks, in-flight output and CPU/GPU use grow)."""
    states = list(states)
    order: list[int] = []
    for _ in range(10_000):
        chosen = pick_next(states, budget=budget, limits=limits, output_queue_empty=output_queue_empty)
        if chosen is None:
            break
        order.append(chosen)
        s, inc = states[chosen], states[chosen].incremental
        states[chosen] = replace(
            s, queued_inputs=s.queued_inputs - 1, active_tasks=s.active_tasks + 1,
            pending_output_bytes=s.pending_output_bytes + inc.object_store_memory,
            current=s.current + R(cpu=inc.cpu, gpu=inc.gpu))
    return order


def test_downstream_first_and_one_round_plan_respects_memory() -> None:
    read = op("read", queued_inputs=100)
    mapper = op("map", queued_inputs=3, upstream=(0,))
    order = dispatch_round([read, mapper], budget=1000 * MB, limits=R(cpu=4), output_queue_empty=True)
    assert order[:3] == [1, 1, 1]  # downstream first
    assert len(order) == 4  # then CPUs run out (4 CPUs, 1 each)
    tight = dispatch_round([op("read", queued_inputs=100)], budget=35 * MB, limits=R(cpu=100),
                            output_queue_empty=True)
    assert len(tight) == 3  # 10 MB per task within 35 MB


def test_an_operator_holding_nothing_may_always_run_one_task() -> None:
    huge = op("read", queued_inputs=5, incremental=R(cpu=1, object_store_memory=10**12))
    assert dispatch_round([huge], budget=10 * MB, limits=R(cpu=2), output_queue_empty=False) == [0]


def test_liveness_rule_picks_most_downstream_when_nothing_runs() -> None:
    a = op("a", queued_inputs=1, output_bytes=10**12)
    b = op("b", queued_inputs=1, output_bytes=10**12, upstream=(0,))
    assert liveness_pick([a, b], R(), R(cpu=1), output_queue_empty=True) == 1
    # not while something runs, nor while the user has output waiting
    running = op("b", queued_inputs=1, output_bytes=10**12, active_tasks=1)
    assert liveness_pick([a, running], R(), R(cpu=1), output_queue_empty=True) is None
    assert liveness_pick([a, b], R(), R(cpu=1), output_queue_empty=False) is None
    assert pick_next([a, b], budget=MB, limits=R(cpu=1), output_queue_empty=True) == 1


def test_liveness_skips_operators_that_cannot_take_input() -> None:
    a = op("a", queued_inputs=1, output_bytes=10**12)
    b = op("b", queued_inputs=1, output_bytes=10**12, can_accept=False)
    assert liveness_pick([a, b], R(), R(cpu=1), output_queue_empty=True) == 0


# ---------------------------------------------------------------- actor pools


def pool(**kw: object) -> ActorPoolState:
    base = dict(min_size=1, max_size=4, num_actors=2, num_pending=0, num_idle=0, tasks_in_flight=8,
                max_tasks_in_flight_per_actor=4, queued_inputs=5, inputs_done=False,
                can_afford_one_more=True)
    base.update(kw)
    return ActorPoolState(**base)  # type: ignore[arg-type]


def test_pool_grows_when_busy_and_work_waits() -> None:
    assert decide_scaling(pool()) == 1
    assert decide_scaling(pool(num_actors=4, tasks_in_flight=16)) == 0  # at max
    assert decide_scaling(pool(can_afford_one_more=False)) == 0
    assert decide_scaling(pool(num_pending=1)) == 0  # one still starting
    assert decide_scaling(pool(queued_inputs=0)) == 0
    assert decide_scaling(pool(tasks_in_flight=2)) == 0  # not busy enough


def test_pool_reaches_min_size_and_shrinks_idle_actors() -> None:
    assert decide_scaling(pool(min_size=3, num_actors=1, tasks_in_flight=0)) == 2
    assert decide_scaling(pool(num_actors=3, num_idle=2, tasks_in_flight=1, queued_inputs=0)) == -1
    assert decide_scaling(pool(min_size=3, num_actors=3, num_idle=2, tasks_in_flight=1,
                               queued_inputs=0)) == 0


def test_pool_releases_idle_actors_when_finishing() -> None:
    assert decide_scaling(pool(inputs_done=True, queued_inputs=0, num_idle=2, tasks_in_flight=0)) == -2
    assert decide_scaling(pool(inputs_done=True, queued_inputs=2)) == 1


def test_actor_growth_leaves_cpus_for_task_operators() -> None:
    assert can_afford_actor(R(cpu=1), R(cpu=1), R(cpu=3), reserve_cpu_for_tasks=1)
    assert not can_afford_actor(R(cpu=1), R(cpu=2), R(cpu=3), reserve_cpu_for_tasks=1)
    assert can_afford_actor(R(gpu=1), R(cpu=3), R(cpu=3, gpu=1), reserve_cpu_for_tasks=1)


def test_actor_pools_holding_every_cpu_oversubscribe_task_operators() -> None:
    ops = [PoolSpec(name="read", is_actor_pool=False, cpu_per_unit=1),
           PoolSpec(name="model", is_actor_pool=True, cpu_per_unit=1, min_units=2),
           PoolSpec(name="post", is_actor_pool=False, cpu_per_unit=0.5)]
    assert plan_cpu_oversubscription(ops, 2) == {0: 2, 2: 2}
    assert plan_cpu_oversubscription(ops, 3) == {}
    gpu_pool = [PoolSpec(name="read", is_actor_pool=False, cpu_per_unit=1),
                PoolSpec(name="model", is_actor_pool=True, cpu_per_unit=0, min_units=4)]
    assert plan_cpu_oversubscription(gpu_pool, 2) == {}

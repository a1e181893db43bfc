"""The executor's budgets: object-store memory per operator, CPUs and GPUs kept apart.

Everything here is pure: the executor feeds it :class:`OpResourceState` snapshots and
applies the answers, and tests fabricate the snapshots.

Memory. The budget is ``DataContext.execution_memory_limit`` when set, else
``execution_object_store_share`` of the object store's capacity. Half of it is
reserved in equal parts for the operators that launch work; the other half is a
shared pool that any operator may use once its reservation is spent. An
operator's usage is the bytes it is responsible for: its outputs not yet consumed
(queued before downstream operators, or before the user), the estimated output of
its tasks in flight, and what it buffers; outputs of operators that launch no work
(limit, union, ...) are charged to the working operators upstream of them.

CPU and GPU. They are separate budgets: a GPU stage only competes for GPUs, so CPU
work never starves it. Actor pools hold their CPUs for their whole life; when their
minimum sizes hold every CPU, the task operators of the same pipeline would never be
scheduled, so they run with ``num_cpus=0``, at most one task per CPU at a time
(:func:`plan_cpu_oversubscription`), and ``explain()`` says so.

Example:
    >>> object_store_budget(1000, share=0.5)
    500
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streamdata.exec.interfaces import ExecutionResources

def normalized_resources(args: Mapping[str, Any]) -> dict[str, Any]:
    """Remote args with Ray's defaults filled in (1 CPU, no GPUs, no custom resources), so
    two sets of args that ask for the same resources compare equal. The one normaliser of
    remote args for plan and exec (the optimizer's fusion, the lowering's read fusion, and
    :func:`remote_args_resources`); the runtime keeps its own demand check
    (``streamdata.core.resources.normalize_demand``) because core imports nothing of exec.

    Example:
        >>> normalized_resources({"num_gpus": 1})
        {'num_gpus': 1, 'num_cpus': 1}
        >>> normalized_resources({"num_cpus": None, "resources": {}}) == normalized_resources({})
        True
    """
    out = {k: v for k, v in args.items() if v is not None and not (k == "resources" and not v)}
    out.setdefault("num_cpus", 1)
    if not out.get("num_gpus"):
        out.pop("num_gpus", None)
    return out


def placement_options(data_context: Any, remote_args: Mapping[str, Any]) -> dict[str, Any]:
    """The scheduling option a Data task or actor takes from ``DataContext.scheduling_strategy``
    when its own options name none: a strategy object, such as
    ``PlacementGroupSchedulingStrategy(pg)`` to run the pipeline inside a placement group that a
    trainer or tuner holds (as Ray does). Ray's strings (``"SPREAD"``, ``"DEFAULT"``) change
    nothing on one machine.

    Example:
        >>> from types import SimpleNamespace
        >>> placement_options(SimpleNamespace(scheduling_strategy="SPREAD"), {})
        {}
        >>> strategy = object()
        >>> placement_options(SimpleNamespace(scheduling_strategy=strategy), {}) == {"scheduling_strategy": strategy}
        True
        >>> placement_options(SimpleNamespace(scheduling_strategy=strategy), {"placement_group": "mine"})
        {}
    """
    strategy = getattr(data_context, "scheduling_strategy", None)
    if strategy is None or isinstance(strategy, str):
        return {}
    if any(remote_args.get(key) is not None for key in ("scheduling_strategy", "placement_group")):
        return {}
    return {"scheduling_strategy": strategy}


def remote_args_resources(remote_args: Mapping[str, Any], *, default_cpus: float = 1.0) -> ExecutionResources:
    """CPU/GPU the executor accounts for one task or actor: ``default_cpus`` unless CPUs or
    GPUs were given; a GPU stage that names no CPUs is accounted on GPUs only, so CPU work
    never starves it.

    Example:
        >>> remote_args_resources({}).cpu, remote_args_resources({"num_gpus": 1}).cpu
        (1.0, 0.0)
    """
    if "num_cpus" not in remote_args and "num_gpus" not in remote_args:
        return ExecutionResources(cpu=default_cpus)
    return ExecutionResources(cpu=float(remote_args.get("num_cpus") or 0.0),
                              gpu=float(remote_args.get("num_gpus") or 0.0))


#: the part of the memory budget reserved per operator (the rest is shared)
RESERVED_FRACTION = 0.5


@dataclass(frozen=True, slots=True, kw_only=True)
class OpResourceState:
    """What the policies know about one operator (a snapshot, in topological order).

    Attributes:
        name: the operator's name.
        throttled: False for operators that launch no work (fed without backpressure).
        queued_inputs: bundles waiting in the executor's queues before it.
        can_accept: its ``should_add_input()``.
        active_tasks: its work in flight (every ref it awaits, actors starting included).
        output_bytes: bytes of its outputs not yet consumed (including those of the
            non-working operators downstream, charged to it).
        pending_output_bytes: estimated bytes its work in flight will produce.
        internal_bytes: bytes it buffers itself.
        incremental: what one more unit of work takes.
        current: CPU/GPU it holds now.
        completed: it finished.
        upstream: indices of its input operators.
    """

    name: str
    throttled: bool = True
    queued_inputs: int = 0
    can_accept: bool = True
    active_tasks: int = 0
    output_bytes: float = 0.0
    pending_output_bytes: float = 0.0
    internal_bytes: float = 0.0
    incremental: ExecutionResources = ExecutionResources()
    current: ExecutionResources = ExecutionResources()
    completed: bool = False
    upstream: tuple[int, ...] = ()

    def memory_usage(self) -> float:
        """Bytes this operator is responsible for."""
        return self.output_bytes + self.pending_output_bytes + self.internal_bytes


def object_store_budget(capacity_bytes: float, *, share: float = 0.5,
                        explicit_limit: float | None = None) -> int:
    """The executor's memory budget in bytes.

    Example:
        >>> object_store_budget(1000, share=0.5, explicit_limit=300)
        300
    """
    if explicit_limit is not None:
        return int(explicit_limit)
    if not 0 < share <= 1:
        raise ValueError(f"execution_object_store_share must be in (0, 1], got {share}")
    return int(capacity_bytes * share)


def memory_allowances(states: list[OpResourceState], budget: float,
                      reserved_fraction: float = RESERVED_FRACTION) -> list[float]:
    """The bytes each operator may be responsible for now (inf for unthrottled ones).

    Each working operator has ``budget * reserved_fraction / k`` reserved (k working
    operators) plus what the others left of the shared pool.

    Example:
        >>> a = OpResourceState(name="a", output_bytes=0)
        >>> b = OpResourceState(name="b", output_bytes=400)
        >>> memory_allowances([a, b], 1000)   # b uses 150 of the 500 shared
        [600.0, 750.0]
    """
    working = [i for i, s in enumerate(states) if s.throttled and not s.completed]
    out = [float("inf")] * len(states)
    if not working:
        return out
    reserve = budget * reserved_fraction / len(working)
    shared = budget - reserve * len(working)
    excess = {i: max(0.0, states[i].memory_usage() - reserve) for i in working}
    total_excess = sum(excess.values())
    for i in working:
        left = max(0.0, shared - (total_excess - excess[i]))
        out[i] = reserve + left
    return out


def charge_downstream_usage(states: list[OpResourceState], unconsumed: list[float],
                            downstream: list[list[int]]) -> list[float]:
    """Per-operator output bytes, with unthrottled operators' bytes charged to the
    working operators upstream of them.

    Args:
        states: operator snapshots (their ``internal_bytes`` count for unthrottled ones).
        unconsumed: bytes of each operator's own outputs not yet consumed.
        downstream: for each operator, the indices of its consumers.

    Example:
        >>> src = OpResourceState(name="map")
        >>> lim = OpResourceState(name="limit", throttled=False, internal_bytes=5, upstream=(0,))
        >>> charge_downstream_usage([src, lim], [10.0, 20.0], [[1], []])
        [35.0, 20.0]
    """
    out = list(unconsumed)

    def passthrough(j: int, seen: set[int]) -> float:
        total = 0.0
        for k in downstream[j]:
            if k in seen or states[k].throttled:
                continue
            seen.add(k)
            total += unconsumed[k] + states[k].internal_bytes + passthrough(k, seen)
        return total

    for i, s in enumerate(states):
        if s.throttled:
            out[i] += passthrough(i, set())
    return out


def total_usage(states: list[OpResourceState]) -> ExecutionResources:
    """CPU and GPU held by every operator together (memory is handled by allowances)."""
    cpu = sum(s.current.cpu for s in states)
    gpu = sum(s.current.gpu for s in states)
    return ExecutionResources(cpu=cpu, gpu=gpu)


def fits(state: OpResourceState, used: ExecutionResources, limits: ExecutionResources) -> bool:
    """Whether one more unit of work of ``state`` fits the CPU and GPU budgets.

    Example:
        >>> s = OpResourceState(name="gpu", incremental=ExecutionResources(gpu=1))
        >>> fits(s, ExecutionResources(cpu=2), ExecutionResources(cpu=2, gpu=1))
        True
    """
    inc = state.incremental
    eps = 1e-9
    if inc.cpu > 0 and used.cpu + inc.cpu > limits.cpu + eps:
        return False
    if inc.gpu > 0 and used.gpu + inc.gpu > limits.gpu + eps:
        return False
    return True


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolSpec:
    """An operator as :func:`plan_cpu_oversubscription` sees it."""

    name: str
    is_actor_pool: bool
    cpu_per_unit: float
    min_units: int = 1


def plan_cpu_oversubscription(ops: list[PoolSpec], total_cpus: float) -> dict[int, int]:
    """Task operators that must run with ``num_cpus=0`` because actor pools hold every CPU.

    Returns ``{op index: max tasks at once}`` (one per CPU, at least one); empty when
    the CPUs left after the actor pools' minimum sizes fit one task of every task
    operator.

    Example:
        >>> pools = [PoolSpec(name="read", is_actor_pool=False, cpu_per_unit=1),
        ...          PoolSpec(name="model", is_actor_pool=True, cpu_per_unit=1, min_units=2)]
        >>> plan_cpu_oversubscription(pools, 2)
        {0: 2}
        >>> plan_cpu_oversubscription(pools, 4)
        {}
    """
    held = sum(p.cpu_per_unit * p.min_units for p in ops if p.is_actor_pool)
    left = total_cpus - held
    out: dict[int, int] = {}
    for i, p in enumerate(ops):
        if not p.is_actor_pool and p.cpu_per_unit > 0 and p.cpu_per_unit > left + 1e-9:
            out[i] = max(1, int(total_cpus))
    return out


def can_afford_actor(per_actor: ExecutionResources, used: ExecutionResources,
                     limits: ExecutionResources, reserve_cpu_for_tasks: float = 0.0) -> bool:
    """Whether one more actor fits, leaving ``reserve_cpu_for_tasks`` CPUs to task operators.

    Example:
        >>> can_afford_actor(ExecutionResources(cpu=1), ExecutionResources(cpu=1),
        ...                  ExecutionResources(cpu=2), reserve_cpu_for_tasks=1)
        False
    """
    eps = 1e-9
    if per_actor.cpu > 0 and used.cpu + per_actor.cpu > limits.cpu - reserve_cpu_for_tasks + eps:
        return False
    if per_actor.gpu > 0 and used.gpu + per_actor.gpu > limits.gpu + eps:
        return False
    return True

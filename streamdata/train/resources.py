"""How a run's workers share the machine with the datasets that feed them (pure policy).

The deadlock this prevents: training workers are actors that hold their CPUs for
the whole run, while a dataset's tasks (reads, ``map_batches``) need CPUs of
their own. A worker waiting for its shard does not lend its CPU (it is an
actor in a placement group; a blocked ``get`` lends only a *task's* CPUs, and
only to tasks of the same pool), so with every CPU held by workers the data
never comes. The trainer therefore keeps what the datasets need: when the
workers would leave less than that, each worker's CPU reservation is lowered so
that it fits, and the trainer says so in the log. The worker processes still
run on every core; only the scheduler's bookkeeping changes.

What the datasets need (:func:`data_cpu_need`): the largest CPU request of one
task of any operator (1 by default), plus the CPUs of the minimum actors of
every actor-pool operator (those actors live together).

Example:
    >>> plan_worker_cpus(num_workers=2, worker_cpus=1.0, cluster_cpus=2.0, data_cpus=1.0)
    0.5
    >>> plan_worker_cpus(num_workers=2, worker_cpus=1.0, cluster_cpus=4.0, data_cpus=1.0)
    1.0
"""

from __future__ import annotations

from typing import Any

#: the smallest CPU share a worker keeps when the datasets need the rest
MIN_WORKER_CPUS = 0.01


def _remote_cpus(node: Any, default: float) -> float:
    args = getattr(node, "ray_remote_args", None) or {}
    try:
        value = args.get("num_cpus", default)
    except AttributeError:
        return default
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def data_cpu_need(dataset: Any) -> float:
    """The CPUs a dataset's execution needs to make progress (see the module docstring).

    Example:
        >>> import streamdata as sd
        >>> data_cpu_need(sd.range(4).map_batches(lambda b: b))
        1.0
        >>> data_cpu_need(sd.range(4).map_batches(lambda b: b, num_cpus=0.25))
        1.0
    """
    try:
        plan = dataset._logical_plan
        root = (plan() if callable(plan) else plan).root
    except Exception:  # noqa: BLE001 - an unknown plan shape: assume one default task
        return 1.0
    task_max = 0.0
    actors = 0.0
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(getattr(node, "inputs", ()) or ())
        compute = getattr(node, "compute", None)
        min_size = getattr(compute, "min_size", None)
        if isinstance(min_size, int) and type(compute).__name__ == "ActorPoolStrategy":
            actors += min_size * _remote_cpus(node, 1.0)
        else:  # a source, a task-pool map or an all-to-all: tasks of 1 CPU unless asked
            task_max = max(task_max, _remote_cpus(node, 1.0))
    return max(task_max, 1.0) + actors


def plan_worker_cpus(*, num_workers: int, worker_cpus: float, cluster_cpus: float, data_cpus: float) -> float:
    """Each worker's CPU reservation so that ``data_cpus`` stay free for the datasets.

    Returns ``worker_cpus`` when it already leaves enough, else the share of what is
    left after the datasets' need (at least :data:`MIN_WORKER_CPUS`). Raises
    ``ValueError`` when the machine cannot hold the datasets' need at all.

    Example:
        >>> plan_worker_cpus(num_workers=4, worker_cpus=1.0, cluster_cpus=2.0, data_cpus=1.0)
        0.25
        >>> plan_worker_cpus(num_workers=2, worker_cpus=0.0, cluster_cpus=2.0, data_cpus=1.0)
        0.0
    """
    if worker_cpus <= 0 or num_workers * worker_cpus + data_cpus <= cluster_cpus + 1e-9:
        return worker_cpus
    left = cluster_cpus - data_cpus
    if left < num_workers * MIN_WORKER_CPUS:
        raise ValueError(f"the datasets feeding the training workers need {data_cpus:g} CPU(s), but the "
                         f"cluster has only {cluster_cpus:g}; give the datasets' operators fewer CPUs "
                         "(num_cpus=, concurrency=) or start the runtime with more (sd.init(num_cpus=...))")
    return min(worker_cpus, round(left / num_workers, 4))


__all__ = ["MIN_WORKER_CPUS", "data_cpu_need", "plan_worker_cpus"]

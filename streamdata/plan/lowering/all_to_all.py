"""Lowering of the all-to-all nodes: sort, random shuffle, block-order shuffle,
repartition, aggregate, map_groups and join.

Most become an :class:`~streamdata.exec.operators.all_to_all.operator.AllToAllOperator`
running one shuffle spec (:mod:`streamdata.exec.operators.all_to_all.spec`); a block-order
shuffle and a repartition without shuffle have their own simpler operators
(:mod:`streamdata.exec.operators.all_to_all.simple_ops`); a map_groups whose compute is an
``ActorPoolStrategy`` becomes a key shuffle feeding an actor pool that calls the class once
per group (:class:`~streamdata.exec.operators.all_to_all.map_groups.MapGroupsStage`).

Example:
    >>> from streamdata.exec.operators.input_data import InputDataOperator
    >>> from streamdata.plan import logical as L
    >>> node = L.Repartition(inputs=(L.InputData(),), num_blocks=4, shuffle=True)
    >>> op = lower_all_to_all(node, InputDataOperator("in", bundles=[]))
    >>> type(op).__name__, op.fixed_partitions
    ('AllToAllOperator', 4)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from streamdata.aggregation.builtins import is_builtin
from streamdata.context import DataContext
from streamdata.exec.interfaces import PhysicalOperator
from streamdata.exec.operators.all_to_all import spec as specs
from streamdata.exec.operators.all_to_all.map_groups import MapGroupsStage
from streamdata.exec.operators.all_to_all.operator import AllToAllOperator
from streamdata.exec.operators.map_transformer import FlatMapStage, MapStage, RowStage
from streamdata.exec.operators.partial_aggregate import PartialAggregateStage
from streamdata.exec.operators.sort_runs import SortRunsStage
from streamdata.exec.operators.task_pool_map import TaskPoolMapOperator
from streamdata.exec.operators.all_to_all.simple_ops import (
    RandomizeBlockOrderOperator,
    SplitRepartitionOperator,
)
from streamdata.exec.shuffle.sort import sort_keys
from streamdata.plan import logical as L
from streamdata.plan.lowering.maps import actor_pool_map

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.plan.lowering.walk import LoweringWalk

#: the logical nodes lowered here
ALL_TO_ALL_NODES = (L.Sort, L.RandomShuffle, L.RandomizeBlockOrder, L.Repartition, L.Aggregate,
                    L.MapGroups, L.Join)

#: remote args of a MapGroups node that its shuffle tasks take
_TASK_ARGS = ("num_cpus", "memory", "resources")


def lower_node(lowerer: LoweringWalk, node: L.LogicalNode) -> PhysicalOperator:
    """The :class:`~streamdata.plan.lowering.lowerer.Lowerer` 's entry: inputs first.

    An aggregation whose input is a task-pool map (a read, or a map fused into one) that
    feeds nothing else runs its partial step as that map's last stage
    (:func:`fuse_partial_aggregate`), as Ray fuses a task-pool map into an all-to-all's
    map side.
    """
    inputs = [lowerer.lower(i) for i in node.inputs]
    if isinstance(node, L.Aggregate) and lowerer.only_consumer(node.input):
        fused = fuse_partial_aggregate(node, inputs[0], lowerer.ctx)
        if fused is None:
            fused = fuse_partial_aggregate_into_join(node, inputs[0], lowerer.ctx)
        if fused is not None:
            return fused
    if isinstance(node, L.Sort) and lowerer.only_consumer(node.input) and _runs_on_cpu_tasks(inputs[0]):
        return fuse_sort_runs(node, inputs[0], lowerer.ctx)
    return lower_all_to_all(node, inputs, lowerer.ctx)


def _runs_on_cpu_tasks(op: PhysicalOperator) -> bool:
    """A task-pool map on CPUs (a GPU task would hold its GPU for CPU work)."""
    return isinstance(op, TaskPoolMapOperator) and not op.per_task_resources().gpu


def fuse_sort_runs(node: L.Sort, input_op: PhysicalOperator, ctx: DataContext | None = None) -> PhysicalOperator:
    """The sort's operator with its blocks sorted into runs by ``input_op`` 's tasks (a
    task-pool map on CPUs), so the reduce only merges runs."""
    assert isinstance(input_op, TaskPoolMapOperator)
    op = lower_all_to_all(node, input_op, ctx)
    assert isinstance(op, AllToAllOperator) and isinstance(op.spec, specs.SortSpec)
    input_op.transformer.stages.append(SortRunsStage(name=f"{node.name}:runs", keys=op.spec.keys))
    input_op.name = f"{input_op.name}->sort runs {node.name}"
    op.spec = replace(op.spec, presorted=True)
    return op


def can_fuse_partial_aggregate(node: L.Aggregate, input_op: PhysicalOperator) -> bool:
    """Whether ``node`` 's partial step may run in ``input_op`` 's tasks: a task-pool map on
    CPUs (a GPU task would hold its GPU for CPU work), and an aggregation with keys or
    aggregations to run.

    Example:
        >>> from streamdata.exec.operators.input_data import InputDataOperator
        >>> can_fuse_partial_aggregate(L.Aggregate(inputs=(L.InputData(),), keys=("k",)),
        ...                            InputDataOperator("in", bundles=[]))
        False
    """
    return _runs_on_cpu_tasks(input_op) and bool(node.keys or node.aggs)


def aggregate_input_columns(keys: tuple[str, ...], aggs: tuple[Any, ...]) -> tuple[str, ...] | None:
    """The columns a partial aggregation reads: its keys and the ``on`` columns of built-in
    aggregations; None when a user's aggregation (which may read any column) is among them.

    Example:
        >>> from streamdata.aggregate import Count, Sum
        >>> aggregate_input_columns(("k",), (Count(), Sum("v"), Sum("k")))
        ('k', 'v')
    """
    needed = list(keys)
    for agg in aggs:  # a user's aggregation (or subclass) may read any column of the block
        if not (is_builtin(agg) and type(agg).__module__.startswith("streamdata.aggregation.")):
            return None
        needed += agg._input_columns()
    return tuple(dict.fromkeys(needed))


def prune_row_stage_output(stages: list[MapStage], keys: tuple[str, ...], aggs: tuple[Any, ...]) -> None:
    """When the last of ``stages`` is a row UDF (``map``, ``flat_map``) and the partial
    aggregation about to follow it reads known columns only (its keys and the ``on``
    columns of built-in aggregations), the row stage builds only those columns.

    Example:
        >>> from streamdata.aggregate import Count, Sum
        >>> stages = [RowStage(name="m", fn=dict)]
        >>> prune_row_stage_output(stages, ("k",), (Count(), Sum("v")))
        >>> stages[0].columns
        ('k', 'v')
    """
    if not stages or not isinstance(stages[-1], (RowStage, FlatMapStage)):
        return
    needed = aggregate_input_columns(keys, aggs)
    if needed is not None:
        stages[-1].columns = needed


def fuse_partial_aggregate(node: L.Aggregate, input_op: PhysicalOperator,
                           ctx: DataContext | None = None) -> PhysicalOperator | None:
    """The aggregation's operator with its partial step appended to ``input_op`` 's
    stages (the all-to-all then merges partials), or None when it may not be fused."""
    if not can_fuse_partial_aggregate(node, input_op):
        return None
    assert isinstance(input_op, TaskPoolMapOperator)
    keys, aggs = tuple(node.keys), tuple(node.aggs)
    prune_row_stage_output(input_op.transformer.stages, keys, aggs)
    input_op.transformer.stages.append(PartialAggregateStage(name=f"{node.name}:partial", keys=keys, aggs=aggs))
    input_op.name = f"{input_op.name}->partial {node.name}"
    spec = specs.AggregateSpec(keys=keys, aggs=aggs, prepared=True)
    return AllToAllOperator(node.name, [input_op], spec, num_partitions=node.num_partitions,
                            data_context=ctx if ctx is not None else DataContext.get_current())


def fuse_partial_aggregate_into_join(node: L.Aggregate, input_op: PhysicalOperator,
                                     ctx: DataContext | None = None) -> PhysicalOperator | None:
    """The aggregation's operator over a join whose reduce tasks return the partial
    aggregates of their joined rows (not the rows), or None when ``input_op`` is not a
    join or there is nothing to aggregate.

    The joined rows then never reach the object store: only one small table of partials
    per join partition does. When only built-in aggregations read them, the reduce
    gathers only the joined columns they read (``JoinSpec.output_columns``).
    """
    if not (isinstance(input_op, AllToAllOperator) and isinstance(input_op.spec, specs.JoinSpec)
            and input_op.spec.partial_aggregate is None and (node.keys or node.aggs)):
        return None
    keys, aggs = tuple(node.keys), tuple(node.aggs)
    input_op.spec = replace(input_op.spec, partial_aggregate=(keys, aggs),
                            output_columns=aggregate_input_columns(keys, aggs))
    input_op.name = f"{input_op.name}->partial {node.name}"
    spec = specs.AggregateSpec(keys=keys, aggs=aggs, prepared=True)
    return AllToAllOperator(node.name, [input_op], spec, num_partitions=node.num_partitions,
                            data_context=ctx if ctx is not None else DataContext.get_current())


def lower_all_to_all(node: L.LogicalNode, input_ops: PhysicalOperator | Sequence[PhysicalOperator],
                     ctx: DataContext | None = None) -> PhysicalOperator:
    """The physical operator of an all-to-all logical node over already-lowered inputs.

    Args:
        node: a ``Sort``, ``RandomShuffle``, ``RandomizeBlockOrder``, ``Repartition``,
            ``Aggregate``, ``MapGroups`` or ``Join``.
        input_ops: its input operator (two, left and right, for a join).
        ctx: the DataContext (default: the current one).

    Raises:
        NotImplementedError: ``node`` is not an all-to-all node (names it).
    """
    ops = [input_ops] if isinstance(input_ops, PhysicalOperator) else list(input_ops)
    ctx = ctx if ctx is not None else DataContext.get_current()
    name = node.name
    spec: specs.ShuffleSpec
    partitions: int | None = None
    task_args: dict[str, Any] = {}
    if isinstance(node, L.Sort):
        spec = specs.SortSpec(keys=tuple(sort_keys(list(node.keys), list(node.descending) or False)),
                              fixed_boundaries=node.boundaries)
        if node.boundaries is not None:  # the user's range partitions
            partitions = len(node.boundaries) + 1
    elif isinstance(node, L.RandomShuffle):
        spec = specs.RandomShuffleSpec(seed=_seed(node.seed), seeded=node.seed is not None)
        partitions = node.num_blocks
    elif isinstance(node, L.RandomizeBlockOrder):
        return RandomizeBlockOrderOperator(name, ops, seed=node.seed)
    elif isinstance(node, L.Repartition):
        if node.keys:
            spec = specs.HashRepartitionSpec(keys=tuple(node.keys), sort=node.sort)
        elif not node.shuffle:
            return SplitRepartitionOperator(name, ops, num_blocks=node.num_blocks,
                                            rows_per_block=node.target_num_rows_per_block)
        else:
            spec = specs.RepartitionShuffleSpec()
        partitions = node.num_blocks
    elif isinstance(node, L.Aggregate):
        spec = specs.AggregateSpec(keys=tuple(node.keys), aggs=tuple(node.aggs))
        partitions = node.num_partitions
    elif isinstance(node, L.MapGroups):
        if isinstance(node.compute, L.ActorPoolStrategy):
            return _map_groups_in_actors(node, ops, ctx)
        spec = specs.MapGroupsSpec(
            keys=tuple(node.keys), fn=node.fn, batch_format=node.batch_format, fn_args=tuple(node.fn_args),
            fn_kwargs=tuple(dict(node.fn_kwargs).items()),
            fn_constructor_args=tuple(node.fn_constructor_args),
            fn_constructor_kwargs=tuple(dict(node.fn_constructor_kwargs).items()))
        partitions = node.num_partitions
        task_args = {k: v for k, v in dict(node.ray_remote_args).items() if k in _TASK_ARGS}
    elif isinstance(node, L.Join):
        right_on = node.right_on if node.right_on is not None else node.on
        spec = specs.JoinSpec(left_keys=tuple(node.on), right_keys=tuple(right_on), join_type=node.join_type,
                              left_suffix=node.left_suffix, right_suffix=node.right_suffix)
        partitions = node.num_partitions
        task_args = {k: v for k, v in dict(node.ray_remote_args).items() if k in _TASK_ARGS}
    else:
        raise NotImplementedError(f"{type(node).__name__} ({node.name}) is not an all-to-all operation")
    return AllToAllOperator(name, ops, spec, num_partitions=partitions, data_context=ctx,
                            remote_args=task_args)


def _map_groups_in_actors(node: L.MapGroups, input_ops: Sequence[PhysicalOperator],
                          ctx: DataContext) -> PhysicalOperator:
    """The shuffle by key, then an actor-pool map calling the class once per group."""
    shuffle = AllToAllOperator(f"{node.name}:shuffle", list(input_ops),
                               specs.MapGroupsSpec(keys=tuple(node.keys), apply_fn=False),
                               num_partitions=node.num_partitions, data_context=ctx)
    stage = MapGroupsStage(name=node.name, keys=node.keys, batch_format=node.batch_format, fn=node.fn,
                           fn_args=tuple(node.fn_args), fn_kwargs=dict(node.fn_kwargs),
                           fn_constructor_args=tuple(node.fn_constructor_args),
                           fn_constructor_kwargs=dict(node.fn_constructor_kwargs))
    assert isinstance(node.compute, L.ActorPoolStrategy)
    return actor_pool_map(node.name, shuffle, [stage], node.compute, dict(node.ray_remote_args))


def _seed(seed: int | None) -> int:
    """The user's seed, or a fresh one drawn now (so retried tasks repeat themselves)."""
    if seed is not None:
        return int(seed)
    return int(np.random.SeedSequence().entropy % (1 << 63))


__all__ = ["ALL_TO_ALL_NODES", "can_fuse_partial_aggregate", "fuse_partial_aggregate", "fuse_sort_runs",
           "lower_all_to_all", "lower_node"]

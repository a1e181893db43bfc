"""All-to-all operations: the planner's entry point, :func:`lower_all_to_all`.

It turns a logical sort, random shuffle, block-order shuffle, repartition,
aggregate, map_groups or join into its physical operator: most become an
:class:`AllToAllOperator` (map side and reduce side through the object store,
:mod:`streamdata.exec.operators.all_to_all_operator`) running one shuffle spec
(:mod:`streamdata.exec.operators.all_to_all_spec`); a block-order shuffle and a
repartition without shuffle have their own simpler operators
(:mod:`streamdata.exec.operators.all_to_all_simple`), and a map_groups with a callable
class runs its groups in an actor pool
(:mod:`streamdata.exec.operators.all_to_all_map_groups`). How many partitions and map
tasks: :mod:`streamdata.exec.operators.all_to_all_policy`.

Example:
    >>> from streamdata.exec.operators.input_data import InputDataOperator
    >>> Repartition = type("Repartition", (), {"name": "Repartition(4, shuffle)",
    ...                                       "shuffle": True, "num_blocks": 4})
    >>> op = lower_all_to_all(Repartition(), InputDataOperator("in", bundles=[]))
    >>> type(op).__name__, op.fixed_partitions
    ('AllToAllOperator', 4)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from streamdata.errors import PlanError
from streamdata.exec.interfaces import PhysicalOperator
from streamdata.exec.operators.all_to_all_operator import AllToAllOperator
from streamdata.exec.operators.all_to_all_policy import (
    choose_num_partitions,
    group_by_size,
)
from streamdata.exec.operators.all_to_all_spec import ShuffleSpec


def lower_all_to_all(node: Any, input_ops: PhysicalOperator | Sequence[PhysicalOperator],
                     ctx: Any = None) -> PhysicalOperator:
    """The physical operator of an all-to-all logical node (the planner's one entry point).

    Handles the logical nodes ``Sort``, ``RandomShuffle``, ``RandomizeBlockOrder``,
    ``Repartition``, ``Aggregate``, ``MapGroups`` and ``Join`` (recognized by class name
    and fields, so ``exec`` does not import the plan layer).

    Args:
        node: the logical node.
        input_ops: its input operator (two, left and right, for a join).
        ctx: the DataContext (default: the current one).

    Raises:
        PlanError: ``node`` is not an all-to-all operation.

    Example:
        >>> from types import SimpleNamespace
        >>> from streamdata.exec.operators.input_data import InputDataOperator
        >>> src = InputDataOperator("Input", bundles=[])
        >>> Sort = type("Sort", (), {})
        >>> node = Sort(); node.keys, node.descending, node.name = ("x",), (False,), "Sort(x)"
        >>> lower_all_to_all(node, src).name
        'Sort(x)'
    """
    from streamdata.context import DataContext
    from streamdata.exec.operators import all_to_all_spec as specs
    from streamdata.exec.operators.all_to_all_simple import (
        RandomizeBlockOrderOperator,
        SplitRepartitionOperator,
    )
    from streamdata.exec.shuffle.sort import sort_keys
    ops = [input_ops] if isinstance(input_ops, PhysicalOperator) else list(input_ops)
    ctx = ctx if ctx is not None else DataContext.get_current()
    kind = type(node).__name__
    name = getattr(node, "name", kind)
    remote_args = dict(getattr(node, "ray_remote_args", None) or {})
    spec: ShuffleSpec
    partitions: int | None = None
    if kind == "Sort":
        fixed = getattr(node, "boundaries", None)
        spec = specs.SortSpec(keys=tuple(sort_keys(list(node.keys), list(node.descending) or False)),
                              fixed_boundaries=fixed)
        if fixed is not None:
            partitions = len(fixed) + 1
    elif kind == "RandomShuffle":
        spec = specs.RandomShuffleSpec(seed=_seed(node.seed), seeded=node.seed is not None)
        partitions = node.num_blocks
    elif kind == "RandomizeBlockOrder":
        return RandomizeBlockOrderOperator(name, ops, seed=node.seed)
    elif kind == "Repartition":
        keys = getattr(node, "keys", None)
        if keys:
            spec = specs.HashRepartitionSpec(keys=tuple(keys), sort=bool(node.sort))
            partitions = node.num_blocks
        elif not node.shuffle:
            return SplitRepartitionOperator(
                name, ops, num_blocks=node.num_blocks,
                rows_per_block=getattr(node, "target_num_rows_per_block", None))
        else:
            spec = specs.RepartitionShuffleSpec()
            partitions = node.num_blocks
    elif kind == "Aggregate":
        spec = specs.AggregateSpec(keys=tuple(node.keys), aggs=tuple(node.aggs))
        partitions = node.num_partitions
    elif kind == "MapGroups":
        if type(node.compute).__name__ == "ActorPoolStrategy":
            from streamdata.exec.operators.all_to_all_map_groups import (
                lower_map_groups_to_actors,
            )
            return lower_map_groups_to_actors(node, ops, ctx)
        spec = specs.MapGroupsSpec(
            keys=tuple(node.keys), fn=node.fn, batch_format=node.batch_format, fn_args=tuple(node.fn_args),
            fn_kwargs=tuple(dict(node.fn_kwargs).items()),
            fn_constructor_args=tuple(node.fn_constructor_args),
            fn_constructor_kwargs=tuple(dict(node.fn_constructor_kwargs).items()))
        partitions = node.num_partitions
    elif kind == "Join":
        right_on = node.right_on if node.right_on is not None else node.on
        spec = specs.JoinSpec(left_keys=tuple(node.on), right_keys=tuple(right_on), join_type=node.join_type,
                              left_suffix=node.left_suffix, right_suffix=node.right_suffix)
        partitions = node.num_partitions
    else:
        raise PlanError(f"{kind} is not an all-to-all operation")
    task_args = {k: v for k, v in remote_args.items() if k in ("num_cpus", "memory", "resources")}
    return AllToAllOperator(name, ops, spec, num_partitions=partitions, data_context=ctx,
                            remote_args=task_args)


def _seed(seed: int | None) -> int:
    """The user's seed, or a fresh one drawn now (so retried tasks repeat themselves)."""
    if seed is not None:
        return int(seed)
    return int(np.random.SeedSequence().entropy % (1 << 63))


__all__ = ["AllToAllOperator", "choose_num_partitions", "group_by_size", "lower_all_to_all"]

"""Lowering of the block-by-block maps (and the ``FusedMap`` s the optimizer made).

A map becomes a task-pool or actor-pool map operator (by its compute strategy) running
the chain of stages :func:`map_stages` makes; inputs are coalesced up to the first batch
stage's ``batch_size`` (Ray's rule). A task-pool map right after a read it may share
tasks with joins the read (:func:`streamdata.plan.lowering.reads_writes.read_operator`).

Example:
    >>> from streamdata.plan import logical as L
    >>> [type(s).__name__ for s in map_stages(L.Project(select=("a",)))]
    ['ProjectStage']
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

from streamdata.context import DataContext
from streamdata.exec.interfaces import PhysicalOperator
from streamdata.exec.operators.actor_pool_map import ActorPoolMapOperator
from streamdata.exec.operators.map_transformer import (
    BatchStage,
    FilterStage,
    FlatMapStage,
    MapStage,
    ReadStage,
    MapTransformer,
    ProjectStage,
    RandomSampleStage,
    RowStage,
    WithColumnStage,
)
from streamdata.exec.operators.task_pool_map import TaskPoolMapOperator
from streamdata.plan import logical as L
from streamdata.plan.lowering.reads_writes import read_input, read_operator, write_joins_actor_pool
from streamdata.plan.rules.base import OptimizerContext
from streamdata.plan.rules.read_parallelism import choose_parallelism
from streamdata.exec.resources import normalized_resources

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.plan.lowering.walk import LoweringWalk


def lower_map(lowerer: LoweringWalk, node: L.AbstractMap) -> PhysicalOperator:
    """A map (fused into the read before it when it may be), in a task or an actor pool."""
    stages = map_stages(node, lowerer.ctx)
    upstream = node.input
    if (isinstance(upstream, L.Read) and lowerer.only_consumer(upstream)
            and can_fuse_into_read(upstream, node)):
        return read_operator(lowerer, upstream, stages, node)
    compute = node.compute
    remote_args = dict(node.ray_remote_args)
    if (isinstance(upstream, L.Read) and lowerer.only_consumer(upstream)
            and can_fuse_read_into_actors(upstream, node)
            and not read_tasks_beside_pool(lowerer, upstream, node)):
        # As Ray fuses Read → actor map: the actors run the read tasks themselves, so no
        # read task holds a CPU the pool needs and no block crosses processes in between.
        parallelism = actor_read_parallelism(upstream, OptimizerContext.from_data_context(
            lowerer.ctx, num_cpus=lowerer.cluster.num_cpus, num_gpus=lowerer.cluster.num_gpus))
        source, bind = read_input(lowerer, upstream, parallelism)
        op = actor_pool_map(f"{source.name}->{node.name}", source,
                            [ReadStage(name=source.name), *stages], compute, remote_args)
        bind(op)
        return op
    input_op = lowerer.lower(upstream)
    min_rows = min_rows_per_bundle(stages)
    if isinstance(compute, L.ActorPoolStrategy):
        return actor_pool_map(node.name, input_op, stages, compute, remote_args, min_rows_per_bundle=min_rows)
    return TaskPoolMapOperator(node.name, input_op, MapTransformer(stages), ray_remote_args=remote_args,
                               concurrency=compute.size, min_rows_per_bundle=min_rows)


def actor_pool_map(name: str, input_op: PhysicalOperator, stages: list[MapStage],
                   compute: L.ActorPoolStrategy, remote_args: dict[str, Any], *,
                   min_rows_per_bundle: int | None = None) -> ActorPoolMapOperator:
    """An actor-pool map of ``stages`` sized as ``compute`` says (also used by
    ``map_groups`` with a callable class)."""
    op = ActorPoolMapOperator(name, input_op, MapTransformer(stages),
                              min_size=compute.min_size or 1, max_size=compute.max_size,
                              max_tasks_in_flight_per_actor=compute.max_tasks_in_flight_per_actor,
                              ray_remote_args=remote_args, min_rows_per_bundle=min_rows_per_bundle,
                              initial_size=compute.initial_size,
                              max_concurrency=compute.max_concurrent_calls_per_actor or 1)
    op.true_multi_threading = bool(compute.enable_true_multi_threading)
    return op


def map_stages(node: L.AbstractMap, ctx: DataContext | None = None) -> list[MapStage]:
    """The chain of stages a (possibly fused) logical map runs.

    Example:
        >>> [type(s).__name__ for s in map_stages(L.Filter(fn=bool))]
        ['FilterStage']
    """
    if isinstance(node, L.FusedMap):
        return [stage for s in node.stages for stage in map_stages(s, ctx)]
    default_batch = (ctx or DataContext.get_current()).default_batch_size
    udf: dict[str, Any] = {}
    if isinstance(node, L.AbstractUDFMap):
        udf = dict(fn_args=node.fn_args, fn_kwargs=dict(node.fn_kwargs),
                   fn_constructor_args=node.fn_constructor_args,
                   fn_constructor_kwargs=dict(node.fn_constructor_kwargs))
    if isinstance(node, L.MapBatches):
        return [BatchStage(name=node.name, fn=node.fn, batch_size=node.batch_size or default_batch,
                           batch_format=node.batch_format, zero_copy_batch=node.zero_copy_batch, **udf)]
    if isinstance(node, L.MapRows):
        return [RowStage(name=node.name, fn=node.fn, **udf)]  # type: ignore[arg-type]
    if isinstance(node, L.FlatMap):
        return [FlatMapStage(name=node.name, fn=node.fn, **udf)]  # type: ignore[arg-type]
    if isinstance(node, L.Filter):
        return [FilterStage(name=node.name, fn=node.fn, expr=node.expr, **udf)]
    if isinstance(node, L.Project):
        return [ProjectStage(name=node.name, select=node.select, drop=node.drop, rename=dict(node.rename))]
    if isinstance(node, L.WithColumn):
        return [WithColumnStage(name=node.name, column=node.column, expr=node.expr)]
    if isinstance(node, L.RandomSample):
        return [RandomSampleStage(name=node.name, fraction=node.fraction, seed=node.seed)]
    raise NotImplementedError(f"no lowering for the map {type(node).__name__} ({node.name})")


def min_rows_per_bundle(stages: list[MapStage]) -> int | None:
    """Coalesce inputs up to the first batch stage's batch size (Ray's rule); none for
    ``"auto"``, which each task resolves from its own blocks (as Ray)."""
    for stage in stages:
        if isinstance(stage, BatchStage):
            return stage.batch_size if isinstance(stage.batch_size, int) else None
    return None


def can_fuse_read_into_actors(read: L.Read, node: L.AbstractMap) -> bool:
    """An actor-pool map on CPUs right after a read that asks for no resources or
    concurrency of its own: the actors run the read tasks (Ray fuses the same pair)."""
    if not isinstance(node.compute, L.ActorPoolStrategy):
        return False
    if normalized_resources(node.ray_remote_args).get("num_gpus"):
        return False
    return not read.ray_remote_args and read.concurrency is None


def read_tasks_beside_pool(lowerer: LoweringWalk, read: L.Read, node: L.AbstractMap) -> bool:
    """Whether ``read`` runs as its own tasks beside ``node`` 's actor pool rather than in it.

    So when the pool's calls also write (:func:`write_joins_actor_pool`) and its largest
    size leaves a CPU for a read task: nothing else would use that CPU, and the actors then
    only convert, call the UDF and write, while the reads run on it. Otherwise (the pool
    may take every CPU, or tasks after the pool need the CPUs it leaves) the actors read.
    """
    compute = node.compute
    if not isinstance(compute, L.ActorPoolStrategy) or compute.max_size is None:
        return False
    if not write_joins_actor_pool(lowerer.consumer_of(node), node):
        return False
    per_actor = float(normalized_resources(node.ray_remote_args).get("num_cpus", 1))
    per_read = float(normalized_resources(read.ray_remote_args).get("num_cpus", 1))
    return compute.max_size * per_actor + per_read <= lowerer.cluster.num_cpus + 1e-9


#: read tasks per CPU of a read whose tasks an actor pool runs (a task-pool read aims at 2)
ACTOR_READ_TASKS_PER_CPU = 8


def actor_read_parallelism(read: L.Read, ctx: OptimizerContext) -> int:
    """Read tasks of a read fused into an actor pool: finer than a task-pool read's.

    The pool holds its CPUs for the whole execution, so what comes after it (a task map,
    say) runs on the CPUs it leaves and can only overlap with it block by block: a
    few large blocks leave the last ones' work with nothing to overlap (on 2 CPUs, 4 read
    tasks of 4 files each kept the last block's write alone at the end, before writes ran
    in the pool's calls). Smaller calls also bound what one call holds (its block and the
    batch it converts to). So these reads
    aim at ``ACTOR_READ_TASKS_PER_CPU`` tasks per CPU, still within the rule's bounds
    (blocks over ``target_min_block_size``); ``override_num_blocks`` is kept as given.

    Example:
        >>> from streamdata.io.memory import RangeDatasource
        >>> big = L.Read(datasource=RangeDatasource(10_000_000), parallelism=4)
        >>> actor_read_parallelism(big, OptimizerContext(num_cpus=2))
        16
        >>> actor_read_parallelism(big.replace(override_num_blocks=4), OptimizerContext(num_cpus=2))
        4
    """
    if read.override_num_blocks is not None:
        return read.override_num_blocks
    wanted = ACTOR_READ_TASKS_PER_CPU * max(1, math.ceil(ctx.num_cpus))
    finer = dataclasses.replace(ctx, read_op_min_num_blocks=max(ctx.read_op_min_num_blocks or 0, wanted))
    return max(read.parallelism or 0,
               choose_parallelism(read.datasource.estimate_inmemory_data_size(), finer))


def can_fuse_into_read(read: L.Read, node: L.AbstractMap) -> bool:
    """A task-pool map on CPUs whose resources match the read's (or the read asked for none)."""
    if not isinstance(node.compute, L.TaskPoolStrategy):
        return False
    mine = normalized_resources(node.ray_remote_args)
    if mine.get("num_gpus"):
        return False
    return not read.ray_remote_args or normalized_resources(read.ray_remote_args) == mine


__all__ = ["ACTOR_READ_TASKS_PER_CPU", "actor_pool_map", "actor_read_parallelism", "can_fuse_into_read",
           "can_fuse_read_into_actors", "lower_map", "map_stages", "min_rows_per_bundle",
           "read_tasks_beside_pool"]

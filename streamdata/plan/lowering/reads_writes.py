"""Lowering of ``Read`` and ``Write``.

A ``Read`` becomes an input operator of read tasks feeding a task-pool map whose first
stage runs them; the read tasks are made (``datasource.get_read_tasks``) and ``put`` when
the execution starts, by the input operator, so lowering stays cheap and never touches
the runtime. A task-pool map right after the read (same resources, the read its only
consumer) joins that map (:func:`read_operator` with its stages), so blocks are
transformed where they are read. A ``Write`` joins the task-pool map before it in the
same way (into an actor pool too, when its calls run one at a time), or runs in its own
task-pool map.

Example:
    >>> from streamdata.context import DataContext
    >>> from streamdata.io.memory import RangeDatasource
    >>> from streamdata.plan.cluster import ClusterInfo
    >>> from streamdata.plan.logical import LogicalPlan, Read
    >>> from streamdata.plan.lowering.lowerer import Lowerer
    >>> read = Read(datasource=RangeDatasource(10), parallelism=2)
    >>> op = lower_read(Lowerer(LogicalPlan(read), DataContext(), ClusterInfo(num_cpus=1)), read)
    >>> op.name, [type(s).__name__ for s in op.transformer.stages]
    ('ReadRange', ['ReadStage'])
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from streamdata.exec.interfaces import PhysicalOperator
from streamdata.exec.operators.actor_pool_map import ActorPoolMapOperator
from streamdata.exec.operators.input_data import InputDataOperator
from streamdata.exec.operators.map_transformer import MapStage, MapTransformer, ReadStage, WriteStage
from streamdata.exec.operators.task_pool_map import TaskPoolMapOperator
from streamdata.io.datasource import Datasource
from streamdata.plan import logical as L
from streamdata.plan.lowering.kept_dictionaries import keep_read_dictionaries
from streamdata.plan.rules.base import OptimizerContext
from streamdata.plan.rules.read_parallelism import read_parallelism
from streamdata.read_task import ReadTask

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.plan.lowering.walk import LoweringWalk


def lower_read(lowerer: LoweringWalk, node: L.Read) -> PhysicalOperator:
    """A read on its own: input of read tasks → task-pool map running them."""
    return read_operator(lowerer, node, [], None)


def read_operator(lowerer: LoweringWalk, node: L.Read, stages: list[MapStage],
                  fused: L.AbstractMap | None) -> TaskPoolMapOperator:
    """The task-pool map running ``node`` 's read tasks, then ``stages`` (those of the map
    ``fused`` into the read, if any)."""
    datasource = node.datasource
    remote_args = dict(node.ray_remote_args)
    name = datasource.name
    concurrency = node.concurrency
    if fused is not None:
        remote_args = dict(fused.ray_remote_args) or remote_args
        name = f"{name}->{fused.name}"
        compute = fused.compute
        if isinstance(compute, L.TaskPoolStrategy) and compute.size is not None:
            concurrency = compute.size if concurrency is None else min(concurrency, compute.size)
    source, bind = read_input(lowerer, node)
    op = TaskPoolMapOperator(name, source, MapTransformer([ReadStage(name=datasource.name), *stages]),
                             ray_remote_args=remote_args, concurrency=concurrency)
    bind(op)
    return op


def read_input(lowerer: LoweringWalk, node: L.Read, parallelism: int | None = None
               ) -> tuple[InputDataOperator, Callable[[PhysicalOperator], None]]:
    """The input operator of ``node`` 's read tasks (made when the execution starts), and
    the function to call with the map that runs them: that map's output estimate comes
    from the read tasks' metadata. ``parallelism`` overrides the node's."""
    datasource = node.datasource
    parallelism = parallelism or node.parallelism
    if parallelism is None:  # a plan the optimizer did not see: the rule's policy
        parallelism = read_parallelism(node, OptimizerContext.from_data_context(
            lowerer.ctx, num_cpus=lowerer.cluster.num_cpus, num_gpus=lowerer.cluster.num_gpus))
    runner: list[PhysicalOperator] = []
    source = InputDataOperator(
        datasource.name,
        read_tasks_factory=lambda: _make_read_tasks(datasource, parallelism, runner[0]))
    return source, runner.append


def _make_read_tasks(datasource: Datasource, parallelism: int, op: PhysicalOperator) -> list[ReadTask]:
    """The read tasks, made when the execution starts; the read map's output estimate comes
    from their metadata (or the source's estimated size)."""
    tasks = list(datasource.get_read_tasks(parallelism))
    sizes = [t.metadata.size_bytes for t in tasks if t.metadata.size_bytes is not None]
    if sizes:
        op.set_estimated_output_bytes_per_task(int(sum(sizes) / len(sizes)))
    else:
        total = datasource.estimate_inmemory_data_size()
        if total is not None and tasks:
            op.set_estimated_output_bytes_per_task(int(total / len(tasks)))
    return tasks


def lower_write(lowerer: LoweringWalk, node: L.Write) -> PhysicalOperator:
    """The write stage, appended to the map before it when that map has no other consumer,
    the write asks for nothing of its own and the map runs on CPUs (a task-pool map, or an
    actor pool whose calls run one at a time: :func:`write_fuses_into`); else its own map."""
    stage = WriteStage(name=node.name, datasink=node.datasink, write_uuid=uuid.uuid4().hex)
    upstream = node.input
    input_op = lowerer.lower(upstream)
    if (lowerer.only_consumer(upstream) and not node.ray_remote_args and node.concurrency is None
            and node.min_rows_per_write is None and write_fuses_into(input_op)):
        assert isinstance(input_op, (TaskPoolMapOperator, ActorPoolMapOperator))
        input_op.transformer.stages.append(stage)
        input_op.name = f"{input_op.name}->{node.name}"
        keep_read_dictionaries(input_op.transformer.stages)  # read → … → Parquet in one task
        return input_op
    return TaskPoolMapOperator(node.name, input_op, MapTransformer([stage]),
                               ray_remote_args=dict(node.ray_remote_args), concurrency=node.concurrency,
                               min_rows_per_bundle=node.min_rows_per_write)


def write_joins_actor_pool(write: L.LogicalNode | None, node: L.AbstractMap) -> bool:
    """Whether ``write`` (``node`` 's consumer, if any) will run in the calls of ``node`` 's
    actor pool: the plan-level form of :func:`write_fuses_into` for an actor-pool map, for
    decisions taken before the pool's operator exists.

    Example:
        >>> from streamdata.io.parquet import ParquetDatasink
        >>> class Cls:
        ...     def __call__(self, batch): return batch
        >>> pool = L.MapBatches(inputs=(L.InputData(),), fn=Cls, compute=L.ActorPoolStrategy(size=1))
        >>> write_joins_actor_pool(L.Write(inputs=(pool,), datasink=ParquetDatasink("/tmp/x")), pool)
        True
        >>> write_joins_actor_pool(None, pool)
        False
    """
    from streamdata.exec.operators.async_udf import is_async
    from streamdata.exec.resources import normalized_resources

    compute = node.compute
    if not isinstance(write, L.Write) or not isinstance(compute, L.ActorPoolStrategy):
        return False
    if write.ray_remote_args or write.concurrency is not None or write.min_rows_per_write is not None:
        return False
    if normalized_resources(node.ray_remote_args).get("num_gpus"):
        return False
    if (compute.max_concurrent_calls_per_actor or 1) > 1 or compute.enable_true_multi_threading:
        return False
    maps = node.stages if isinstance(node, L.FusedMap) else (node,)
    return not any(isinstance(m, L.AbstractUDFMap) and is_async(m.fn) for m in maps)


def write_fuses_into(op: PhysicalOperator) -> bool:
    """Whether a write may run as the last stage of ``op`` 's tasks or actor calls.

    A task-pool map on CPUs: yes. An actor pool on CPUs: yes when its calls run one at a
    time (no ``max_concurrency`` above 1, no true multi-threading, no async UDF), so each
    call writes its own files as a write task would. The pool would otherwise hand every
    block through the object store to a write task that runs on the CPUs the pool leaves
    (on 2 CPUs with one actor: all the writes on one CPU, one task round trip and one
    block copy each, while the actor's CPU waits); in the call, the block is written where
    it was made. A GPU map keeps its write apart (the GPU would idle during the write).

    Example:
        >>> from streamdata.exec.operators.input_data import InputDataOperator
        >>> from streamdata.exec.operators.map_transformer import ProjectStage
        >>> src = InputDataOperator("in", bundles=[])
        >>> chain = MapTransformer([ProjectStage(name="p", select=("a",))])
        >>> write_fuses_into(TaskPoolMapOperator("m", src, chain))
        True
        >>> write_fuses_into(ActorPoolMapOperator("m", src, chain, max_concurrency=2))
        False
    """
    if isinstance(op, TaskPoolMapOperator):
        return op.per_task_resources().gpu == 0
    if not isinstance(op, ActorPoolMapOperator) or op.per_task_resources().gpu:
        return False
    if op.max_concurrency > 1 or op.true_multi_threading:
        return False
    return not op.transformer.uses_async()  # (the class's ``__call__``, before it is built)


__all__ = ["lower_read", "lower_write", "read_input", "read_operator", "write_fuses_into",
           "write_joins_actor_pool"]

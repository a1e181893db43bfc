"""The planner: lowers an (optimized) logical plan to a DAG of physical operators.

Every logical node becomes one operator, except where running two steps in one task
is plainly better:

* a ``Read`` becomes an input of read tasks feeding a task-pool map whose first
  stage runs them; a task-pool map right after the read (same resources, the read
  its only consumer) joins that map, so blocks are transformed where they are read;
* a ``Write`` joins the task-pool map before it in the same way.

Maps (and the ``FusedMap`` s the optimizer made) become task-pool or actor-pool map
operators running a chain of stages; ``Limit``, ``Union`` and ``Zip`` their operators;
``StreamingSplit`` an output splitter (:func:`lower_streaming_split`);
the all-to-all nodes (``Sort``, ``RandomShuffle``, ``RandomizeBlockOrder``,
``Repartition``, ``Aggregate``, ``MapGroups``, ``Join``) go to
:func:`streamdata.exec.operators.all_to_all.lower_all_to_all`.

Example:
    >>> import streamdata.core.api as rt
    >>> _ = rt.init(num_cpus=1, ignore_reinit_error=True)
    >>> from streamdata.io.memory import RangeDatasource
    >>> from streamdata.plan.logical import LogicalPlan, Read, MapBatches, Limit
    >>> read = Read(datasource=RangeDatasource(10), parallelism=2)
    >>> dag = plan(LogicalPlan(Limit(inputs=(MapBatches(inputs=(read,), fn=lambda b: b),), limit=3)))
    >>> [op.name for op in dag.post_order()]
    ['ReadRange', 'ReadRange->MapBatches(<lambda>)', 'Limit(3)']
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from streamdata.context import DataContext
from streamdata.exec.interfaces import PhysicalOperator, RefBundle
from streamdata.exec.operators.actor_pool_map import ActorPoolMapOperator
from streamdata.exec.operators.input_data import InputDataOperator
from streamdata.exec.operators.limit import LimitOperator
from streamdata.exec.operators.output_splitter import OutputSplitterOperator
from streamdata.exec.operators.map_transformer import (
    BatchStage,
    FilterStage,
    FlatMapStage,
    MapStage,
    MapTransformer,
    ProjectStage,
    RandomSampleStage,
    ReadStage,
    RowStage,
    WithColumnStage,
    WriteStage,
)
from streamdata.exec.operators.task_pool_map import TaskPoolMapOperator
from streamdata.exec.operators.union import UnionOperator
from streamdata.exec.operators.zip import ZipOperator
from streamdata.block_metadata import BlockMetadata
from streamdata.io.datasource import Datasource
from streamdata.plan import logical as L
from streamdata.plan.cluster import ClusterInfo

#: logical nodes lowered by the all-to-all engineer's function
ALL_TO_ALL_NODES = (L.Sort, L.RandomShuffle, L.RandomizeBlockOrder, L.Repartition, L.Aggregate,
                    L.MapGroups, L.Join)


def plan(logical_plan: L.LogicalPlan, ctx: DataContext | None = None, *,
         cluster: ClusterInfo | None = None) -> PhysicalOperator:
    """The physical DAG of ``logical_plan``; returns its output operator.

    Args:
        logical_plan: the plan (optimized or not: every node has a lowering).
        ctx: the data context (default batch size, read parallelism); default the current one.
        cluster: the resources to plan for (the execution layer reads them once); None:
            asked of the runtime.

    Raises:
        NotImplementedError: a node kind this planner cannot lower (names it).
    """
    return _Planner(ctx or DataContext.get_current(), logical_plan, cluster).lower(logical_plan.root)


class _Planner:
    def __init__(self, ctx: DataContext, logical_plan: L.LogicalPlan,
                 cluster: ClusterInfo | None = None) -> None:
        self.ctx = ctx
        self.cluster = cluster
        self.memo: dict[int, PhysicalOperator] = {}
        self.consumers: dict[int, int] = {}
        for node in logical_plan.nodes():
            for inp in node.inputs:
                self.consumers[id(inp)] = self.consumers.get(id(inp), 0) + 1

    def lower(self, node: L.LogicalNode) -> PhysicalOperator:
        done = self.memo.get(id(node))
        if done is None:
            done = self.memo[id(node)] = self._lower(node)
        return done

    def _only_consumer(self, node: L.LogicalNode) -> bool:
        return self.consumers.get(id(node), 0) <= 1

    def _lower(self, node: L.LogicalNode) -> PhysicalOperator:
        if isinstance(node, L.Read):
            return self._read(node, [], None)
        if isinstance(node, L.InputData):
            return InputDataOperator("InputData", bundles=list(node.bundles))
        if isinstance(node, L.AbstractMap):
            return self._map(node)
        if isinstance(node, L.Limit):
            return LimitOperator(node.limit, self.lower(node.input))
        if isinstance(node, L.Union):
            return UnionOperator([self.lower(i) for i in node.inputs])
        if isinstance(node, L.Zip):
            return ZipOperator(self.lower(node.inputs[0]), self.lower(node.inputs[1]))
        if isinstance(node, L.Write):
            return self._write(node)
        if isinstance(node, ALL_TO_ALL_NODES):
            return self._all_to_all(node)
        if isinstance(node, L.StreamingSplit):
            return lower_streaming_split(node, self.lower(node.input))
        raise NotImplementedError(f"the planner cannot lower {type(node).__name__} ({node.name})")

    # ------------------------------------------------------------------ reads
    def _read(self, node: L.Read, stages: list[MapStage], fused: L.AbstractMap | None) -> PhysicalOperator:
        datasource = node.datasource
        parallelism = node.override_num_blocks or node.parallelism or self._default_parallelism()
        source = InputDataOperator(datasource.name, bundles_factory=list)
        remote_args = dict(node.ray_remote_args)
        name = datasource.name
        concurrency = node.concurrency
        min_rows = None
        if fused is not None:
            remote_args = dict(fused.ray_remote_args) or remote_args
            name = f"{name}->{fused.name}"
            compute = fused.compute
            if isinstance(compute, L.TaskPoolStrategy) and compute.size is not None:
                concurrency = compute.size if concurrency is None else min(concurrency, compute.size)
        op = TaskPoolMapOperator(name, source, MapTransformer([ReadStage(name=datasource.name), *stages]),
                                 ray_remote_args=remote_args, concurrency=concurrency,
                                 min_rows_per_bundle=min_rows)
        source._factory = _read_bundles_factory(datasource, parallelism, op)
        return op

    def _default_parallelism(self) -> int:
        if self.ctx.read_op_min_num_blocks:
            return self.ctx.read_op_min_num_blocks
        cpus = self.cluster.num_cpus if self.cluster is not None else _cluster_cpus()
        return max(2, int(2 * cpus))

    # ------------------------------------------------------------------ maps
    def _map(self, node: L.AbstractMap) -> PhysicalOperator:
        stages = map_stages(node, self.ctx)
        upstream = node.input
        if (isinstance(upstream, L.Read) and self._only_consumer(upstream)
                and _can_fuse_into_read(upstream, node)):
            return self._read(upstream, stages, node)
        input_op = self.lower(upstream)
        compute = node.compute
        remote_args = dict(node.ray_remote_args)
        min_rows = _min_rows(stages)
        if isinstance(compute, L.ActorPoolStrategy):
            return ActorPoolMapOperator(node.name, input_op, MapTransformer(stages),
                                        min_size=compute.min_size or 1, max_size=compute.max_size,
                                        max_tasks_in_flight_per_actor=compute.max_tasks_in_flight_per_actor,
                                        ray_remote_args=remote_args, min_rows_per_bundle=min_rows,
                                        initial_size=compute.initial_size,
                                        max_concurrency=compute.max_concurrent_calls_per_actor or 1)
        return TaskPoolMapOperator(node.name, input_op, MapTransformer(stages), ray_remote_args=remote_args,
                                   concurrency=compute.size, min_rows_per_bundle=min_rows)

    # ------------------------------------------------------------------ writes
    def _write(self, node: L.Write) -> PhysicalOperator:
        stage = WriteStage(name=node.name, datasink=node.datasink, write_uuid=uuid.uuid4().hex)
        upstream = node.input
        input_op = self.lower(upstream)
        if (isinstance(input_op, TaskPoolMapOperator) and self._only_consumer(upstream)
                and not node.ray_remote_args and node.concurrency is None
                and node.min_rows_per_write is None
                and input_op.per_task_resources().gpu == 0):
            input_op.transformer.stages.append(stage)
            input_op.name = f"{input_op.name}->{node.name}"
            return input_op
        return TaskPoolMapOperator(node.name, input_op, MapTransformer([stage]),
                                   ray_remote_args=dict(node.ray_remote_args), concurrency=node.concurrency,
                                   min_rows_per_bundle=node.min_rows_per_write)

    # ------------------------------------------------------------------ all-to-all
    def _all_to_all(self, node: L.LogicalNode) -> PhysicalOperator:
        try:
            from streamdata.exec.operators.all_to_all import lower_all_to_all
        except ImportError as exc:
            raise NotImplementedError(f"{type(node).__name__} ({node.name}) needs the all-to-all "
                                      f"operators, which are not available: {exc}") from exc
        inputs = [self.lower(i) for i in node.inputs]
        return lower_all_to_all(node, inputs[0] if len(inputs) == 1 else inputs, self.ctx)


def lower_streaming_split(node: L.StreamingSplit, input_op: PhysicalOperator) -> PhysicalOperator:
    """``streaming_split``: an output splitter tagging each bundle with its split."""
    return OutputSplitterOperator(input_op, node.n, equal=node.equal)


def map_stages(node: L.AbstractMap, ctx: DataContext | None = None) -> list[MapStage]:
    """The chain of stages a (possibly fused) logical map runs.

    Example:
        >>> [type(s).__name__ for s in map_stages(L.Project(select=("a",)))]
        ['ProjectStage']
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
    raise NotImplementedError(f"the planner cannot lower the map {type(node).__name__} ({node.name})")


def _min_rows(stages: list[MapStage]) -> int | None:
    """Coalesce inputs up to the first batch stage's batch size (Ray's rule)."""
    for stage in stages:
        if isinstance(stage, BatchStage):
            return stage.batch_size
    return None


def _can_fuse_into_read(read: L.Read, node: L.AbstractMap) -> bool:
    """A task-pool map whose resources match the read's (or the read asked for none)."""
    if not isinstance(node.compute, L.TaskPoolStrategy):
        return False
    from streamdata.plan.rules.base import normalized_resources
    mine = normalized_resources(node.ray_remote_args)
    if mine.get("num_gpus"):
        return False
    return not read.ray_remote_args or normalized_resources(read.ray_remote_args) == mine


def _cluster_cpus() -> float:
    from streamdata.core import api as rt
    try:
        return float(rt.cluster_resources().get("CPU", 1.0))
    except Exception:  # noqa: BLE001 - no runtime: plan for one CPU
        return 1.0


def _read_bundles_factory(datasource: Datasource, parallelism: int,
                          op: TaskPoolMapOperator) -> Callable[[], list[RefBundle]]:
    """Makes the read tasks when the execution starts: each ``put`` as a one-block bundle
    whose size counts as zero (a read task is small; the map's output is what counts)."""

    def make() -> list[RefBundle]:
        from streamdata.core import api as rt

        tasks = datasource.get_read_tasks(parallelism)
        sizes = [t.metadata.size_bytes for t in tasks if t.metadata.size_bytes is not None]
        if sizes:
            op._estimated_output = int(sum(sizes) / len(sizes))
        else:
            total = datasource.estimate_inmemory_data_size()
            if total is not None and tasks:
                op._estimated_output = int(total / len(tasks))
        return [RefBundle(blocks=((rt.put(t), BlockMetadata(input_files=t.metadata.input_files)),),
                          owns_blocks=True) for t in tasks]

    return make

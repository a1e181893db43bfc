"""A small read whose blocks this process consumes runs on this process's threads.

A Parquet read spends its time in Arrow's decoder, which lets go of the GIL. When such a
read is the whole plan, its data is small, and its blocks go to a consumer in this
process (``iter_batches``, ``iter_rows``, ``iter_torch_batches``, ``to_arrow``,
``take``), worker processes only add work: each block would be decoded in a worker,
copied into shared memory and mapped here, and a script's first query would wait for the
workers' template to finish its imports. The same holds for column expressions after such
a read (``with_column``, ``filter(expr=...)``, ``select_columns``, ``rename_columns``: Arrow
kernels, GIL released) and for a built-in aggregation of it (``groupby(...).sum(...)``,
``aggregate(Count(), Mean(...))``): each read task reduces its blocks to per-group
partials and the partials merge here, as the executor would merge them on the driver.

:func:`small_driver_read` tells such a plan; :func:`read_on_threads` runs its read tasks
here, one thread per CPU, and hands the blocks (or the aggregate) over in the tasks'
order. ``DataContext.driver_reads_small_data = False`` sends every plan to the executor.

Example:
    >>> from streamdata.context import DataContext
    >>> from streamdata.io.memory import RangeDatasource
    >>> from streamdata.plan.logical import LogicalPlan, Read
    >>> read = Read(datasource=RangeDatasource(10), parallelism=2)
    >>> small_driver_read(LogicalPlan(read), DataContext(), num_cpus=2) is None  # not decoded by Arrow
    True
"""

from __future__ import annotations

import itertools
import math
import queue
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from streamdata.aggregation.builtins import is_builtin
from streamdata.context import DataContext
from streamdata.exec.stats import ExecutionStats, OperatorStats
from streamdata.execution.stats_record import StatsRecord
from streamdata.execution.thread_pool import shared_thread_pool
from streamdata.plan.logical import AbstractMap, Aggregate, LogicalNode, LogicalPlan, Read
from streamdata.plan.map_nodes import arrow_expressions_only
from streamdata.plan.rules.read_parallelism import SMALL_READ_BYTES_PER_CPU


@dataclass(frozen=True, slots=True)
class DriverRead:
    """A plan that runs on this process's threads: ``read``, then the column expressions
    ``maps`` (a map node, fused or not), then the built-in ``aggregate`` of the rows."""

    read: Read
    aggregate: Aggregate | None = None
    maps: AbstractMap | None = None


def small_driver_read(plan: LogicalPlan, ctx: DataContext, num_cpus: float) -> DriverRead | None:
    """The plan (optimized) as a :class:`DriverRead` to run on this process's threads, or
    None when it goes to the executor.

    It is one when the plan is a read, then optionally column expressions
    (:func:`~streamdata.plan.map_nodes.arrow_expressions_only`), then optionally a
    built-in aggregation (:func:`~streamdata.aggregation.builtins.is_builtin` for each,
    with or without keys).
    The read's source must decode in Arrow (``decodes_in_arrow``, e.g. Parquet) and the
    read must ask for no resources or concurrency of its own; no failed block may be
    skipped (``max_errored_blocks`` is the executor's); and the read must decode to at
    most :data:`~streamdata.plan.rules.read_parallelism.SMALL_READ_BYTES_PER_CPU` per CPU
    (the size the read-parallelism rule calls small).
    """
    if not ctx.driver_reads_small_data or ctx.max_errored_blocks != 0:
        return None
    root, aggregate = plan.root, None
    if isinstance(root, Aggregate) and all(is_builtin(agg) for agg in root.aggs):
        root, aggregate = root.input, root
    chain = small_read_chain(root)
    if chain is None or chain[1] > small_read_limit(num_cpus):
        return None
    return DriverRead(chain[0].read, aggregate, chain[0].maps)


def small_read_chain(node: LogicalNode) -> tuple[DriverRead, int] | None:
    """``node`` as a read that may run on this process's threads (optionally followed by
    column expressions), with the bytes it decodes to; None when it is not one.

    The read's source must decode in Arrow (``decodes_in_arrow``, e.g. Parquet), the read
    must ask for no resources or concurrency of its own, and its source must tell its size.
    Whether that size is small is the caller's to judge (:func:`small_read_limit`).
    """
    maps = None
    if arrow_expressions_only(node):
        node, maps = node.inputs[0], node
    if not isinstance(node, Read):
        return None
    source = node.datasource
    if (not getattr(source, "decodes_in_arrow", False) or node.ray_remote_args
            or node.concurrency is not None):
        return None
    tell = getattr(source, "estimate_decoded_bytes", None)
    size = tell() if callable(tell) else source.estimate_inmemory_data_size()
    if size is None:
        return None
    return DriverRead(node, maps=maps), size


def small_read_limit(num_cpus: float) -> int:
    """The most bytes a plan run on this process's threads may decode: what the
    read-parallelism rule calls small, per CPU.

    Example:
        >>> small_read_limit(2) == 2 * SMALL_READ_BYTES_PER_CPU
        True
    """
    return max(1, math.ceil(num_cpus)) * SMALL_READ_BYTES_PER_CPU


def driver_threads(num_cpus: float, ctx: DataContext) -> int:
    """Threads for a read on this process: one per CPU, within ``resource_limits``.

    Example:
        >>> from streamdata.context_options import ExecutionOptions, ExecutionResources
        >>> ctx = DataContext(execution_options=ExecutionOptions(resource_limits=ExecutionResources(cpu=1)))
        >>> driver_threads(2, DataContext()), driver_threads(2, ctx), driver_threads(0.5, DataContext())
        (2, 1, 1)
    """
    limit = ctx.execution_options.resource_limits.cpu
    cpus = num_cpus if limit is None or math.isinf(limit) else min(num_cpus, limit)
    return max(1, int(cpus))


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = object()


def read_on_threads(plan: DriverRead, *, threads: int, ctx: DataContext,
                    record: StatsRecord | None = None) -> Iterator[pa.Table]:
    """The blocks of ``plan`` 's read, its tasks run on ``threads`` threads of this
    process, in the tasks' order; with an aggregation, its one output block instead (each
    task reduces its blocks to partials, which merge here once every task is done).

    Each task's output waits in its own queue until the tasks before it are handed over
    (the read is small: :func:`small_driver_read`). Leaving early stops the tasks not yet
    started and each running one after its current block; the stats land in ``record`` as
    an execution's would.
    """
    from streamdata.exec.operators.map_transformer import MapTransformer, TaskContext

    read, aggregate = plan.read, plan.aggregate
    name = "->".join([read.name] + ([plan.maps.name] if plan.maps is not None else [])
                     + ([f"partial {aggregate.name}"] if aggregate is not None else []))
    tasks = list(read.datasource.get_read_tasks(read.parallelism or threads))
    threads = max(1, min(threads, len(tasks)))
    stats = OperatorStats(name=name, tasks=len(tasks), extra=f"read on {threads} driver threads")
    operators = [stats]
    outputs: list[queue.SimpleQueue[Any]] = [queue.SimpleQueue() for _ in tasks]
    cpu_s = [0.0] * len(tasks)
    stop = threading.Event()
    started = time.perf_counter()

    next_task = itertools.count()

    def run_tasks() -> None:  # one of ``threads`` loops: the next task not yet taken, in order
        while not stop.is_set() and (index := next(next_task)) < len(tasks):
            run(index, tasks[index])

    def run(index: int, task: Any) -> None:
        out = outputs[index]
        begun = time.thread_time()
        try:
            context = TaskContext(task_index=index, op_name=name,
                                  target_max_block_size=ctx.target_max_block_size)
            for table in MapTransformer(_stages(plan, ctx)).apply(iter([task]), context):
                out.put(table)
                if stop.is_set():
                    return
        except Exception as exc:  # raised in the consumer's thread, as the executor would
            out.put(_Failed(_task_error(exc, name, task, index, ctx)))
        except BaseException as exc:  # noqa: BLE001 - raised in the consumer's thread
            out.put(_Failed(exc))
        finally:
            cpu_s[index] = time.thread_time() - begun
            out.put(_END)

    def in_order() -> Iterator[pa.Table]:
        for out in outputs:
            while (item := out.get()) is not _END:
                if isinstance(item, _Failed):
                    raise item.error
                if item.num_rows:
                    stats.blocks_out += 1
                    stats.rows_out += item.num_rows
                    stats.bytes_out += item.nbytes
                yield item

    finished = False
    try:
        pool = shared_thread_pool()
        for _ in range(threads):
            pool.submit(run_tasks)
        if aggregate is None:
            yield from _skipping_empty(in_order())
        else:
            merged = reduce_partials(aggregate, list(in_order()))
            operators.append(OperatorStats(name=aggregate.name, tasks=1, blocks_out=1, rows_out=merged.num_rows,
                                           bytes_out=merged.nbytes, wall_s=time.perf_counter() - started,
                                           extra="merged on the driver"))
            yield merged
        finished = True
    finally:
        stop.set()
        stats.wall_s, stats.cpu_s = time.perf_counter() - started, sum(cpu_s)
        if record is not None:
            record.last = ExecutionStats(operators=operators, wall_s=time.perf_counter() - started,
                                         finished=finished)


def _stages(plan: DriverRead, ctx: DataContext) -> list[Any]:
    """The stages one read task runs (built per task: a stage may keep state once it
    starts): the read, the column expressions as the lowering builds them, the partial
    aggregation."""
    from streamdata.exec.operators.map_transformer import ReadStage

    stages: list[Any] = [ReadStage(name=plan.read.datasource.name)]
    if plan.maps is not None:
        from streamdata.plan.lowering.maps import map_stages

        stages += map_stages(plan.maps, ctx)
    if plan.aggregate is not None:
        from streamdata.exec.operators.partial_aggregate import PartialAggregateStage

        stages.append(PartialAggregateStage(name=f"{plan.aggregate.name}:partial", keys=plan.aggregate.keys,
                                            aggs=plan.aggregate.aggs))
    return stages


def _task_error(exc: Exception, name: str, task: Any, index: int, ctx: DataContext) -> Exception:
    """``exc`` as the executor raises a failed task's error: a ``TaskError`` that is also
    of the error's own class, naming the operator and the task's files."""
    from streamdata.errors import TaskError
    from streamdata.exec.operators.map_operator import input_description

    err = TaskError.wrap(exc, traceback.format_exc(), name)
    if err is not exc:
        err.failed_input = input_description(task.metadata.input_files, index)
        err.internal_frames = bool(ctx.log_internal_stack_trace)
    return err


def _skipping_empty(tables: Iterator[pa.Table]) -> Iterator[pa.Table]:
    """``tables`` without the empty ones, but one empty table (it carries the schema) when
    nothing else comes."""
    empty: pa.Table | None = None
    any_rows = False
    for table in tables:
        if table.num_rows:
            any_rows = True
            yield table
        elif empty is None:
            empty = table
    if not any_rows and empty is not None:
        yield empty


def reduce_partials(aggregate: Aggregate, partials: list[pa.Table]) -> pa.Table:
    """The aggregation's output from its read tasks' partials (the reduce the executor's
    aggregate operator runs, on one partition)."""
    from streamdata.exec.operators.all_to_all.spec import AggregateSpec

    spec = AggregateSpec(keys=aggregate.keys, aggs=aggregate.aggs, prepared=True)
    for partial in partials:
        if partial.num_columns:
            spec.validate(partial.schema, 0)
    return spec.reduce([partials], index=0)


__all__ = ["DriverRead", "driver_threads", "read_on_threads", "reduce_partials", "small_driver_read",
           "small_read_chain", "small_read_limit"]

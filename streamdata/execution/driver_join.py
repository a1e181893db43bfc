"""A join of two small reads whose output this process consumes runs on its threads.

When both sides of a join are small reads that may run here
(:func:`~streamdata.execution.driver_read.small_read_chain`, together within the small-read
size), the executor would decode each side in worker processes, copy the blocks through
shared memory into one join task (a small join runs as one task) and copy its output back.
Here each side is read on this process's threads
(:func:`~streamdata.execution.driver_read.read_on_threads`), then the join's own reduce
(``JoinSpec.reduce``: Arrow's kernels, or the direct-address match of one dense integer key)
joins them; a built-in aggregation of the joined rows runs its partial step in that reduce,
as the lowering fuses it into the join's tasks, and the partials merge as a read's do.

:func:`small_driver_join` tells such a plan; :func:`join_on_threads` runs it.
``DataContext.driver_reads_small_data = False`` sends every plan to the executor.

Example:
    >>> from streamdata.context import DataContext
    >>> from streamdata.io.memory import RangeDatasource
    >>> from streamdata.plan.logical import Join, LogicalPlan, Read
    >>> side = Read(datasource=RangeDatasource(10), parallelism=1)
    >>> plan = LogicalPlan(Join(inputs=(side, side), on=("id",)))
    >>> small_driver_join(plan, DataContext(), num_cpus=2) is None  # not decoded by Arrow
    True
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import wait
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from streamdata.aggregation.builtins import is_builtin
from streamdata.context import DataContext
from streamdata.exec.stats import ExecutionStats, OperatorStats
from streamdata.execution.driver_read import (
    DriverRead, reduce_partials, read_on_threads, small_read_chain, small_read_limit,
)
from streamdata.execution.stats_record import StatsRecord
from streamdata.execution.thread_pool import shared_thread_pool
from streamdata.plan.logical import Aggregate, Join, LogicalPlan

if TYPE_CHECKING:
    from streamdata.exec.operators.all_to_all.spec import JoinSpec


@dataclass(frozen=True, slots=True)
class DriverJoin:
    """A plan that runs on this process's threads: the reads ``left`` and ``right``, their
    ``join``, then the built-in ``aggregate`` of the joined rows."""

    left: DriverRead
    right: DriverRead
    join: Join
    aggregate: Aggregate | None = None


def small_driver_join(plan: LogicalPlan, ctx: DataContext, num_cpus: float) -> DriverJoin | None:
    """The plan (optimized) as a :class:`DriverJoin` to run on this process's threads, or
    None when it goes to the executor.

    It is one when the plan is a join, optionally followed by a built-in aggregation,
    whose sides are each a read that may run on this process's threads, optionally
    followed by column expressions (:func:`~streamdata.execution.driver_read.small_read_chain`),
    that decode together to at most the small-read size (``small_read_limit``); the join
    asks for no resources of its own and no failed block may be skipped.
    """
    if not ctx.driver_reads_small_data or ctx.max_errored_blocks != 0:
        return None
    root, aggregate = plan.root, None
    if isinstance(root, Aggregate) and all(is_builtin(agg) for agg in root.aggs):
        root, aggregate = root.input, root
    if not isinstance(root, Join) or root.ray_remote_args:
        return None
    sides = [small_read_chain(side) for side in root.inputs]
    if any(side is None for side in sides):
        return None
    (left, left_bytes), (right, right_bytes) = sides  # type: ignore[misc]
    if left_bytes + right_bytes > small_read_limit(num_cpus):
        return None
    return DriverJoin(left, right, root, aggregate)


def join_on_threads(plan: DriverJoin, *, threads: int, ctx: DataContext,
                    record: StatsRecord | None = None) -> Iterator[pa.Table]:
    """The output of ``plan`` as one table: both sides read at once, each on ``threads``
    threads of this process, then joined (and aggregated) here; the stats land in
    ``record`` as an execution's would."""
    started = time.perf_counter()
    join, aggregate = plan.join, plan.aggregate
    operators: list[OperatorStats] = []
    records = (StatsRecord(), StatsRecord())

    def read(side: DriverRead, side_record: StatsRecord) -> list[pa.Table]:
        return list(read_on_threads(side, threads=threads, ctx=ctx, record=side_record))

    right = shared_thread_pool().submit(read, plan.right, records[1])  # both sides' reads overlap
    try:
        sides = [read(plan.left, records[0]), right.result()]
    except BaseException:
        wait([right])  # no read left running behind the error
        raise
    for side_record in records:
        if side_record.last is not None:
            operators += side_record.last.operators
    spec = _join_spec(plan, [tables[0].schema if tables else None for tables in sides])
    begun = time.thread_time()
    out = spec.reduce(sides, index=0)
    name = join.name + (f"->partial {aggregate.name}" if aggregate is not None else "")
    operators.append(OperatorStats(name=name, tasks=1, blocks_out=1, rows_out=out.num_rows, bytes_out=out.nbytes,
                                   wall_s=time.perf_counter() - started, cpu_s=time.thread_time() - begun,
                                   extra="joined on the driver"))
    if aggregate is not None:
        out = reduce_partials(aggregate, [out])
        operators.append(OperatorStats(name=aggregate.name, tasks=1, blocks_out=1, rows_out=out.num_rows,
                                       bytes_out=out.nbytes, wall_s=time.perf_counter() - started,
                                       extra="merged on the driver"))
    if record is not None:
        record.last = ExecutionStats(operators=operators, wall_s=time.perf_counter() - started, finished=True)
    yield out


def _join_spec(plan: DriverJoin, schemas: list[pa.Schema | None]) -> JoinSpec:
    """The join's reduce as the lowering builds it (with the aggregation's partial step and
    the columns it reads, when one follows), checked against the sides' schemas: a missing
    key or clashing columns raise here, naming them, as the executor's join does."""
    from streamdata.exec.operators.all_to_all.spec import JoinSpec
    from streamdata.plan.lowering.all_to_all import aggregate_input_columns

    join, aggregate = plan.join, plan.aggregate
    spec = JoinSpec(left_keys=join.on, right_keys=join.right_on or join.on, join_type=join.join_type,
                    left_suffix=join.left_suffix, right_suffix=join.right_suffix,
                    schemas=(schemas[0], schemas[1]),
                    partial_aggregate=(aggregate.keys, aggregate.aggs) if aggregate is not None else None,
                    output_columns=(aggregate_input_columns(aggregate.keys, aggregate.aggs)
                                    if aggregate is not None else None))
    for index, schema in enumerate(schemas):
        if schema is not None:
            spec.validate(schema, index)
    if schemas[0] is not None and schemas[1] is not None:
        spec.validate_both(schemas[0], schemas[1])
    return spec


__all__ = ["DriverJoin", "join_on_threads", "small_driver_join"]

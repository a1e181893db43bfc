"""A small read whose blocks this process consumes runs on this process's threads.

A Parquet read spends its time in Arrow's decoder, which lets go of the GIL. When such a
read is the whole plan, its data is small, and its blocks go to a consumer in this
process (``iter_batches``, ``iter_rows``, ``iter_torch_batches``, ``to_arrow``,
``take``), worker processes only add work: each block would be decoded in a worker,
copied into shared memory and mapped here, and a script's first query would wait for the
workers' template to finish its imports. :func:`small_driver_read` tells such a read;
:func:`read_on_threads` runs its read tasks here, one thread per CPU, and hands the blocks
over in the tasks' order as they are read. ``DataContext.driver_reads_small_data = False``
sends every plan to the executor.

Example:
    >>> from streamdata.context import DataContext
    >>> from streamdata.io.memory import RangeDatasource
    >>> from streamdata.plan.logical import LogicalPlan, Read
    >>> read = Read(datasource=RangeDatasource(10), parallelism=2)
    >>> small_driver_read(LogicalPlan(read), DataContext(), num_cpus=2) is None  # not decoded by Arrow
    True
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa

from streamdata.context import DataContext
from streamdata.exec.stats import ExecutionStats, OperatorStats
from streamdata.execution.stats_record import StatsRecord
from streamdata.plan.logical import LogicalPlan, Read
from streamdata.plan.rules.read_parallelism import SMALL_READ_BYTES_PER_CPU


def small_driver_read(plan: LogicalPlan, ctx: DataContext, num_cpus: float) -> Read | None:
    """The read of ``plan`` (optimized) to run on this process's threads, or None when the
    plan goes to the executor.

    It is the read when the plan is nothing but a read whose source decodes in Arrow
    (``decodes_in_arrow``, e.g. Parquet), asks for no resources or concurrency of its
    own, may not skip failed blocks (``max_errored_blocks``, the executor's), and decodes
    to at most :data:`~streamdata.plan.rules.read_parallelism.SMALL_READ_BYTES_PER_CPU`
    per CPU (the size the read-parallelism rule calls small).
    """
    read = plan.root
    if not (ctx.driver_reads_small_data and isinstance(read, Read)):
        return None
    source = read.datasource
    if (not getattr(source, "decodes_in_arrow", False) or read.ray_remote_args
            or read.concurrency is not None or ctx.max_errored_blocks != 0):
        return None
    tell = getattr(source, "estimate_decoded_bytes", None)
    size = tell() if callable(tell) else source.estimate_inmemory_data_size()
    if size is None or size > max(1, math.ceil(num_cpus)) * SMALL_READ_BYTES_PER_CPU:
        return None
    return read


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


def read_on_threads(read: Read, *, threads: int, ctx: DataContext,
                    record: StatsRecord | None = None) -> Iterator[pa.Table]:
    """The blocks of ``read``, its tasks run on ``threads`` threads of this process, in the
    tasks' order. Each task's blocks wait in its own queue until the tasks before it are
    handed over (the read is small: :func:`small_driver_read`). Leaving early stops the
    tasks not yet started and each running one after its current block; the stats land in
    ``record`` as an execution's would.
    """
    from streamdata.exec.operators.map_transformer import ReadStage, TaskContext

    tasks = list(read.datasource.get_read_tasks(read.parallelism or threads))
    threads = max(1, min(threads, len(tasks)))
    stats = OperatorStats(name=read.name, tasks=len(tasks), extra=f"read on {threads} driver threads")
    outputs: list[queue.SimpleQueue[Any]] = [queue.SimpleQueue() for _ in tasks]
    cpu_s = [0.0] * len(tasks)
    stop = threading.Event()
    started = time.perf_counter()

    def run(index: int, task: Any) -> None:
        out = outputs[index]
        begun = time.thread_time()
        try:
            context = TaskContext(task_index=index, op_name=read.name,
                                  target_max_block_size=ctx.target_max_block_size)
            for table in ReadStage(name=read.datasource.name).apply(iter([task]), context):
                out.put(table)
                if stop.is_set():
                    return
        except BaseException as exc:  # noqa: BLE001 - raised in the consumer's thread
            out.put(_Failed(exc))
        finally:
            cpu_s[index] = time.thread_time() - begun
            out.put(_END)

    pool = ThreadPoolExecutor(threads, thread_name_prefix="streamdata-read")
    finished = False
    try:
        for index, task in enumerate(tasks):
            pool.submit(run, index, task)
        empty: pa.Table | None = None
        for out in outputs:
            while (item := out.get()) is not _END:
                if isinstance(item, _Failed):
                    raise item.error
                if item.num_rows == 0:  # kept only to carry the schema when nothing else comes
                    empty = item
                    continue
                stats.blocks_out += 1
                stats.rows_out += item.num_rows
                stats.bytes_out += item.nbytes
                yield item
        if stats.blocks_out == 0 and empty is not None:
            yield empty
        finished = True
    finally:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        stats.wall_s, stats.cpu_s = time.perf_counter() - started, sum(cpu_s)
        if record is not None:
            record.last = ExecutionStats(operators=[stats], wall_s=stats.wall_s, finished=finished)


__all__ = ["driver_threads", "read_on_threads", "small_driver_read"]

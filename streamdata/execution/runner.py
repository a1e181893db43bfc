"""Running compiled plans on the :class:`~streamdata.exec.executor.StreamingExecutor`.

:func:`iterate` streams the output bundles of a logical plan (compiling it first);
:func:`run` collects them; :class:`Execution` is one running execution, for callers
that steer it (the ``streaming_split`` coordinator). The stats of an execution land
in a :class:`StatsRecord` the caller passes in (a Dataset keeps one).

Example:
    >>> from streamdata.io.memory import RangeDatasource
    >>> from streamdata.plan.logical import LogicalPlan, Read
    >>> record = StatsRecord()
    >>> str(record)
    'this dataset has not run yet'
    >>> bundles = list(iterate(LogicalPlan(Read(datasource=RangeDatasource(4))), record=record))
    >>> sum(b.num_rows() for b in bundles), "ReadRange" in str(record)
    (4, True)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from streamdata.context import DataContext
from streamdata.exec.interfaces import RefBundle
from streamdata.exec.stats import ExecutionStats
from streamdata.execution.compiler import PhysicalPlan, cluster_info, compile, lower_optimized, optimize
from streamdata.execution.driver_join import join_on_threads, small_driver_join
from streamdata.execution.driver_read import driver_threads, read_on_threads, small_driver_read
from streamdata.execution.stats_record import StatsRecord
from streamdata.plan.io_nodes import InputData
from streamdata.plan.logical import LogicalPlan


_logger = logging.getLogger("streamdata.execution")
#: stats of the finished executions (``DataContext.enable_stats_summary_collection``)
_FINISHED: list[ExecutionStats] = []


def finished_stats() -> list[ExecutionStats]:
    """The stats of every execution that finished while collection was on, oldest first."""
    return list(_FINISHED)


class Execution(Iterator[RefBundle]):
    """One running execution of a compiled plan; iterate it for the output bundles.

    ``close()`` stops it; ``stats()`` is complete once the output is exhausted.
    """

    def __init__(self, physical: PhysicalPlan, ctx: DataContext, name: str) -> None:
        from streamdata.exec.executor import StreamingExecutor

        self.physical = physical
        self._executor = StreamingExecutor(ctx, name=name)
        self._out = self._executor.execute(physical.dag, oversubscribed=physical.oversubscribed)

    def __next__(self) -> RefBundle:
        return next(self._out)

    def close(self) -> None:
        """Stop the execution (its tasks and actors) unless it already ended."""
        self._out.close()

    def shutdown(self) -> None:
        """Stop the executor's loop, cancel work in flight, release actors."""
        self._executor.shutdown()

    def hold_output_bytes(self, delta: int) -> None:
        """Count ``delta`` bytes of delivered output as still held by the consumer."""
        self._executor.hold_output_bytes(delta)

    def stats(self) -> ExecutionStats:
        """The execution's statistics so far."""
        return self._executor.stats()


def start(logical_plan: LogicalPlan, *, ctx: DataContext | None = None,
          name: str | None = None) -> Execution:
    """Compile ``logical_plan`` and start running it."""
    ctx = ctx or DataContext.get_current()
    return Execution(compile(logical_plan, ctx), ctx, name or _short_name(logical_plan))


def iterate(logical_plan: LogicalPlan, *, record: StatsRecord | None = None,
            ctx: DataContext | None = None, name: str | None = None) -> Iterator[RefBundle]:
    """The output bundles of ``logical_plan`` as they are produced.

    A plan whose root is already in the object store (``InputData``) runs nothing.
    Closing the generator stops the execution; its stats then land in ``record``.
    """
    root = logical_plan.root
    if isinstance(root, InputData):
        yield from root.bundles
        return
    ctx = ctx or DataContext.get_current()
    yield from _execute(compile(logical_plan, ctx), ctx, name or _short_name(logical_plan), record)


def iterate_tables(logical_plan: LogicalPlan, *, record: StatsRecord | None = None,
                   ctx: DataContext | None = None, name: str | None = None) -> Iterator[pa.Table]:
    """The blocks of ``logical_plan``'s output, fetched into this process as they are
    produced, for a consumer here: a small read, with column expressions or a built-in
    aggregation after it, runs on this process's threads
    (:mod:`~streamdata.execution.driver_read`), and so does a join of two such reads
    (:mod:`~streamdata.execution.driver_join`); any other plan runs on the executor."""
    if isinstance(logical_plan.root, InputData):
        yield from iter_tables(iterate(logical_plan, record=record, ctx=ctx, name=name))
        return
    from streamdata.core import api as rt

    ctx = ctx or DataContext.get_current()
    cluster = cluster_info()
    optimized = optimize(logical_plan, ctx, cluster)
    if rt.objects_are_local():
        threads = driver_threads(cluster.num_cpus, ctx)
        read = small_driver_read(optimized, ctx, cluster.num_cpus)
        if read is not None:
            yield from read_on_threads(read, threads=threads, ctx=ctx, record=record)
            return
        join = small_driver_join(optimized, ctx, cluster.num_cpus)
        if join is not None:
            yield from join_on_threads(join, threads=threads, ctx=ctx, record=record)
            return
    physical = lower_optimized(optimized, ctx, cluster)
    yield from iter_tables(_execute(physical, ctx, name or _short_name(logical_plan), record))


def _execute(physical: PhysicalPlan, ctx: DataContext, name: str,
             record: StatsRecord | None) -> Iterator[RefBundle]:
    """The output bundles of a running execution of ``physical``; closing stops it."""
    execution = Execution(physical, ctx, name)
    finished = False
    try:
        yield from execution
        finished = True
    except Exception:
        if ctx.log_internal_stack_trace:  # the whole traceback, engine frames included
            _logger.exception("execution of %s failed", name)
        raise
    finally:
        execution.close()
        if record is not None:
            record.last = execution.stats()
        if finished and ctx.enable_auto_log_stats:
            _logger.info("%s", execution.stats().summary())
        if finished and ctx.enable_stats_summary_collection:
            _FINISHED.append(execution.stats())


@dataclass(frozen=True, slots=True)
class RunResult:
    """The output of a whole execution: its bundles (the caller owns them) and stats."""

    bundles: list[RefBundle]
    stats: StatsRecord


def run(logical_plan: LogicalPlan, *, record: StatsRecord | None = None,
        ctx: DataContext | None = None) -> RunResult:
    """Run ``logical_plan`` to the end; every output bundle (not freed when consumed)."""
    import dataclasses

    record = record if record is not None else StatsRecord()
    bundles = [dataclasses.replace(b, owns_blocks=False)
               for b in iterate(logical_plan, record=record, ctx=ctx)]
    return RunResult(bundles=bundles, stats=record)


def get_tables(bundles: Iterable[RefBundle]) -> list[pa.Table]:
    """The blocks of ``bundles`` fetched from the object store."""
    from streamdata.core import api as rt
    refs = [ref for b in bundles for ref in b.block_refs()]
    return list(rt.get(refs)) if refs else []


def iter_tables(bundles: Iterator[RefBundle]) -> Iterator[pa.Table]:
    """The blocks of a stream of bundles, one bundle fetched at a time; closes the stream."""
    from streamdata.core import api as rt
    try:
        for bundle in bundles:
            refs = bundle.block_refs()
            yield from rt.get(refs)
            del refs, bundle
    finally:
        close = getattr(bundles, "close", None)
        if close is not None:
            close()


def ensure_runtime() -> None:
    """Start the local runtime unless one is running (in the calling thread)."""
    from streamdata.core import api as rt
    if not rt.is_initialized():
        rt.init()


def _short_name(logical_plan: LogicalPlan) -> str:
    return logical_plan.root.name.split("(")[0][:40] or "dataset"


__all__ = ["Execution", "RunResult", "StatsRecord", "ensure_runtime", "finished_stats", "get_tables", "iter_tables",
           "iterate", "iterate_tables", "run", "start"]

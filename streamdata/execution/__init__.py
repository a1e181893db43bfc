"""Execution: the one way a logical plan reaches the executor and the runtime.

The facade (:mod:`streamdata.dataset`, :mod:`streamdata.grouped`,
:mod:`streamdata.iterator`) builds logical plans; this package compiles and runs
them. It owns:

- :mod:`~streamdata.execution.compiler`: reading the cluster's size once
  (:func:`cluster_info`), the optimizer rules with an ``OptimizerContext`` built from
  the data context and that cluster, the lowering to physical operators and the CPU
  oversubscription notes (applied once, here): :func:`compile` gives a
  :class:`PhysicalPlan`;
- :mod:`~streamdata.execution.runner`: driving the
  :class:`~streamdata.exec.executor.StreamingExecutor` (:func:`iterate`,
  :func:`run`, :class:`Execution`), fetching blocks (:func:`get_tables`), and the
  stats of the last run (:class:`StatsRecord`);
- :mod:`~streamdata.execution.driver_read`: a small Parquet read whose blocks this
  process consumes, run on this process's threads instead (:func:`iterate_tables`
  chooses);
- :mod:`~streamdata.execution.writer`: the datasink commit protocol (:func:`write`);
- :mod:`~streamdata.execution.refs`: user ObjectRefs to and from blocks
  (``from_*_refs``, ``from_blocks``, ``to_*_refs``);
- :mod:`~streamdata.execution.splitter`: splitting materialized blocks at row indices
  (remote slices) and the coordinator actor of ``streaming_split``.

It may import: base modules (block, errors, context, block_metadata),
:mod:`streamdata.plan`, :mod:`streamdata.exec` and the runtime API
(:mod:`streamdata.core.api`). It never imports the facade (dataset, grouped,
iterator, read_api). It re-exports :class:`~streamdata.exec.interfaces.RefBundle`, the
unit of output the facade receives.

Example:
    >>> from streamdata.execution import get_tables, run
    >>> from streamdata.io.memory import RangeDatasource
    >>> from streamdata.plan.logical import LogicalPlan, Read
    >>> plan = LogicalPlan(Read(datasource=RangeDatasource(5)))
    >>> sum(t.num_rows for t in get_tables(run(plan).bundles))
    5
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from streamdata.lazy import lazy_attributes

if TYPE_CHECKING:
    from streamdata.exec.interfaces import BlockEntry, RefBundle
    from streamdata.execution.compiler import PhysicalPlan, cluster_info, compile, optimize
    from streamdata.execution.refs import (
        bundles_from_refs, bundles_from_tables, converted_refs, fetch, is_object_ref,
    )
    from streamdata.execution.stats_record import StatsRecord
    from streamdata.execution.runner import (
        Execution, RunResult, ensure_runtime, finished_stats, get_tables, iterate,
        iter_tables, iterate_tables, run,
    )
    from streamdata.execution.splitter import (
        SplitCoordinator, SplitSource, shutdown_split, slice_at_indices, start_streaming_split,
    )
    from streamdata.execution.writer import write

#: where each name lives: the executor, the lowering and the runtime are imported on
#: the first run, not by ``import streamdata`` (the facade imports this package)
_HOMES = {
    "RefBundle": "streamdata.exec.interfaces",
    "BlockEntry": "streamdata.exec.interfaces",
    "StatsRecord": "streamdata.execution.stats_record",
    **dict.fromkeys(("PhysicalPlan", "cluster_info", "compile", "optimize"), "streamdata.execution.compiler"),
    **dict.fromkeys(("bundles_from_refs", "bundles_from_tables", "converted_refs", "fetch", "is_object_ref"),
                    "streamdata.execution.refs"),
    **dict.fromkeys(("Execution", "RunResult", "ensure_runtime", "finished_stats",
                     "get_tables", "iterate", "iter_tables", "iterate_tables", "run"), "streamdata.execution.runner"),
    **dict.fromkeys(("SplitCoordinator", "SplitSource", "shutdown_split", "slice_at_indices",
                     "start_streaming_split"), "streamdata.execution.splitter"),
    "write": "streamdata.execution.writer",
}
__getattr__ = lazy_attributes(__name__, globals(), {name: f"{home}:{name}" for name, home in _HOMES.items()})


__all__ = [
    "bundles_from_refs", "bundles_from_tables", "converted_refs", "fetch", "is_object_ref",
    "BlockEntry", "Execution", "RefBundle", "PhysicalPlan", "RunResult", "SplitCoordinator", "SplitSource", "StatsRecord",
    "cluster_info", "compile", "finished_stats", "ensure_runtime", "get_tables", "iter_tables", "iterate", "iterate_tables",
    "optimize", "run", "shutdown_split", "slice_at_indices", "start_streaming_split", "write",
]

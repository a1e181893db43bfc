"""The map side of a group-by aggregation, run as the last stage of the task that makes
the blocks (a read, or a task-pool map).

Ray fuses a task-pool map into the map side of the all-to-all after it; here the
aggregation's partial step joins the producing task the same way, so each task
hands the aggregate operator one small table of per-group accumulators instead of its
blocks: no separate prepare task per bundle, and the raw blocks never cross processes.
The all-to-all operator then only merges and finalizes
(:class:`~streamdata.exec.operators.all_to_all.spec.AggregateSpec` with ``prepared=True``).

Blocks are gathered up to :data:`PARTIAL_BUFFER_BYTES` and reduced to their partials; a
task that made several such groups merges their partials before it returns, so a task
holds at most one group of raw blocks at a time.

Example:
    >>> import pyarrow as pa
    >>> from streamdata.aggregate import Sum
    >>> from streamdata.exec.operators.map_transformer import TaskContext
    >>> stage = PartialAggregateStage(name="agg", keys=("k",), aggs=(Sum("v"),))
    >>> blocks = [pa.table({"k": [1, 2], "v": [1, 2]}), pa.table({"k": [2], "v": [5]})]
    >>> [t.to_pylist() for t in stage.apply(iter(blocks), TaskContext(task_index=0))]
    [[{'k': 1, '__agg0_0': 1}, {'k': 2, '__agg0_0': 7}]]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from streamdata.exec.operators.all_to_all.spec import AggregateSpec
from streamdata.exec.operators.map_transformer import MapStage, TaskContext, gathered
from streamdata.exec.shuffle import groupby as G

#: raw input gathered before it is reduced to partials (bounds a task's working set)
PARTIAL_BUFFER_BYTES = 64 << 20


class PartialAggregateStage(MapStage):
    """Reduce every block of a task to one partial-aggregate table (see the module docstring).

    Args:
        name: display name (the aggregation's).
        keys: the group keys.
        aggs: the aggregations (``AggregateFn`` s).
        buffer_bytes: raw bytes gathered before each partial step.
    """

    def __init__(self, *, name: str, keys: tuple[str, ...], aggs: tuple[Any, ...],
                 buffer_bytes: int = PARTIAL_BUFFER_BYTES) -> None:
        self.name = name
        self.keys = tuple(keys)
        self.aggs = tuple(aggs)
        self.buffer_bytes = buffer_bytes

    def apply(self, blocks: Iterator[pa.Table], ctx: TaskContext) -> Iterator[pa.Table]:
        # map: no loop variable keeps a gathered group alive while the next one gathers
        partials = list(map(self._partial, gathered(blocks, self.buffer_bytes)))
        if not partials:
            return
        if len(partials) == 1:
            yield partials[0]
        else:
            yield G.merge_partials(partials, self.keys, self.aggs)

    def _partial(self, table: pa.Table) -> pa.Table:
        if len(table.schema):  # the checks the aggregate operator makes of unprepared input
            AggregateSpec(keys=self.keys, aggs=self.aggs).validate(table.schema, 0)
        return G.partial_aggregate(table, self.keys, self.aggs)


__all__ = ["PARTIAL_BUFFER_BYTES", "PartialAggregateStage"]

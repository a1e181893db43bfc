"""The map side of a sort, run as the last stage of the task that makes the blocks (a
read, or a task-pool map): each task hands the sort operator sorted runs.

The sorting work is then spread over the producing tasks, which run in parallel, and
the sort's reduce only merges runs
(:func:`~streamdata.exec.shuffle.sort.merge_sorted_runs`, several times cheaper than
sorting unsorted rows). Blocks are gathered up to :data:`RUN_BYTES` and each group is
sorted into one run, so a task holds at most one group at a time.

Example:
    >>> import pyarrow as pa
    >>> from streamdata.exec.operators.map_transformer import TaskContext
    >>> stage = SortRunsStage(name="sort", keys=(("x", "ascending"),))
    >>> blocks = [pa.table({"x": [3, 1]}), pa.table({"x": [2]})]
    >>> [t.column("x").to_pylist() for t in stage.apply(iter(blocks), TaskContext(task_index=0))]
    [[1, 2, 3]]
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from streamdata.exec.operators.map_transformer import MapStage, TaskContext, gathered
from streamdata.exec.shuffle import sort as S

#: raw input gathered into one sorted run (bounds a task's working set)
RUN_BYTES = 64 << 20


class SortRunsStage(MapStage):
    """Sort the blocks of a task into runs (see the module docstring).

    Args:
        name: display name (the sort's).
        keys: ``(column, "ascending" | "descending")`` pairs.
        run_bytes: raw bytes gathered into each run.
    """

    def __init__(self, *, name: str, keys: tuple[tuple[str, str], ...], run_bytes: int = RUN_BYTES) -> None:
        self.name = name
        self.keys = tuple(keys)
        self.run_bytes = run_bytes

    def apply(self, blocks: Iterator[pa.Table], ctx: TaskContext) -> Iterator[pa.Table]:
        # map: no loop variable keeps a gathered group alive while the next one gathers
        yield from map(self._run, gathered(blocks, self.run_bytes))

    def _run(self, table: pa.Table) -> pa.Table:
        if len(table.schema):
            S.check_sortable(table.schema, list(self.keys))
        return S.sort_table(table, list(self.keys))


__all__ = ["RUN_BYTES", "SortRunsStage"]

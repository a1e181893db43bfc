"""One unit of reading (a base type): a picklable callable that yields blocks in a worker.

Example:
    >>> import pyarrow as pa
    >>> task = ReadTask(lambda: [pa.table({"x": [1, 2]})], BlockMetadata(num_rows=2, size_bytes=16))
    >>> [t.num_rows for t in task()]
    [2]
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

import pyarrow as pa

from streamdata.block_metadata import BlockMetadata

__all__ = ["BlockMetadata", "ReadTask"]


class ReadTask:
    """One unit of reading: calling it yields one or more blocks.

    It is pickled (cloudpickle) and run in a worker, so it must capture only what
    the worker needs (paths, options), never open files or file handles.
    """

    __slots__ = ("_read_fn", "metadata", "schema", "per_task_row_limit")

    def __init__(self, read_fn: Callable[[], Iterable[pa.Table]], metadata: BlockMetadata,
                 schema: pa.Schema | None = None, per_task_row_limit: int | None = None) -> None:
        if per_task_row_limit is not None and (isinstance(per_task_row_limit, bool) or not
                                               isinstance(per_task_row_limit, int)
                                               or per_task_row_limit < 0):
            raise ValueError(f"ReadTask per_task_row_limit must be an int >= 0, "
                             f"got {per_task_row_limit!r}")
        self._read_fn = read_fn
        self.metadata = metadata
        #: the schema of the blocks (Ray's ``ReadTask.schema``), when known up front
        self.schema = schema if schema is not None else metadata.schema
        #: yield at most this many rows (Ray pushes a limit into each read task this way)
        self.per_task_row_limit = per_task_row_limit

    def __call__(self) -> Iterator[pa.Table]:
        left = self.per_task_row_limit
        for table in self._read_fn():
            if left is not None:
                if left <= 0:
                    return
                if table.num_rows > left:
                    table = table.slice(0, left)
                left -= table.num_rows
            yield table

    @property
    def skipped_inputs(self) -> list[str]:
        """Inputs (files) this task skipped as unreadable, after it ran.

        Non-empty only when ``DataContext.max_errored_blocks`` allows skipping; each
        entry is ``"<path>: <error>"``. The executor may read it in the worker after
        iterating the task, to enforce a job-wide budget and report the skips.
        """
        return list(getattr(self._read_fn, "skipped", ()) or ())

    def __repr__(self) -> str:
        return f"ReadTask(rows={self.metadata.num_rows}, bytes={self.metadata.size_bytes})"

"""One unit of reading (a base type): a picklable callable that yields blocks in a worker.

Connectors written for Ray run unchanged: ``read_fn`` may yield pandas DataFrames
(converted to Arrow here), and ``schema=`` / ``per_task_row_limit=`` are accepted
with Ray's meaning.

Example:
    >>> import pyarrow as pa
    >>> task = ReadTask(lambda: [pa.table({"x": [1, 2]})], BlockMetadata(num_rows=2, size_bytes=16))
    >>> [t.num_rows for t in task()]
    [2]
    >>> import pandas as pd
    >>> [t.num_rows for t in ReadTask(lambda: [pd.DataFrame({"x": [1, 2, 3]})], BlockMetadata(),
    ...                                per_task_row_limit=2)()]
    [2]
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

import pyarrow as pa

from streamdata.block_metadata import BlockMetadata

__all__ = ["BlockMetadata", "ReadTask"]


def _to_arrow(block: Any) -> pa.Table:
    if isinstance(block, pa.Table):
        return block
    if isinstance(block, pa.RecordBatch):
        return pa.Table.from_batches([block])
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(block, pd.DataFrame):
        return pa.Table.from_pandas(block, preserve_index=False)
    raise TypeError(f"a read task must yield pyarrow Tables or pandas DataFrames, got {type(block).__name__}")


class ReadTask:
    """One unit of reading: calling it yields one or more blocks.

    It is pickled (cloudpickle) and run in a worker, so it must capture only what
    the worker needs (paths, options), never open files or file handles.

    Args:
        read_fn: called in the worker; yields pyarrow Tables (or pandas DataFrames).
        metadata: what is known of the output before reading.
        schema: the output schema when known (Ray's argument).
        per_task_row_limit: stop after this many rows (Ray's argument).
    """

    __slots__ = ("_read_fn", "metadata", "schema", "per_task_row_limit")

    def __init__(self, read_fn: Callable[[], Iterable[Any]], metadata: BlockMetadata, schema: Any = None,
                 per_task_row_limit: int | None = None) -> None:
        self._read_fn = read_fn
        self.metadata = metadata
        self.schema = schema
        self.per_task_row_limit = per_task_row_limit

    @property
    def read_fn(self) -> Callable[[], Iterable[Any]]:
        """The callable (Ray's attribute name)."""
        return self._read_fn

    def __call__(self) -> Iterator[pa.Table]:
        left = self.per_task_row_limit
        for block in self._read_fn():
            table = _to_arrow(block)
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

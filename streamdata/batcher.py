"""Cutting a stream of Arrow tables into batches of an exact row count, for ``map_batches``
(``batch_size``) and ``iter_batches``.

Example:
    >>> import pyarrow as pa
    >>> b = Batcher(2)
    >>> b.add(pa.table({"a": [1, 2, 3]}))
    >>> [t.num_rows for t in b.drain()], [t.num_rows for t in b.finish()]
    ([2], [1])
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

import pyarrow as pa

from streamdata import block as B
from streamdata.context import env_int

#: ``map_batches(batch_size="auto")``: the bytes a batch aims at (Ray's
#: ``RAY_DATA_DEFAULT_BATCH_SIZE_BYTES``, 16 MiB by default)
AUTO_BATCH_SIZE_BYTES: int = env_int("RAY_DATA_DEFAULT_BATCH_SIZE_BYTES", 16 * 1024 * 1024) or 1


def resolve_auto_batch_size(tables: Iterable[pa.Table], target_bytes: int = AUTO_BATCH_SIZE_BYTES
                            ) -> tuple[int | None, Iterator[pa.Table]]:
    """The batch size ``"auto"`` means for this stream, and the stream (nothing lost).

    As Ray: the first table with rows and bytes gives the bytes per row, and the size is
    ``max(1, target_bytes // bytes_per_row)``; a stream of only empty tables gives None
    (whole tables). The tables before that one are kept, so the stream is returned whole.

    Example:
        >>> t = pa.table({"a": pa.array(range(10), pa.int64())})  # 8 bytes a row
        >>> size, rest = resolve_auto_batch_size(iter([t.slice(0, 0), t]), target_bytes=32)
        >>> size, [x.num_rows for x in rest]
        (4, [0, 10])
        >>> resolve_auto_batch_size(iter([]))[0] is None
        True
    """
    it = iter(tables)
    seen: list[pa.Table] = []
    for table in it:
        seen.append(table)
        if table.num_rows > 0 and table.nbytes > 0:
            per_row = table.nbytes / table.num_rows
            return max(1, int(target_bytes / per_row)), itertools.chain(seen, it)
    return None, iter(seen)


class Batcher:
    """Cuts a stream of tables into batches of exactly ``batch_size`` rows (the last may be short).

    Args:
        batch_size: rows per batch; None passes each table through whole.

    Example:
        >>> b = Batcher(4)
        >>> b.add(pa.table({"a": range(6)})); b.add(pa.table({"a": range(3)}))
        >>> [t.num_rows for t in b.drain()] + [t.num_rows for t in b.finish()]
        [4, 4, 1]
    """

    def __init__(self, batch_size: int | None) -> None:
        if batch_size is not None and batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer or None, got {batch_size}")
        self.batch_size = batch_size
        self._buffer: list[pa.Table] = []
        self._rows = 0

    def add(self, table: pa.Table) -> None:
        """Queue a table."""
        if table.num_rows == 0 and self._buffer:
            return
        self._buffer.append(table)
        self._rows += table.num_rows

    def buffered_rows(self) -> int:
        return self._rows

    def drain(self) -> Iterator[pa.Table]:
        """Every full batch available now."""
        if self.batch_size is None:
            yield from self.finish()
            return
        while self._rows >= self.batch_size:
            yield self._take(self.batch_size)

    def finish(self) -> Iterator[pa.Table]:
        """The remaining rows (full batches, then one short batch)."""
        if self.batch_size is None:
            buffered, self._buffer, self._rows = self._buffer, [], 0
            yield from (t for t in buffered if t.num_rows)
            return
        yield from self.drain()
        if self._rows:
            yield self._take(self._rows)
        self._buffer = []

    def _take(self, n: int) -> pa.Table:
        parts, need = [], n
        while need > 0:
            head = self._buffer[0]
            if head.num_rows <= need:
                parts.append(head)
                self._buffer.pop(0)
                need -= head.num_rows
            else:
                parts.append(head.slice(0, need))
                self._buffer[0] = head.slice(need)
                need = 0
        self._rows -= n
        return parts[0] if len(parts) == 1 else B.concat(parts)

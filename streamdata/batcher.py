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

from collections.abc import Iterator

import pyarrow as pa

from streamdata import block as B


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

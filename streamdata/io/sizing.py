"""Shaping the blocks a read task yields: near the DataContext's target block sizes.

Readers produce tables of whatever size their format gives (a row group, a CSV
chunk, one image); :func:`shape_blocks` coalesces small tables and splits large
ones so blocks stay between ``target_min_block_size`` and ``target_max_block_size``.

Example:
    >>> import pyarrow as pa
    >>> tables = [pa.table({"x": list(range(10))}) for _ in range(5)]
    >>> [t.num_rows for t in shape_blocks(tables, min_bytes=1000, max_bytes=10**6)]
    [50]
    >>> [t.num_rows for t in shape_blocks([pa.table({"x": list(range(100))})], min_bytes=1, max_bytes=400)]
    [50, 50]
"""

from __future__ import annotations

from typing import Iterable, Iterator

import pyarrow as pa

from streamdata.block_concat import concat
from streamdata.context import DataContext


def target_block_sizes(ctx: DataContext | None = None) -> tuple[int, int]:
    """``(min_bytes, max_bytes)`` from the (current) DataContext."""
    ctx = ctx or DataContext.get_current()
    max_bytes = max(1, int(ctx.target_max_block_size))
    min_bytes = max(1, min(int(ctx.target_min_block_size), max_bytes))
    return min_bytes, max_bytes


def split_table(table: pa.Table, max_bytes: int) -> list[pa.Table]:
    """Zero-copy slices of ``table`` of at most about ``max_bytes`` each (at least one row each)."""
    nbytes = table.nbytes
    if table.num_rows <= 1 or nbytes <= max_bytes:
        return [table]
    pieces = -(-nbytes // max_bytes)
    rows = max(1, -(-table.num_rows // pieces))
    return [table.slice(start, rows) for start in range(0, table.num_rows, rows)]


def _concat(tables: list[pa.Table]) -> pa.Table:
    """The buffered tables as one (schemas unified, tensor shapes too: :func:`streamdata.block_concat.concat`)."""
    return tables[0] if len(tables) == 1 else concat(tables)


def shape_blocks(tables: Iterable[pa.Table], *, min_bytes: int | None = None,
                 max_bytes: int | None = None) -> Iterator[pa.Table]:
    """Coalesce small tables (until ``min_bytes``) and split large ones (above ``max_bytes``).

    Tables whose schemas differ are never merged: the buffer is flushed first, so a
    read task never fails for a schema change between its files. Empty tables are
    dropped unless every table was empty (then one empty table is yielded, keeping
    the schema).
    """
    if min_bytes is None or max_bytes is None:
        dmin, dmax = target_block_sizes()
        min_bytes = dmin if min_bytes is None else min_bytes
        max_bytes = dmax if max_bytes is None else max_bytes
    buffer: list[pa.Table] = []
    buffered = 0
    yielded = False
    empty: pa.Table | None = None
    for table in tables:
        if table.num_rows == 0:
            if empty is None:
                empty = table
            continue
        if buffer and not table.schema.equals(buffer[0].schema):
            yield from split_table(_concat(buffer), max_bytes)
            yielded = True
            buffer, buffered = [], 0
        buffer.append(table)
        buffered += table.nbytes
        if buffered >= min_bytes:
            yield from split_table(_concat(buffer), max_bytes)
            yielded = True
            buffer, buffered = [], 0
    if buffer:
        yield from split_table(_concat(buffer), max_bytes)
        yielded = True
    if not yielded and empty is not None:
        yield empty


def limit_rows(tables: Iterable[pa.Table], limit: int | None) -> Iterator[pa.Table]:
    """Yield tables until ``limit`` rows have been produced (the last one sliced).

    Example:
        >>> import pyarrow as pa
        >>> [t.num_rows for t in limit_rows([pa.table({"x": [1, 2, 3]})] * 3, 5)]
        [3, 2]
    """
    if limit is None:
        yield from tables
        return
    remaining = limit
    if remaining <= 0:
        return
    for table in tables:
        if table.num_rows >= remaining:
            yield table.slice(0, remaining)
            return
        remaining -= table.num_rows
        yield table


def split_evenly(total: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ``(start, stop)`` ranges covering ``range(total)``, sizes differing by at most 1.

    Fewer ranges when ``total < parts`` (no empty ranges, except one for ``total == 0``).

    Example:
        >>> split_evenly(10, 3)
        [(0, 4), (4, 7), (7, 10)]
    """
    parts = max(1, min(parts, total)) if total > 0 else 1
    base, extra = divmod(total, parts)
    out: list[tuple[int, int]] = []
    start = 0
    for i in range(parts):
        stop = start + base + (1 if i < extra else 0)
        out.append((start, stop))
        start = stop
    return out

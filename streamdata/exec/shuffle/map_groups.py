"""map_groups kernel: call a function once per group of a block holding whole groups.

The block is sorted by the keys (stable), so groups come in key order (nulls last)
and each group is a zero-copy slice; the function sees it in the requested batch
format and returns a batch in any format (normalized by :mod:`streamdata.block`).

Example:
    >>> import pyarrow as pa
    >>> t = pa.table({"k": [2, 1, 2], "v": [1, 2, 3]})
    >>> out = apply_map_groups(t, ["k"], lambda g: {"k": g["k"][:1], "n": [len(g["v"])]}, "numpy")
    >>> out.to_pylist()
    [{'k': 1, 'n': 1}, {'k': 2, 'n': 2}]
"""

from __future__ import annotations

import types

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from streamdata.exec.shuffle.grouping import group_table, HashAgg
from streamdata.exec.shuffle.sort import sort_table
from streamdata.block import batch_to_table, concat, to_batch


def iter_groups(block: pa.Table, keys: Sequence[str]) -> Iterator[pa.Table]:
    """The groups of ``block`` by ``keys`` in key order, each a zero-copy slice (no keys:
    the whole block as one group).

    Example:
        >>> [g.num_rows for g in iter_groups(pa.table({"k": ["b", "a", "b"]}), ["k"])]
        [1, 2]
    """
    if not keys:
        yield block
        return
    ordered = sort_table(block, [(k, "ascending") for k in keys])
    _, (counts,) = group_table(ordered, keys, [_count_all()])
    sizes = counts.to_numpy(zero_copy_only=False).astype(np.int64)
    start = 0
    for size in sizes:
        yield ordered.slice(start, int(size))
        start += int(size)


def _count_all() -> Any:
    return HashAgg(None, "count")


def apply_map_groups(block: pa.Table, keys: Sequence[str], fn: Callable[..., Any], batch_format: str,
                     fn_args: Sequence[Any] = (), fn_kwargs: Mapping[str, Any] | None = None) -> pa.Table:
    """``fn(group, *fn_args, **fn_kwargs)`` for every group, outputs concatenated in key order.

    ``fn`` returns a batch, or is a generator yielding batches (each one is kept).

    Raises:
        UDFReturnError: ``fn`` returned something that is not a batch.

    Example:
        >>> t = pa.table({"k": [1, 1], "v": [1.0, 3.0]})
        >>> apply_map_groups(t, ["k"], lambda df: df.assign(v=df.v - df.v.mean()), "pandas").column("v").to_pylist()
        [-1.0, 1.0]
    """
    kwargs = dict(fn_kwargs or {})
    outs = []
    for group in iter_groups(block, keys):
        if group.num_rows == 0:
            continue
        result = fn(to_batch(group, batch_format), *fn_args, **kwargs)
        if isinstance(result, types.GeneratorType):
            outs.extend(batch_to_table(part, what="map_groups UDF") for part in result)
        else:
            outs.append(batch_to_table(result, what="map_groups UDF"))
    if not outs:
        return pa.table({})
    return concat(outs)


__all__ = ["apply_map_groups", "iter_groups"]

"""Grouping without a hash table, where the keys allow it (the fast paths of
:func:`~streamdata.aggregation.grouping.group_table`).

* **No keys** (a global aggregation): every request runs as pyarrow's scalar kernel
  of the same name and options (``sum``, ``count``, ``min``, ``max``, ``mean``) over
  the whole column; one group.
* **One integer key of a small range** (``key`` in [0, 1000) over 50k rows, say): a
  group's number is its key minus the smallest key, and ``count`` and ``sum`` are
  ``numpy.bincount`` over those numbers. That is 2-3x cheaper than Acero's hash
  aggregation, which the aggregations' partial step pays once per block.

Both give what the hash aggregation gives: the same groups, result types and nulls.
The dense path numbers groups in key order (the hash path: first appearance); callers
that need an order sort, as ``finalize_aggregate`` does. A request either path cannot
do exactly (a null key, ``min`` by key, an integer sum that float64 cannot hold
exactly, ``list``...) makes it return None, and the caller hashes as before.

Example:
    >>> import pyarrow as pa
    >>> from streamdata.aggregation.grouping import HashAgg
    >>> t = pa.table({"k": [7, 5, 7], "v": [1.0, 2.0, 4.0]})
    >>> keys, num_groups, (sums,) = group_dense(t, "k", [HashAgg(t["v"], "sum")])
    >>> keys.column("k").to_pylist(), sums.to_pylist()
    ([5, 7], [2.0, 5.0])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


class AggRequest(Protocol):
    """One aggregation over the rows (:class:`~streamdata.aggregation.grouping.HashAgg`)."""

    values: Any  # pa.Array | pa.ChunkedArray | None (None: count the rows)
    func: str
    options: pc.FunctionOptions | None


#: what a fast path returns: the groups' keys (one row each), their number, one array per request
Grouped = tuple[pa.Table, int, list[pa.Array]]

#: key ranges up to this many values (or up to the row count, if larger) use bincount
MAX_DENSE_RANGE = 1 << 16
#: integer sums go through float64 only while every partial sum is exact there
_EXACT_FLOAT = 2 ** 53

_SCALAR_FUNCS = frozenset({"sum", "count", "min", "max", "mean"})
_COUNT_VALID = (None, pc.CountOptions(mode="only_valid"))
_COUNT_ALL = pc.CountOptions(mode="all")
#: the sum options the aggregations use: (options, skip_nulls)
_SUM_OPTIONS = ((None, True), (pc.ScalarAggregateOptions(skip_nulls=True, min_count=1), True),
                (pc.ScalarAggregateOptions(skip_nulls=False, min_count=1), False))


def group_without_keys(table: pa.Table, requests: Sequence[AggRequest]) -> Grouped | None:
    """One group holding every row of a non-empty ``table``, each request a scalar kernel.

    Example:
        >>> from streamdata.aggregation.grouping import HashAgg
        >>> t = pa.table({"v": [1, None, 3]})
        >>> keys, num_groups, (n, s) = group_without_keys(t, [HashAgg(None, "count"), HashAgg(t["v"], "sum")])
        >>> num_groups, n.to_pylist(), s.to_pylist()
        (1, [3], [4])
    """
    n = table.num_rows
    if n == 0 or any(r.func not in _SCALAR_FUNCS for r in requests):
        return None
    results: list[pa.Array] = []
    for req in requests:
        if req.values is None:  # rows of the group (count, mode="all")
            results.append(pa.array([n], pa.int64()))
            continue
        if len(req.values) != n:
            raise ValueError(f"aggregation input has {len(req.values)} values for {n} rows")
        try:
            scalar = pc.call_function(req.func, [req.values], req.options)
        except (pa.ArrowNotImplementedError, pa.ArrowTypeError):
            return None  # a type only the hash kernel takes: it decides (or says why not)
        results.append(pa.repeat(scalar, 1))
    return pa.table({"_": pa.nulls(1)}).drop_columns(["_"]), 1, results


def dense_range(column: pa.ChunkedArray | pa.Array, num_rows: int) -> tuple[int, int] | None:
    """``(smallest key, number of key values)`` when ``column`` is a null-free integer
    column whose range is small enough for bincount; else None.

    Example:
        >>> dense_range(pa.array([3, 9, 4]), 3), dense_range(pa.array([0, 1 << 40]), 2)
        ((3, 7), None)
    """
    if num_rows == 0 or not pa.types.is_integer(column.type) or column.null_count:
        return None
    bounds = pc.min_max(column)
    lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
    size = hi - lo + 1
    if size > max(MAX_DENSE_RANGE, num_rows) or hi >= 2 ** 63:
        return None
    return lo, size


def group_dense(table: pa.Table, key: str, requests: Sequence[AggRequest]) -> Grouped | None:
    """Group ``table`` by the integer column ``key`` with bincount (groups in key order),
    or None when the key or a request needs the hash aggregation (see the module docstring)."""
    column = table.column(key)
    n = table.num_rows
    span = dense_range(column, n)
    if span is None or not requests or not all(_supported(r, n) for r in requests):
        return None
    lo, size = span
    ids = _to_numpy(column).astype(np.int64, copy=False) - lo
    counts = np.bincount(ids, minlength=size)
    order = np.flatnonzero(counts)  # the key values present, in key order
    results = []
    for req in requests:
        result = _dense_result(req, ids, size, counts, order)
        if result is None:
            return None
        results.append(result)
    return pa.table({key: pa.array(order + lo).cast(column.type)}), len(order), results


def _same(a: pc.FunctionOptions | None, b: pc.FunctionOptions | None) -> bool:
    """Whether two options are equal (pyarrow's ``==`` must not see None: it crashes)."""
    if a is None or b is None:
        return a is b
    return type(a) is type(b) and a == b


def _supported(req: AggRequest, num_rows: int) -> bool:
    if req.values is not None and len(req.values) != num_rows:
        return False  # the hash path raises the error
    if req.func == "count":
        return req.values is None or any(_same(req.options, o) for o in (*_COUNT_VALID, _COUNT_ALL))
    if req.func == "sum":
        t = req.values.type if req.values is not None else None
        return (t is not None and (pa.types.is_float64(t) or pa.types.is_integer(t) or pa.types.is_boolean(t))
                and any(_same(req.options, o) for o, _ in _SUM_OPTIONS))
    return False


def _dense_result(req: AggRequest, ids: np.ndarray, size: int, counts: np.ndarray,
                  order: np.ndarray) -> pa.Array | None:
    if req.values is None or _same(req.options, _COUNT_ALL):
        return pa.array(counts[order], pa.int64())
    values = req.values
    valid = _valid_counts(values, ids, size)
    if req.func == "count":
        out = counts if valid is None else valid
        return pa.array(out[order], pa.int64())
    skip_nulls = next(skip for o, skip in _SUM_OPTIONS if _same(req.options, o))
    out_type = pc.sum(values.slice(0, 0)).type
    if values.null_count:
        values = values.fill_null(False if pa.types.is_boolean(values.type) else 0)
    weights = _to_numpy(values)
    if not pa.types.is_floating(values.type):
        bounds = pc.min_max(values)
        largest = max(abs(bounds["min"].as_py() or 0), abs(bounds["max"].as_py() or 0))
        if largest * len(values) >= _EXACT_FLOAT:
            return None  # float64 would round the sum
    sums = np.bincount(ids, weights=weights.astype(np.float64, copy=False), minlength=size)[order]
    if not pa.types.is_floating(values.type):
        sums = np.rint(sums).astype(np.uint64 if pa.types.is_unsigned_integer(out_type) else np.int64)
    mask = None
    if valid is not None:  # a group without values is null; without skip_nulls, any null is
        valid = valid[order]
        mask = valid == 0 if skip_nulls else valid < counts[order]
    return pa.array(sums, out_type, mask=mask)


def _valid_counts(values: pa.ChunkedArray | pa.Array, ids: np.ndarray, size: int) -> np.ndarray | None:
    """Per key value, how many of its ``values`` are not null (None when none is null)."""
    if not values.null_count:
        return None
    return np.bincount(ids, weights=_to_numpy(values.is_valid()).astype(np.float64),
                       minlength=size).astype(np.int64)


def _to_numpy(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return values.to_numpy(zero_copy_only=False) if isinstance(values, pa.Array) else \
        np.asarray(values.to_numpy())


__all__ = ["MAX_DENSE_RANGE", "AggRequest", "Grouped", "dense_range", "group_dense", "group_without_keys"]

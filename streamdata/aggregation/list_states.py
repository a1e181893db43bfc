"""Per-group list accumulators: regrouping list states and quantiles over them.

Quantile and Unique keep, per group, a list of values. Merging regroups the values
of many partial lists by the group of their row; finalizing a quantile sorts each
group's values and interpolates, all vectorized over every group at once.

Example:
    >>> import pyarrow as pa
    >>> lists = lists_by_group(pa.array([3.0, 1.0, 2.0]), np.array([0, 0, 1]), 2, sort=True)
    >>> lists.to_pylist()
    [[1.0, 3.0], [2.0]]
    >>> list_quantiles(lists, 0.5)[0].tolist()
    [2.0, 2.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def to_numpy(arr: pa.Array | pa.ChunkedArray, dtype: Any) -> np.ndarray:
    """``arr`` as a numpy array of ``dtype`` (nulls as 0).

    Example:
        >>> to_numpy(pa.array([1, None]), np.float64).tolist()
        [1.0, 0.0]
    """
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    if arr.null_count:
        arr = pc.fill_null(arr, 0)
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=dtype)


def regroup(lists: pa.Array | pa.ChunkedArray, row_groups: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """The values of per-row lists and, for each value, ``row_groups`` of its row.

    Example:
        >>> values, gid = regroup(pa.array([[1, 2], [3]]), np.array([5, 7]))
        >>> values.to_pylist(), gid.tolist()
        ([1, 2, 3], [5, 5, 7])
    """
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    values = pc.list_flatten(lists)
    parents = to_numpy(pc.list_parent_indices(lists), np.int64)
    return values, row_groups[parents]


def lists_by_group(values: pa.Array | pa.ChunkedArray, gid: Any, num_groups: int, *,
                   sort: bool) -> pa.Array:
    """A large-list array with, for each group, the values whose ``gid`` is that group
    (sorted, nulls last, when ``sort`` and the type is orderable).

    Example:
        >>> lists_by_group(pa.array(["b", "a"]), np.array([1, 1]), 3, sort=True).to_pylist()
        [[], ['a', 'b'], []]
    """
    if not isinstance(gid, (pa.Array, pa.ChunkedArray)):
        gid = pa.array(np.asarray(gid, dtype=np.int64))
    keys = [("g", "ascending")] + ([("v", "ascending")] if sort else [])
    table = pa.table({"g": gid, "v": values})
    try:
        order = pc.sort_indices(table, sort_keys=keys)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
        order = pc.sort_indices(table, sort_keys=[("g", "ascending")])
    values = pc.take(table.column("v"), order).combine_chunks()
    counts = np.bincount(to_numpy(table.column("g"), np.int64), minlength=num_groups)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return pa.LargeListArray.from_arrays(pa.array(offsets), values)


def list_quantiles(lists: pa.Array, q: float) -> tuple[np.ndarray, np.ndarray]:
    """For each list, its ``q``-quantile with linear interpolation (nulls ignored), and
    whether it had any value.

    Example:
        >>> out, has = list_quantiles(pa.array([[1.0, 2.0, 3.0, 4.0], [None]]), 0.25)
        >>> out[0].item(), has.tolist()
        (1.75, [True, False])
    """
    num = len(lists)
    flat = pc.list_flatten(lists)
    gid = pc.list_parent_indices(lists)
    valid = pc.is_valid(flat)
    flat, gid = pc.filter(flat, valid), pc.filter(gid, valid)
    order = pc.sort_indices(pa.table({"g": gid, "v": flat}), sort_keys=[("g", "ascending"), ("v", "ascending")])
    v = to_numpy(pc.take(flat, order), np.float64)
    g = to_numpy(pc.take(gid, order), np.int64)
    length = np.bincount(g, minlength=num)
    start = np.cumsum(length) - length
    has = length > 0
    pos = (length - 1).clip(min=0) * q
    lo = np.floor(pos).astype(np.int64)
    hi = np.ceil(pos).astype(np.int64)
    out = np.zeros(num, dtype=np.float64)
    if v.size:
        vlo = v[(start + lo)[has]]
        vhi = v[(start + hi)[has]]
        out[has] = vlo + (vhi - vlo) * (pos - lo)[has]
    return out, has


__all__ = ["list_quantiles", "lists_by_group", "regroup", "to_numpy"]

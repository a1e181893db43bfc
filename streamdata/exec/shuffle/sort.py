"""Sort kernels: sample boundaries, range-partition blocks, merge partitions.

A distributed sort samples the key columns of every block, picks ``n - 1``
boundaries from the sorted sample, cuts every block into ``n`` ranges by those
boundaries (map side) and sorts the concatenation of range ``i`` of every block
(reduce side). Ordering is Arrow's everywhere (``pc.sort_indices``): several keys,
each ascending or descending, nulls (and NaNs) last; the reduce sort is stable, so
rows with equal keys keep their input order.

Example:
    >>> import pyarrow as pa
    >>> keys = sort_keys(["x"], [False])
    >>> blocks = [pa.table({"x": [5, 1, 9]}), pa.table({"x": [4, 8, 2]})]
    >>> bounds = compute_boundaries([sample_keys(b, keys, 10) for b in blocks], keys, 2)
    >>> parts = [range_partition(b, keys, bounds) for b in blocks]
    >>> [merge_sorted([p[i] for p in parts], keys).column("x").to_pylist() for i in range(2)]
    [[1, 2, 4], [5, 8, 9]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from streamdata.errors import PlanError, SchemaError
from streamdata.exec.shuffle.grouping import check_columns
from streamdata.block import concat
from streamdata.exec.shuffle.hashing import partition_by_ids
from streamdata.exec.shuffle.packed_sort import stable_numeric_order

SortKeys = list[tuple[str, str]]
_MARK = "__sd_mark"


def sort_keys(keys: str | Sequence[str], descending: bool | Sequence[bool] = False) -> SortKeys:
    """Normalize a sort spec into ``[(column, "ascending" | "descending"), ...]``.

    Example:
        >>> sort_keys(["a", "b"], [True, False])
        [('a', 'descending'), ('b', 'ascending')]
    """
    cols = [keys] if isinstance(keys, str) else list(keys)
    if not cols:
        raise PlanError("sort needs at least one key")
    if isinstance(descending, bool):
        flags = [descending] * len(cols)
    else:
        flags = [bool(d) for d in descending] or [False] * len(cols)
    if len(flags) != len(cols):
        raise PlanError(f"sort: {len(cols)} keys but {len(flags)} descending flags")
    return [(c, "descending" if d else "ascending") for c, d in zip(cols, flags)]


def check_sortable(schema: pa.Schema, keys: SortKeys) -> None:
    """Raise ColumnNotFoundError for a missing key, SchemaError for a key Arrow cannot order.

    Example:
        >>> check_sortable(pa.schema([("l", pa.list_(pa.int64()))]), [("l", "ascending")])
        Traceback (most recent call last):
        ...
        streamdata.errors.SchemaError: cannot sort by column 'l' of type list<item: int64>
    """
    check_columns(schema, [c for c, _ in keys])
    for col, order in keys:
        try:
            pc.sort_indices(schema.empty_table().select([col]), sort_keys=[(col, order)])
        except (pa.ArrowNotImplementedError, pa.ArrowTypeError, pa.ArrowInvalid) as exc:
            raise SchemaError(f"cannot sort by column {col!r} of type {schema.field(col).type}") from exc


def sort_table(table: pa.Table, keys: SortKeys) -> pa.Table:
    """``table`` sorted by ``keys`` (stable; nulls last).

    Example:
        >>> sort_table(pa.table({"x": [2, None, 1]}), [("x", "ascending")]).column("x").to_pylist()
        [1, 2, None]
    """
    if table.num_rows <= 1:
        return table
    check_sortable(table.schema, keys)
    return _take_permutation(table, _sort_indices(table, keys))


def _sort_indices(table: pa.Table, keys: SortKeys) -> pa.Array:
    """Arrow's stable sort indices; key columns are made contiguous first (sorting
    chunked columns is about twice as slow)."""
    key_table = table.select(list(dict.fromkeys(c for c, _ in keys)))
    if any(col.num_chunks > 1 for col in key_table.columns):
        key_table = key_table.combine_chunks()
    if len(keys) == 1:
        order = _numeric_order(key_table.column(0), descending=keys[0][1] == "descending")
        if order is not None:
            return order
    return pc.sort_indices(key_table, sort_keys=keys)


def _numeric_order(column: pa.ChunkedArray, *, descending: bool) -> pa.Array | None:
    """Stable sort indices of a numeric key without nulls or NaNs, from a sort of packed
    ``(key, row)`` words (:mod:`~streamdata.exec.shuffle.packed_sort`; 2–7× Arrow's
    stable sort); None when that does not apply."""
    typ = column.type
    if column.null_count or not (pa.types.is_integer(typ) or pa.types.is_floating(typ)):
        return None
    values = column.to_numpy()
    order = stable_numeric_order(values, descending=descending)
    return None if order is None else pa.array(order)


def sample_keys(block: pa.Table, keys: SortKeys, num_samples: int, *, seed: int = 0) -> pa.Table:
    """Up to ``num_samples`` random rows of the key columns of ``block`` (seeded).

    Example:
        >>> sample_keys(pa.table({"x": range(100), "y": range(100)}), [("x", "ascending")], 5).shape
        (5, 1)
    """
    check_sortable(block.schema, keys)
    cols = block.select([c for c, _ in keys])
    n = cols.num_rows
    if n <= num_samples:
        return cols
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(n, size=num_samples, replace=False))
    return cols.take(pa.array(idx))


def compute_boundaries(samples: Sequence[pa.Table], keys: SortKeys, num_partitions: int) -> pa.Table:
    """``num_partitions - 1`` boundary rows (key columns) splitting the samples evenly.

    Partition ``i`` receives the rows ``r`` with ``boundary[i-1] <= r < boundary[i]`` in
    sort order. Boundaries may repeat when keys are skewed (some partitions are then empty).

    Example:
        >>> s = [pa.table({"x": list(range(10))})]
        >>> compute_boundaries(s, [("x", "ascending")], 3).column("x").to_pylist()
        [3, 7]
    """
    if num_partitions < 1:
        raise PlanError(f"num_partitions must be >= 1, got {num_partitions}")
    names = [c for c, _ in keys]
    tables = [s.select(names) for s in samples if s.num_rows]
    if num_partitions == 1 or not tables:
        schema = tables[0].schema if tables else (samples[0].select(names).schema if samples else None)
        return schema.empty_table() if schema is not None else pa.table({})
    sample = sort_table(concat(tables), keys)
    n = sample.num_rows
    idx = [min(n - 1, round(n * i / num_partitions)) for i in range(1, num_partitions)]
    return sample.take(pa.array(idx, type=pa.int64()))


def range_partition(block: pa.Table, keys: SortKeys, boundaries: pa.Table) -> list[pa.Table]:
    """Cut ``block`` into ``len(boundaries) + 1`` key ranges (unordered inside a range;
    :func:`merge_sorted` sorts them).

    Rows equal to a boundary go to the range that the boundary starts. One integer or
    float key is partitioned with a binary search of each value; anything else with
    Arrow's own ordering (the boundaries are sorted together with the block), so every
    type, direction, null and NaN agrees with :func:`sort_table`.

    Example:
        >>> b = pa.table({"x": [3, 1, 2, 2]})
        >>> parts = range_partition(b, [("x", "ascending")], pa.table({"x": [2]}))
        >>> [sorted(p.column("x").to_pylist()) for p in parts]
        [[1], [2, 2, 3]]
    """
    num_parts = boundaries.num_rows + 1
    if num_parts == 1:
        return [sort_table(block, keys)]
    check_sortable(block.schema, keys)
    names = [c for c, _ in keys]
    n = block.num_rows
    if n == 0:
        return [block] * num_parts
    fast = _numeric_partition_ids(block, keys, boundaries)
    if fast is not None:  # one numeric key: rows are only assigned, not sorted
        return partition_by_ids(block, fast, num_parts)
    data_keys = block.select(names)
    bounds = _conform(boundaries.select(names), data_keys.schema)
    marks = np.concatenate([np.ones(n, dtype=np.int8), np.zeros(bounds.num_rows, dtype=np.int8)])
    both = pa.concat_tables([data_keys, bounds]).append_column(_MARK, pa.array(marks))
    order = pc.sort_indices(both, sort_keys=list(keys) + [(_MARK, "ascending")]).to_numpy()
    is_bound = order >= n
    bound_pos = np.nonzero(is_bound)[0]
    cuts = bound_pos - np.arange(len(bound_pos))  # data rows before each boundary
    ordered = block.take(pa.array(order[~is_bound]))
    edges = np.concatenate([[0], cuts, [n]])
    return [ordered.slice(int(a), int(b - a)) for a, b in zip(edges[:-1], edges[1:])]


def _numeric_partition_ids(block: pa.Table, keys: SortKeys, boundaries: pa.Table) -> np.ndarray | None:
    """Partition of each row for one integer or float key and boundaries without nulls or
    NaNs (None when that does not apply). Agrees with Arrow's order: NaNs, then nulls,
    come last in both directions, so they go to the last partition."""
    if len(keys) != 1:
        return None
    col_name, order = keys[0]
    col = block.column(col_name)
    btype = boundaries.schema.field(col_name).type
    if not all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in (col.type, btype)):
        return None
    bcol = boundaries.column(col_name)
    if bcol.null_count:
        return None
    bounds = np.asarray(bcol.to_numpy(), dtype=np.float64 if pa.types.is_floating(btype) else None)
    if bounds.dtype.kind == "f" and np.isnan(bounds).any():
        return None
    if col.num_chunks != 1:
        col = col.combine_chunks()
    arr = col.chunk(0) if isinstance(col, pa.ChunkedArray) else col
    values = np.asarray((pc.fill_null(arr, 0) if arr.null_count else arr).to_numpy(zero_copy_only=False))
    if values.dtype.kind != bounds.dtype.kind:  # int keys vs float boundaries (or back)
        values, bounds = values.astype(np.float64), bounds.astype(np.float64)
    last = len(bounds)
    if order == "ascending":
        ids = np.searchsorted(bounds, values, side="right")
    else:  # bounds descending; the row's partition is the number of bounds >= value
        ids = last - np.searchsorted(bounds[::-1], values, side="left")
    if values.dtype.kind == "f":
        ids[np.isnan(values)] = last
    if arr.null_count:
        ids[~np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)] = last
    return ids


def _conform(bounds: pa.Table, schema: pa.Schema) -> pa.Table:
    if bounds.schema.equals(schema):
        return bounds
    try:
        return bounds.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise SchemaError(f"sort keys have different types in different blocks: "
                          f"{bounds.schema} vs {schema}") from exc


def merge_sorted(parts: Sequence[pa.Table], keys: SortKeys) -> pa.Table:
    """Reduce side: the parts of one key range merged into one sorted table.

    Stable: among equal keys, rows of earlier parts come first.

    Example:
        >>> k = [("x", "descending")]
        >>> merge_sorted([pa.table({"x": [3, 1]}), pa.table({"x": [2]})], k).column("x").to_pylist()
        [3, 2, 1]
    """
    nonempty = [p for p in parts if p.num_rows]
    if not nonempty:
        return parts[0] if parts else pa.table({})
    return sort_table(concat(nonempty), keys)


def merge_sorted_runs(parts: Sequence[pa.Table], keys: SortKeys) -> pa.Table:
    """Reduce side when every part is already sorted by ``keys``: the same result as
    :func:`merge_sorted` (stable; rows of earlier parts first among equal keys).

    One numeric key without nulls or NaNs is merged with numpy's stable sort, which
    finds the sorted runs and merges them (several times faster than sorting unsorted
    values); anything else is sorted as :func:`merge_sorted` does.

    Example:
        >>> k = [("x", "descending")]
        >>> parts = [pa.table({"x": [3, 1], "i": [0, 1]}), pa.table({"x": [3, 2], "i": [2, 3]})]
        >>> merge_sorted_runs(parts, k).column("i").to_pylist()
        [0, 2, 3, 1]
    """
    nonempty = [p for p in parts if p.num_rows]
    if not nonempty:
        return parts[0] if parts else pa.table({})
    table = nonempty[0] if len(nonempty) == 1 else concat(nonempty)
    if len(nonempty) == 1 or len(keys) != 1:
        return table if len(nonempty) == 1 else sort_table(table, keys)
    check_sortable(table.schema, keys)
    column = table.column(keys[0][0])
    typ = column.type
    if column.null_count or not (pa.types.is_integer(typ) or pa.types.is_floating(typ)):
        return sort_table(table, keys)
    values = column.to_numpy()
    if pa.types.is_floating(typ) and np.isnan(values).any():
        return sort_table(table, keys)
    if keys[0][1] == "descending":  # stable descending: ascending runs of the reversed values
        n = len(values)
        order = (n - 1 - np.argsort(values[::-1], kind="stable"))[::-1]
    else:
        order = np.argsort(values, kind="stable")
    return _take_permutation(table, pa.array(order))


def _take_permutation(table: pa.Table, order: pa.Array) -> pa.Table:
    """``table``'s rows in ``order``, a permutation of its row numbers that a sort just
    made (so Arrow's check of every index against the length is skipped)."""
    assert len(order) == table.num_rows
    return pc.take(table, order, boundscheck=False)


__all__ = [
    "SortKeys",
    "check_sortable",
    "compute_boundaries",
    "merge_sorted",
    "merge_sorted_runs",
    "range_partition",
    "sample_keys",
    "sort_keys",
    "sort_table",
]

"""Grouping a table by key columns with one vectorized pyarrow hash aggregation
(a base-layer kernel: the aggregations and the shuffle operators both use it).

:func:`group_table` runs ``Table.group_by(keys).aggregate(...)`` once for a list of
:class:`HashAgg` requests and returns a :class:`Groups` (the distinct keys, and on
request the rows of each group) plus one result array per request. Aggregations
(:mod:`streamdata.aggregate`) express their partial and merge steps as such
requests, so all aggregations of one ``groupby`` share one hash pass.

Groups are numbered in order of first appearance of their key in the table, except
that a grouping by one integer key of a small range skips the hash table and numbers
them in key order (:mod:`streamdata.aggregation.dense_grouping`, which also runs
global aggregations as scalar kernels). Null keys form a group of their own (as in
pandas with ``dropna=False``).

Example:
    >>> import pyarrow as pa
    >>> t = pa.table({"k": [1, 2, 1], "v": [1.0, 2.0, 3.0]})
    >>> groups, (sums,) = group_table(t, ["k"], [HashAgg(t["v"], "sum")])
    >>> groups.keys.column("k").to_pylist(), sums.to_pylist()
    ([1, 2], [4.0, 2.0])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from streamdata.aggregation.dense_grouping import group_dense, group_without_keys
from streamdata.errors import ColumnNotFoundError

_ROW = "__sd_row"


@dataclass(frozen=True, slots=True)
class HashAgg:
    """One pyarrow hash aggregation: ``func`` over ``values`` (one value per row).

    Attributes:
        values: the array to aggregate (a column, or one derived from it); None for a
            function of whole rows (``count`` of all rows).
        func: the pyarrow aggregation name without the ``hash_`` prefix (``"sum"``,
            ``"count"``, ``"min"``, ``"max"``, ``"mean"``, ``"variance"``, ``"list"``,
            ``"distinct"``...).
        options: the function's options (``pc.ScalarAggregateOptions``, ``pc.CountOptions``...).
    """

    values: pa.Array | pa.ChunkedArray | None
    func: str
    options: pc.FunctionOptions | None = None


class Groups:
    """The groups of one table by its key columns.

    Attributes:
        keys: one row per group holding its key values (no columns when grouping by nothing).
        num_groups: the number of groups.
        num_rows: the number of rows of the grouped table.
    """

    __slots__ = ("_ids", "_rows", "keys", "num_groups", "num_rows")

    def __init__(self, keys: pa.Table, num_groups: int, num_rows: int,
                 rows: pa.ListArray | None) -> None:
        self.keys = keys
        self.num_groups = num_groups
        self.num_rows = num_rows
        self._rows = rows
        self._ids: np.ndarray | None = None

    def _require_rows(self) -> pa.ListArray:
        if self._rows is None:
            raise RuntimeError("group membership was not requested (with_rows=False)")
        return self._rows

    def rows(self, group: int) -> np.ndarray:
        """Indices (into the grouped table) of the rows of ``group``, in table order."""
        if self._rows is None and self.num_groups == 1:
            return np.arange(self.num_rows, dtype=np.int64)
        return self._require_rows()[group].values.to_numpy(zero_copy_only=False)

    def ids(self) -> np.ndarray:
        """For each row of the grouped table, the number of its group (int64)."""
        if self._ids is None:
            if self._rows is None and self.num_groups == 1:
                self._ids = np.zeros(self.num_rows, dtype=np.int64)
            else:
                rows = self._require_rows()
                ids = np.empty(self.num_rows, dtype=np.int64)
                flat = pc.list_flatten(rows).to_numpy(zero_copy_only=False)
                parents = pc.list_parent_indices(rows).to_numpy(zero_copy_only=False)
                ids[flat] = parents
                self._ids = ids
        return self._ids

    def key_values(self) -> list[Any]:
        """Each group's key as a Python value: a scalar for one key column, a tuple for
        several, None when grouping by nothing."""
        if self.keys.num_columns == 0:
            return [None] * self.num_groups
        cols = [c.to_pylist() for c in self.keys.columns]
        if len(cols) == 1:
            return cols[0]
        return list(zip(*cols))

    def sum(self, values: np.ndarray) -> np.ndarray:
        """Per-group sums of a float array aligned with the rows (float64)."""
        return np.bincount(self.ids(), weights=np.asarray(values, dtype=np.float64),
                           minlength=self.num_groups)


def check_columns(schema: pa.Schema, columns: Sequence[str]) -> None:
    """Raise :class:`ColumnNotFoundError` for the first of ``columns`` not in ``schema``.

    Example:
        >>> check_columns(pa.schema([("a", pa.int64())]), ["a"])
    """
    names = schema.names
    for col in columns:
        if col not in names:
            raise ColumnNotFoundError(col, names)


def group_table(table: pa.Table, keys: Sequence[str], requests: Sequence[HashAgg], *,
                with_rows: bool = False) -> tuple[Groups, list[pa.Array]]:
    """Group ``table`` by ``keys`` and run every request in one hash aggregation.

    Args:
        table: the table to group.
        keys: key column names (empty: one group holding every row, or none if the
            table is empty).
        requests: aggregations to compute per group.
        with_rows: also collect each group's row indices (for :meth:`Groups.rows` and
            :meth:`Groups.ids`).

    Returns:
        The groups and, per request, an array with one value per group (group order).

    Example:
        >>> t = pa.table({"v": [1, None, 3]})
        >>> g, (c,) = group_table(t, [], [HashAgg(t["v"], "count")])
        >>> g.num_groups, c.to_pylist()
        (1, [2])
    """
    check_columns(table.schema, keys)
    if not with_rows and requests:
        fast = group_without_keys(table, requests) if not keys else (
            group_dense(table, keys[0], requests) if len(keys) == 1 else None)
        if fast is not None:
            key_table, num_groups, fast_results = fast
            return Groups(key_table, num_groups, table.num_rows, None), fast_results
    n = table.num_rows
    arrays: list[pa.ChunkedArray | pa.Array] = []
    names: list[str] = []
    key_names: list[str] = []
    for j, key in enumerate(keys):
        arrays.append(table.column(key))
        names.append(f"__sd_k{j}")
        key_names.append(f"__sd_k{j}")
    if not keys:
        arrays.append(pa.array(np.zeros(n, dtype=np.int8)))
        names.append("__sd_k")
        key_names.append("__sd_k")
    specs: list[tuple[str, str, pc.FunctionOptions | None]] = []
    out_names: list[str] = []
    for i, req in enumerate(requests):
        col = f"__sd_c{i}"
        if req.values is None:
            arrays.append(arrays[0])
            specs.append((col, "count", pc.CountOptions(mode="all")))
            out_names.append(f"{col}_count")
        else:
            if len(req.values) != n:
                raise ValueError(f"aggregation input has {len(req.values)} values for {n} rows")
            arrays.append(req.values)
            specs.append((col, req.func, req.options))
            out_names.append(f"{col}_{req.func}")
        names.append(col)
    if with_rows:
        arrays.append(pa.array(np.arange(n, dtype=np.int64)))
        names.append(_ROW)
        specs.append((_ROW, "list", None))
    tmp = pa.Table.from_arrays(arrays, names=names)
    out = tmp.group_by(key_names, use_threads=False).aggregate(specs)
    results = [_one_chunk(out.column(name)) for name in out_names]
    rows = _one_chunk(out.column(f"{_ROW}_list")) if with_rows else None
    if keys:
        key_table = pa.Table.from_arrays([out.column(k) for k in key_names], names=list(keys))
    else:
        key_table = pa.table({"_": pa.nulls(out.num_rows)}).drop_columns(["_"])
    return Groups(key_table, out.num_rows, n, rows), results


def _one_chunk(col: pa.ChunkedArray) -> pa.Array:
    if col.num_chunks == 1:
        return col.chunk(0)
    return col.combine_chunks() if col.num_chunks else pa.array([], type=col.type)


__all__ = ["Groups", "HashAgg", "check_columns", "group_table"]

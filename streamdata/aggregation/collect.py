"""Built-in aggregations that collect values per group: Quantile, Unique,
CountDistinct, AsList, ValueCounter.

Their accumulators are list columns (one list per group); merging regroups the
values of many partial lists by group, vectorized over every group at once
(:mod:`streamdata.aggregation.list_states`).

Example:
    >>> import pyarrow as pa
    >>> from streamdata.exec.shuffle.groupby import aggregate_table
    >>> t = pa.table({"k": [1, 1, 2], "s": ["a", "a", "b"]})
    >>> aggregate_table(t, ["k"], [CountDistinct("s"), AsList("s")]).to_pylist()
    [{'k': 1, 'count_distinct(s)': 1, 'list(s)': ['a', 'a']}, {'k': 2, 'count_distinct(s)': 1, 'list(s)': ['b']}]
"""

from __future__ import annotations

import enum
import hashlib
import pickle
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from streamdata.aggregation import list_states as LS
from streamdata.aggregation.base import Arrays, States
from streamdata.aggregation.builtins import _Builtin, _hash_agg
from streamdata.aggregation.grouping import Groups, HashAgg
from streamdata.aggregation.list_states import to_numpy as _np
from streamdata.errors import PlanError

_LIST_CHECKS = (pa.types.is_list, pa.types.is_large_list, pa.types.is_fixed_size_list)


def _is_list(type_: pa.DataType) -> bool:
    return any(check(type_) for check in _LIST_CHECKS)


def _hashable(type_: pa.DataType) -> bool:
    """Whether Arrow's hash grouping takes values of ``type_`` as keys."""
    return not (pa.types.is_nested(type_) or isinstance(type_, pa.ExtensionType))


def _digests(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A stable 64-bit digest of each value (equal values, equal digests; nulls stay null)."""
    out = []
    for v in values.to_pylist():
        if v is None:
            out.append(None)
        else:
            out.append(int.from_bytes(hashlib.blake2b(pickle.dumps(v, protocol=4), digest_size=8)
                                      .digest(), "little", signed=True))
    return pa.array(out, type=pa.int64())


def _ids_from_rows(rows: pa.Array, num_rows: int) -> np.ndarray:
    """For each row, the number of its group, from each group's list of rows."""
    ids = np.empty(num_rows, dtype=np.int64)
    ids[_np(pc.list_flatten(rows), np.int64)] = _np(pc.list_parent_indices(rows), np.int64)
    return ids


def _distinct_by_group(values: pa.Array | pa.ChunkedArray, gid: np.ndarray, num_groups: int,
                       *, drop_nulls: bool) -> pa.Array:
    """Per group, the distinct ``values`` (sorted when orderable) as a large-list array."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if drop_nulls and (pa.types.is_null(values.type) or values.null_count == len(values)):
        return pa.array([[]] * num_groups, type=pa.large_list(values.type))  # (Arrow's hash on nulls crashes)
    gid_arr = pa.array(np.asarray(gid, dtype=np.int64))
    if drop_nulls and values.null_count:
        valid = pc.is_valid(values)
        values, gid_arr = pc.filter(values, valid), pc.filter(gid_arr, valid)
    if _hashable(values.type):
        pairs = pa.table({"g": gid_arr, "v": values}).group_by(["g", "v"], use_threads=False).aggregate([])
        return LS.lists_by_group(pairs.column("v"), pairs.column("g"), num_groups, sort=True)
    digest = _digests(values)
    rows = pa.array(np.arange(len(values), dtype=np.int64))
    firsts = pa.table({"g": gid_arr, "d": digest, "r": rows}).group_by(["g", "d"], use_threads=False) \
        .aggregate([("r", "min")])
    first_rows = pc.sort_indices(firsts.column("r_min"))
    keep = pc.take(firsts.column("r_min"), first_rows)
    return LS.lists_by_group(pc.take(values, keep), pc.take(gid_arr, keep), num_groups, sort=False)


class Quantile(_Builtin):
    """The ``q``-quantile of column ``on`` with linear interpolation (as numpy's and
    pandas' defaults); float64. Accumulators hold every value of the group.

    Example:
        >>> import pyarrow as pa
        >>> from streamdata.exec.shuffle.groupby import aggregate_table
        >>> aggregate_table(pa.table({"x": [1, 2, 3, 4]}), [], [Quantile("x", q=0.5)]).to_pylist()
        [{'quantile(x)': 2.5}]
    """

    _agg_name = "quantile"

    def __init__(self, on: str | None = None, q: float = 0.5, ignore_nulls: bool = True,
                 alias_name: str | None = None) -> None:
        if not isinstance(q, (int, float)) or not 0.0 <= q <= 1.0:
            raise PlanError(f"Quantile: q must be between 0 and 1, got {q!r}")
        super().__init__(on, ignore_nulls=ignore_nulls, alias_name=alias_name)
        self.q = float(q)

    def _needs_rows(self, phase: str) -> bool:
        return phase == "merge"

    def _partial_requests(self, block: pa.Table) -> list[HashAgg]:
        values = self._values(block, cast_float=True)
        return [_hash_agg(values, "list"),
                _hash_agg(values, "count", pc.CountOptions(mode="only_null"))]

    def _partial_states(self, block: pa.Table, groups: Groups, results: Arrays) -> States:
        lists = results[0].cast(pa.large_list(pa.float64()))
        return [lists, results[1].cast(pa.int64())]

    def _merge_states(self, states: Arrays, groups: Groups, results: Arrays) -> States:
        values, gid = LS.regroup(states[0], groups.ids())
        nulls = groups.sum(_np(states[1], np.float64)).astype(np.int64)
        return [LS.lists_by_group(values, gid, groups.num_groups, sort=False), pa.array(nulls)]

    def _finalize_states(self, states: Sequence[pa.Array]) -> pa.Array:
        out, has = LS.list_quantiles(states[0], self.q)
        nulls = _np(states[1], np.int64)
        mask = ~has | ((nulls > 0) if not self.ignore_nulls else False)
        return pa.array(out, type=pa.float64(), mask=np.asarray(mask, dtype=bool))

    def _identity_states(self) -> States:
        return [pa.array([[]], type=pa.large_list(pa.float64())), pa.array([0], pa.int64())]


class Unique(_Builtin):
    """The distinct values of column ``on`` per group, as a list (sorted when the type is
    orderable; with ``ignore_nulls=False``, the default as Ray's, a null is one of them).

    Args:
        on: the column.
        ignore_nulls: leave nulls out.
        alias_name: the output column name (default ``unique(on)``).
        encode_lists: for a list column: ``True`` or ``Unique.ListEncodingMode.FLATTEN``
            gives the distinct elements of the lists (one level flattened);
            ``Unique.ListEncodingMode.HASH`` the distinct 64-bit hashes of whole lists;
            ``False``/None (default) the distinct whole lists.

    Example:
        >>> import pyarrow as pa
        >>> from streamdata.exec.shuffle.groupby import aggregate_table
        >>> aggregate_table(pa.table({"x": [3, 1, 3, None]}), [], [Unique("x", ignore_nulls=True)]).to_pylist()
        [{'unique(x)': [1, 3]}]
        >>> t = pa.table({"l": [[1, 2], [2, 3]]})
        >>> aggregate_table(t, [], [Unique("l", encode_lists=True)]).to_pylist()
        [{'unique(l)': [1, 2, 3]}]
    """

    class ListEncodingMode(str, enum.Enum):
        """How list values are taken: their elements (FLATTEN) or a hash of each (HASH)."""

        FLATTEN = "FLATTEN"
        HASH = "HASH"

    _agg_name = "unique"
    _numeric = False

    def __init__(self, on: str | None = None, ignore_nulls: bool = False,
                 alias_name: str | None = None,
                 encode_lists: bool | Unique.ListEncodingMode | str | None = None) -> None:
        super().__init__(on, ignore_nulls=ignore_nulls, alias_name=alias_name)
        if encode_lists is None or encode_lists is False:
            self._mode: Unique.ListEncodingMode | None = None
        elif encode_lists is True:
            self._mode = Unique.ListEncodingMode.FLATTEN
        else:
            try:
                self._mode = Unique.ListEncodingMode(str(getattr(encode_lists, "value", encode_lists)).upper())
            except ValueError:
                raise PlanError(f"{type(self).__name__}: encode_lists must be a bool or one of "
                                f"{[m.value for m in Unique.ListEncodingMode]}, got {encode_lists!r}") from None

    def _needs_rows(self, phase: str) -> bool:
        return phase == "merge"

    def _direct(self, block: pa.Table) -> bool:
        """Whether one hash ``distinct`` does the partial step (a hashable, unflattened column)."""
        type_ = block.schema.field(self.on).type  # type: ignore[arg-type]
        if pa.types.is_null(type_):
            return False
        if _is_list(type_) and self._mode is not None:
            return self._mode is Unique.ListEncodingMode.HASH
        return _hashable(type_)

    def _encoded(self, block: pa.Table) -> pa.Array | pa.ChunkedArray:
        col = block.column(self.on)  # type: ignore[arg-type]
        if self._mode is Unique.ListEncodingMode.HASH and _is_list(col.type):
            return _digests(col)
        return col

    def _partial_requests(self, block: pa.Table) -> list[HashAgg]:
        if self._direct(block):
            mode = "only_valid" if self.ignore_nulls else "all"
            return [_hash_agg(self._encoded(block), "distinct", pc.CountOptions(mode=mode))]
        return [_hash_agg(pa.array(np.arange(block.num_rows, dtype=np.int64)), "list")]  # rows per group

    def _partial_states(self, block: pa.Table, groups: Groups, results: Arrays) -> States:
        if self._direct(block):
            lists = results[0]
            return [lists.cast(pa.large_list(lists.type.value_type))]
        col = self._encoded(block)
        ids = _ids_from_rows(results[0], block.num_rows)
        if self._mode is Unique.ListEncodingMode.FLATTEN and _is_list(col.type):
            col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
            if isinstance(col.type, pa.FixedSizeListType):
                col = col.cast(pa.list_(col.type.value_type))
            parents = _np(pc.list_parent_indices(col), np.int64)
            col, ids = pc.list_flatten(col), ids[parents]
        return [_distinct_by_group(col, ids, groups.num_groups, drop_nulls=self.ignore_nulls)]

    def _merge_states(self, states: Arrays, groups: Groups, results: Arrays) -> States:
        values, gid = LS.regroup(states[0], groups.ids())
        return [_distinct_by_group(values, gid, groups.num_groups, drop_nulls=self.ignore_nulls)]

    def _finalize_states(self, states: Sequence[pa.Array]) -> pa.Array:
        lists = states[0]
        return lists.cast(pa.list_(lists.type.value_type)) if len(lists.values) < 2**31 - 1 else lists

    def _identity_states(self) -> States:
        return [pa.array([[]], type=pa.large_list(pa.null()))]


class CountDistinct(Unique):
    """The number of distinct values of column ``on`` per group (int64; NaN counts once,
    nulls are left out unless ``ignore_nulls=False``), like SQL's ``COUNT(DISTINCT on)``.

    Example:
        >>> import pyarrow as pa
        >>> from streamdata.exec.shuffle.groupby import aggregate_table
        >>> aggregate_table(pa.table({"c": ["A", "B", "A", None]}), [], [CountDistinct("c")]).to_pylist()
        [{'count_distinct(c)': 2}]
    """

    def __init__(self, on: str | None = None, ignore_nulls: bool = True,
                 alias_name: str | None = None) -> None:
        if on is None:
            raise PlanError("CountDistinct needs `on`, the name of a column")
        super().__init__(on, ignore_nulls=ignore_nulls,
                         alias_name=alias_name or f"count_distinct({on})")

    def _finalize_states(self, states: Sequence[pa.Array]) -> pa.Array:
        return pc.list_value_length(states[0]).cast(pa.int64())


class AsList(_Builtin):
    """Every value of column ``on`` per group, as a list in the order seen (nulls kept
    unless ``ignore_nulls=True``).

    Example:
        >>> import pyarrow as pa
        >>> from streamdata.exec.shuffle.groupby import aggregate_table
        >>> aggregate_table(pa.table({"x": [3, None, 1]}), [], [AsList("x")]).to_pylist()
        [{'list(x)': [3, None, 1]}]
    """

    _agg_name = "list"
    _numeric = False

    def __init__(self, on: str | None = None, alias_name: str | None = None,
                 ignore_nulls: bool = False) -> None:
        super().__init__(on, ignore_nulls=ignore_nulls, alias_name=alias_name)

    def _needs_rows(self, phase: str) -> bool:
        return phase == "merge"

    def _partial_requests(self, block: pa.Table) -> list[HashAgg]:
        return [_hash_agg(block.column(self.on), "list")]  # type: ignore[arg-type]

    def _partial_states(self, block: pa.Table, groups: Groups, results: Arrays) -> States:
        lists = results[0]
        if self.ignore_nulls and lists.values.null_count:
            values, gid = LS.regroup(lists, np.arange(len(lists), dtype=np.int64))
            valid = pc.is_valid(values)
            return [LS.lists_by_group(pc.filter(values, valid), _np(pc.filter(pa.array(gid), valid), np.int64),
                                      groups.num_groups, sort=False)]
        return [lists.cast(pa.large_list(lists.type.value_type))]

    def _merge_states(self, states: Arrays, groups: Groups, results: Arrays) -> States:
        values, gid = LS.regroup(states[0], groups.ids())
        return [LS.lists_by_group(values, gid, groups.num_groups, sort=False)]

    def _finalize_states(self, states: Sequence[pa.Array]) -> pa.Array:
        lists = states[0]
        return lists.cast(pa.list_(lists.type.value_type)) if len(lists.values) < 2**31 - 1 else lists

    def _identity_states(self) -> States:
        return [pa.array([[]], type=pa.large_list(pa.null()))]


class ValueCounter(_Builtin):
    """How often each value of column ``on`` occurs per group, as
    ``{"values": [...], "counts": [...]}`` (most frequent first; nulls left out).

    Example:
        >>> import pyarrow as pa
        >>> from streamdata.exec.shuffle.groupby import aggregate_table
        >>> aggregate_table(pa.table({"c": ["A", "B", "A"]}), [], [ValueCounter("c")]).to_pylist()
        [{'value_counter(c)': {'values': ['A', 'B'], 'counts': [2, 1]}}]
    """

    _agg_name = "value_counter"
    _numeric = False

    def __init__(self, on: str | None = None, alias_name: str | None = None) -> None:
        super().__init__(on, ignore_nulls=True, alias_name=alias_name)

    def _needs_rows(self, phase: str) -> bool:
        return True

    @staticmethod
    def _counts(values: Any, counts: Any, gid: np.ndarray, num_groups: int) -> States:
        t = pa.table({"g": pa.array(np.asarray(gid, dtype=np.int64)), "v": values, "n": counts})
        t = t.filter(pc.is_valid(t.column("v")))
        out = t.group_by(["g", "v"], use_threads=False).aggregate([("n", "sum")])
        order = pc.sort_indices(out, sort_keys=[("g", "ascending"), ("n_sum", "descending")])
        out = out.take(order)
        g = out.column("g")
        return [LS.lists_by_group(out.column("v"), g, num_groups, sort=False),
                LS.lists_by_group(out.column("n_sum").cast(pa.int64()), g, num_groups, sort=False)]

    def _partial_states(self, block: pa.Table, groups: Groups, results: Arrays) -> States:
        col = block.column(self.on)  # type: ignore[arg-type]
        return self._counts(col, pa.array(np.ones(len(col), dtype=np.int64)), groups.ids(), groups.num_groups)

    def _merge_states(self, states: Arrays, groups: Groups, results: Arrays) -> States:
        values, gid = LS.regroup(states[0], groups.ids())
        counts, _ = LS.regroup(states[1], groups.ids())
        return self._counts(values, counts, gid, groups.num_groups)

    def _finalize_states(self, states: Sequence[pa.Array]) -> pa.Array:
        values, counts = (s.cast(pa.list_(s.type.value_type)) for s in states)
        return pa.StructArray.from_arrays([values, counts], names=["values", "counts"])

    def _identity_states(self) -> States:
        return [pa.array([[]], type=pa.large_list(pa.null())), pa.array([[]], type=pa.large_list(pa.int64()))]

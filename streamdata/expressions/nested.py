"""The ``.dt``, ``.list``, ``.struct``, ``.map`` and ``.arr`` namespaces (Ray's method names).

Most methods are one ``pyarrow.compute`` kernel (pushable into readers); the few Arrow
has no kernel for (negative list indices, ``list.sort``, ``list.flatten``,
``map.keys``/``values``, ``arr.to_list``) are vectorized module functions run as UDFs.

Example:
    >>> import pyarrow as pa
    >>> from streamdata.expressions.core import col
    >>> t = pa.table({"items": [[3, 1, 2], [5]]})
    >>> col("items").list.len().evaluate(t).to_pylist()
    [3, 1]
    >>> col("items").list[-1].evaluate(t).to_pylist()
    [2, 5]
    >>> col("items").list.sort(order="descending").evaluate(t).to_pylist()
    [[3, 2, 1], [5]]
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from streamdata.expressions.core import Expr
from streamdata.expressions.functions import NAMESPACES
from streamdata.expressions.strings import kernel
from streamdata.expressions.udf import UDFExpr, _builder


def _udf(fn: Any, expr: Expr, dtype: pa.DataType | None = None, **kwargs: Any) -> UDFExpr:
    return _builder(fn, dtype)(expr, **kwargs)


def _array(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _as_var_list(arr: pa.Array) -> pa.Array:
    if not (pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type)
            or pa.types.is_fixed_size_list(arr.type)):
        raise TypeError(f"a list function got a column of type {arr.type}, not a list")
    if pa.types.is_fixed_size_list(arr.type):
        return arr.cast(pa.list_(arr.type.value_type))
    return arr


def _rebuild(template: pa.Array, values: pa.Array, lengths: np.ndarray) -> pa.Array:
    """A list array with ``lengths[i]`` of ``values`` per row and ``template``'s nulls."""
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    mask = template.is_null() if template.null_count else None
    if pa.types.is_large_list(template.type):
        return pa.LargeListArray.from_arrays(pa.array(offsets), values, mask=mask)
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), values, mask=mask)


def list_get(arr: Any, index: int) -> pa.Array:
    """Element ``index`` of each list (negative counts from the end; null when out of range)."""
    lists = _as_var_list(_array(arr))
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    starts = np.asarray(lists.offsets)[:-1].astype(np.int64) - int(np.asarray(lists.offsets)[0])
    pos = lengths + index if index < 0 else np.full(len(lists), index)
    ok = (pos >= 0) & (pos < lengths) & ~np.asarray(lists.is_null().to_numpy(zero_copy_only=False))
    take = pa.array(np.where(ok, starts + pos, 0), mask=~ok)
    return pc.take(lists.flatten(), take)


def list_sort(arr: Any, order: str, null_placement: str) -> pa.Array:
    """Each list sorted (nulls at the start or end); null lists stay null."""
    lists = _array(arr)
    var = _as_var_list(lists)
    values = var.flatten()
    lengths = pc.fill_null(pc.list_value_length(var), 0).to_numpy(zero_copy_only=False)
    if len(values):
        rows = pc.list_parent_indices(var)
        order_idx = pc.sort_indices(pa.table({"r": rows, "v": values}),
                                    sort_keys=[("r", "ascending", "at_end"), ("v", order, null_placement)])
        values = pc.take(values, order_idx)
    out = _rebuild(var, values, lengths)
    return out.cast(lists.type) if pa.types.is_fixed_size_list(lists.type) else out


def list_flatten(arr: Any) -> pa.Array:
    """Each list of lists joined into one list (one level)."""
    outer = _as_var_list(_array(arr))
    inner = _as_var_list(outer.flatten())
    values = inner.flatten()
    row_of_inner = pc.list_parent_indices(outer).to_numpy(zero_copy_only=False)
    inner_len = pc.fill_null(pc.list_value_length(inner), 0).to_numpy(zero_copy_only=False)
    lengths = np.bincount(row_of_inner, weights=inner_len, minlength=len(outer)).astype(np.int64)
    return _rebuild(outer, values, lengths)


def map_part(arr: Any, part: str) -> pa.Array:
    """The keys or the values of each map, as a list."""
    maps = _array(arr)
    if not pa.types.is_map(maps.type):
        raise TypeError(f"map.{part}() needs a map column, got {maps.type}")
    values = maps.keys if part == "keys" else maps.items
    offsets = np.asarray(maps.offsets).astype(np.int64)
    lengths = np.diff(offsets)
    values = values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    return _rebuild(maps.cast(pa.list_(pa.struct([maps.type.key_field, maps.type.item_field]))), values, lengths)


def to_var_list(arr: Any) -> pa.Array:
    """Fixed-size lists as variable-size lists."""
    return _as_var_list(_array(arr))


class _DatetimeNamespace:
    """Timestamp functions (``col("t").dt``)."""

    __slots__ = ("_expr",)

    def __init__(self, expr: Expr) -> None:
        self._expr = expr

    def _k(self, fn: str, method: str, **kwargs: Any) -> Expr:
        return kernel(self._expr, fn, f"dt.{method}", **kwargs)

    def year(self) -> Expr: return self._k("year", "year")
    def month(self) -> Expr: return self._k("month", "month")
    def day(self) -> Expr: return self._k("day", "day")
    def hour(self) -> Expr: return self._k("hour", "hour")
    def minute(self) -> Expr: return self._k("minute", "minute")
    def second(self) -> Expr: return self._k("second", "second")

    def strftime(self, fmt: str) -> Expr:
        """Timestamps formatted with the ``strftime`` pattern ``fmt``."""
        return self._k("strftime", "strftime", format=fmt)

    def ceil(self, unit: str) -> Expr:
        """Rounded up to a multiple of ``unit`` (``"day"``, ``"hour"``, ...)."""
        return self._k("ceil_temporal", "ceil", multiple=1, unit=unit)

    def floor(self, unit: str) -> Expr:
        """Rounded down to a multiple of ``unit``."""
        return self._k("floor_temporal", "floor", multiple=1, unit=unit)

    def round(self, unit: str) -> Expr:
        """Rounded to the nearest multiple of ``unit``."""
        return self._k("round_temporal", "round", multiple=1, unit=unit)


#: the names Ray's functions for these methods have: how their UDFs print in the tree form
#: (``repr``), with only the operand below them, Ray keeping the options inside the function
for _fn, _name in ((list_get, "udf"), (list_sort, "_list_sort"), (list_flatten, "_list_flatten"),
                   (map_part, "_project_map"), (to_var_list, "_to_list")):
    _fn.ray_udf_name = _name  # type: ignore[attr-defined]


class _ListNamespace:
    """List functions (``col("l").list``): ``len``, ``[i]``, ``[a:b]``, ``get``, ``slice``,
    ``sort``, ``flatten``."""

    __slots__ = ("_expr",)

    def __init__(self, expr: Expr) -> None:
        self._expr = expr

    def len(self) -> Expr:
        """The number of elements of each list."""
        return kernel(self._expr, "list_value_length", "list.len")

    def __getitem__(self, key: int | slice) -> Expr:
        if isinstance(key, slice):
            return self.slice(key.start, key.stop, key.step)
        if isinstance(key, int) and not isinstance(key, bool):
            return self.get(key)
        raise TypeError(f"list indices must be integers or slices, not {type(key).__name__}")

    def get(self, index: int) -> Expr:
        """Element ``index`` of each list (negative: from the end; null when out of range)."""
        if not isinstance(index, int) or isinstance(index, bool):
            raise TypeError(f"list.get takes an int index, got {index!r}")
        return _udf(list_get, self._expr, index=index)

    def slice(self, start: int | None = None, stop: int | None = None, step: int | None = None) -> Expr:
        """Elements ``start:stop:step`` of each list (non-negative bounds)."""
        for name, v in (("start", start), ("stop", stop), ("step", step)):
            if v is not None and (not isinstance(v, int) or v < 0):
                raise ValueError(f"list.slice: {name} must be a non-negative int or None, got {v!r}")
        return kernel(self._expr, "list_slice", "list.slice", start=start or 0, stop=stop,
                      step=1 if step is None else step)

    def sort(self, order: Literal["ascending", "descending"] = "ascending",
             null_placement: Literal["at_start", "at_end"] = "at_end") -> Expr:
        """Each list's elements sorted."""
        if order not in ("ascending", "descending"):
            raise ValueError(f"list.sort: order must be 'ascending' or 'descending', got {order!r}")
        if null_placement not in ("at_start", "at_end"):
            raise ValueError(f"list.sort: null_placement must be 'at_start' or 'at_end', got {null_placement!r}")
        return _udf(list_sort, self._expr, order=order, null_placement=null_placement)

    def flatten(self) -> Expr:
        """Each list of lists joined into one list."""
        return _udf(list_flatten, self._expr)


class _StructNamespace:
    """Struct functions (``col("s").struct``): ``["name"]``, ``[0]``, ``field``, ``field_by_index``."""

    __slots__ = ("_expr",)

    def __init__(self, expr: Expr) -> None:
        self._expr = expr

    def __getitem__(self, key: str | int) -> Expr:
        if isinstance(key, str):
            return self.field(key)
        if isinstance(key, int) and not isinstance(key, bool):
            return self.field_by_index(key)
        raise TypeError(f"struct fields are named by str or int, not {type(key).__name__}")

    def field(self, field_name: str) -> Expr:
        """The field ``field_name`` of each struct."""
        return kernel(self._expr, "struct_field", "struct[]", field_name)

    def field_by_index(self, index: int) -> Expr:
        """Field number ``index`` of each struct."""
        return kernel(self._expr, "struct_field", "struct[]", [index])


class _MapNamespace:
    """Map functions (``col("m").map``): ``keys()``, ``values()``."""

    __slots__ = ("_expr",)

    def __init__(self, expr: Expr) -> None:
        self._expr = expr

    def keys(self) -> Expr:
        """The keys of each map, as a list."""
        return _udf(map_part, self._expr, part="keys")

    def values(self) -> Expr:
        """The values of each map, as a list."""
        return _udf(map_part, self._expr, part="values")


class _ArrayNamespace:
    """Array functions (``col("a").arr``): ``to_list()``."""

    __slots__ = ("_expr",)

    def __init__(self, expr: Expr) -> None:
        self._expr = expr

    def to_list(self) -> Expr:
        """Fixed-size list values as variable-size lists."""
        return _udf(to_var_list, self._expr)


NAMESPACES.update(dt=_DatetimeNamespace, list=_ListNamespace, struct=_StructNamespace,
                  map=_MapNamespace, arr=_ArrayNamespace)

__all__ = ["_ArrayNamespace", "_DatetimeNamespace", "_ListNamespace", "_MapNamespace", "_StructNamespace"]

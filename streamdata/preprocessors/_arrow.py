"""Arrow helpers of the preprocessors that transform ``pyarrow.Table`` batches, as Ray's do
(``OrdinalEncoder``, ``OneHotEncoder``, ``StandardScaler``): category lookup, null checks,
column upserts, and the pandas fallback for list columns.

Example:
    >>> import pyarrow as pa
    >>> _codes_of(pa.chunked_array([["b", "z", "a"]]), {"a": 0, "b": 1}).tolist()
    [1, -1, 0]
    >>> _one_hot(np.array([1, -1, 0]), 2).to_pylist()
    [[0, 1], [0, 0], [1, 0]]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from streamdata.errors import StreamDataError
from streamdata.preprocessors._util import _plain


def _is_list_type(t: pa.DataType) -> bool:
    """Whether a column of type ``t`` holds a list (or an array) per row."""
    return (pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)
            or isinstance(t, pa.BaseExtensionType))


def _has_list_column(table: pa.Table, columns: list[str]) -> bool:
    return any(_is_list_type(table.schema.field(c).type) for c in columns)


def _via_pandas(table: pa.Table, transform: Callable[[Any], Any]) -> pa.Table:
    """``transform`` (a ``_transform_pandas``) applied to ``table`` as a DataFrame: what
    Ray's Arrow transforms fall back to for list columns."""
    from streamdata import block as B
    return B.pandas_to_table(transform(B.to_pandas(table)))


def _null_columns(table: pa.Table, columns: list[str]) -> list[str]:
    """The columns holding a null (or a NaN) value."""
    return [c for c in columns if pc.any(pc.is_null(table.column(c), nan_is_null=True)).as_py()]


def _upsert(table: pa.Table, name: str, column: pa.Array | pa.ChunkedArray) -> pa.Table:
    """``table`` with the column ``name`` replaced in place, or appended if it is new."""
    i = table.schema.get_field_index(name)
    return table.append_column(name, column) if i == -1 else table.set_column(i, name, column)


def _codes_of(column: pa.ChunkedArray | pa.Array, mapping: dict[Any, int]) -> np.ndarray:
    """Each value's category number in ``mapping`` (int64; -1 where unseen)."""
    n = len(column)
    if not mapping:
        return np.full(n, -1, dtype=np.int64)
    numbers = np.fromiter(mapping.values(), dtype=np.int64, count=len(mapping))
    try:
        keys = pa.array(list(mapping))
        if keys.type != column.type:
            keys = pc.cast(keys, column.type)
        positions = pc.fill_null(pc.index_in(column, value_set=keys), -1)
        pos = np.asarray(positions.to_numpy(), dtype=np.int64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, TypeError):
        return np.fromiter((mapping.get(_plain(v), -1) for v in column.to_pylist()),
                           dtype=np.int64, count=n)
    return np.where(pos >= 0, numbers[np.maximum(pos, 0)], -1)


def _one_hot(codes: np.ndarray, size: int) -> pa.FixedSizeListArray:
    """One ``fixed_size_list<uint8>[size]`` vector per code (all zeros where -1), as Ray's."""
    hot = np.zeros((len(codes), size), dtype=np.uint8)
    rows = np.nonzero(codes >= 0)[0]
    hot[rows, codes[rows]] = 1
    return pa.FixedSizeListArray.from_arrays(pa.array(hot.ravel(), type=pa.uint8()), size)


def _scaled(owner: str, col: str, column: pa.ChunkedArray, shift: float, scale: float) -> Any:
    """``(column - shift) / scale`` as doubles; a clear error for a column of non-numbers."""
    try:
        return pc.divide(pc.subtract(column, pa.scalar(float(shift))), pa.scalar(float(scale)))
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise StreamDataError(f"{owner}: cannot scale column {col!r} of type {column.type} "
                              f"(it must hold numbers): {exc}") from None

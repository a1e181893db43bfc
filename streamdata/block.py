"""Blocks and batch formats: the one module of conversions.

A block is a :class:`pyarrow.Table`. User functions see batches in one of three
formats: ``"numpy"`` (a dict of ndarrays, also ``"default"``), ``"pandas"`` or
``"pyarrow"``. Conversions are zero-copy wherever Arrow allows (single-chunk
numeric columns without nulls, fixed-shape tensors). Columns holding N-d arrays
are stored as Arrow's ``fixed_shape_tensor`` extension type and come back as
N-d ndarrays; arrays of varying shapes use :class:`VariableShapeTensorType`;
other Python objects are pickled into :class:`PythonObjectType`.

Example:
    >>> import numpy as np
    >>> t = batch_to_table({"x": np.zeros((2, 3, 4)), "y": np.arange(2)})
    >>> to_numpy(t)["x"].shape
    (2, 3, 4)
    >>> [r["y"] for r in iter_rows(t)]
    [0, 1]
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import pyarrow as pa

from streamdata.block_concat import concat  # noqa: F401 - B.concat: blocks concatenated, schemas unified
from streamdata.block_pandas import frame_to_table, pandas_types_mapper, readable_pandas_metadata
from streamdata.block_rows import columns_of_rows, rows_from_columns
from streamdata.errors import PlanError, TensorRequiresGradError, UDFReturnError, describe
from streamdata.kept_dictionary import KeptDictionaryType, decode_column, decode_kept
from streamdata.numpy_batch import NumpyBatch, raw_items

# the variable-shape tensor type has one definition (registered once with Arrow), in io/tensor.py
from streamdata.tensor import (VariableShapeTensorArray, VariableShapeTensorType, array_likes_to_ndarrays, as_ndarray,
                               is_array_like)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

Block = pa.Table
Batch = Union[dict[str, np.ndarray], "pd.DataFrame", pa.Table]

#: the ``batch_format`` values a UDF or an iterator may ask for (also ``"arrow"`` and None,
#: spellings of ``"pyarrow"``); :func:`normalize_batch_format` is the one normaliser
BATCH_FORMATS = ("default", "numpy", "pandas", "pyarrow")
_EXPECTED = "expected a dict of arrays, pandas.DataFrame or pyarrow.Table"


# --------------------------------------------------------------------------- extension types


class PythonObjectType(pa.ExtensionType):
    """Arbitrary picklable Python objects, one pickle per row."""

    def __init__(self) -> None:
        super().__init__(pa.large_binary(), "streamdata.python_object")

    def __arrow_ext_serialize__(self) -> bytes:
        return b""

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: pa.DataType, serialized: bytes) -> PythonObjectType:
        return cls()


def _register_extension_types() -> None:
    try:
        pa.register_extension_type(PythonObjectType())
    except pa.ArrowKeyError:  # already registered (module reloaded)
        pass


_register_extension_types()


def _is_fixed_tensor(t: pa.DataType) -> bool:
    return isinstance(t, pa.FixedShapeTensorType)


def is_tensor_type(t: pa.DataType) -> bool:
    """Whether ``t`` holds N-d arrays (fixed or variable shape).

    Example:
        >>> is_tensor_type(pa.fixed_shape_tensor(pa.int8(), [2, 2])), is_tensor_type(pa.int8())
        (True, False)
    """
    return _is_fixed_tensor(t) or isinstance(t, VariableShapeTensorType)


# --------------------------------------------------------------------------- column → numpy


#: type ids of the list types (a list per row becomes an object array of ndarrays)
_LIST_IDS = frozenset(t.id for t in (pa.list_(pa.int8()), pa.large_list(pa.int8()), pa.list_(pa.int8(), 1)))


def column_to_numpy(arr: pa.Array | pa.ChunkedArray, zero_copy: bool = False) -> np.ndarray:
    """One Arrow column as an ndarray, as the ``"numpy"`` batch format gives it (tensor
    columns as N-d arrays; ``zero_copy``: a read-only view of Arrow's memory where possible).

    Example:
        >>> column_to_numpy(pa.chunked_array([[1, 2], [3]])).tolist()
        [1, 2, 3]
    """
    t = arr.type
    if t.id not in _LIST_IDS and not isinstance(t, pa.BaseExtensionType):  # first: no per-type checks
        return _plain_to_numpy(arr, zero_copy)
    if isinstance(t, KeptDictionaryType):  # the column's own type (streamdata.kept_dictionary)
        return _plain_to_numpy(decode_column(arr), zero_copy)
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    if _is_fixed_tensor(t):
        if not chunks:
            return np.empty((0, *t.shape), dtype=t.value_type.to_pandas_dtype())
        parts = [c.to_numpy_ndarray() for c in chunks]
        out = parts[0] if len(parts) == 1 else np.concatenate(parts)
    elif isinstance(t, VariableShapeTensorType):
        out = np.empty(len(arr), dtype=object)
        i = 0
        for c in chunks:
            storage = c.storage
            data, shape = storage.field("data"), storage.field("shape")
            for j in range(len(c)):
                if not storage[j].is_valid:
                    out[i] = None
                else:
                    out[i] = data[j].values.to_numpy(zero_copy_only=False).reshape(shape[j].as_py())
                i += 1
        return out
    elif isinstance(t, PythonObjectType):
        out = np.empty(len(arr), dtype=object)
        i = 0
        for c in chunks:
            for v in c.storage.to_pylist():
                out[i] = None if v is None else pickle.loads(v)
                i += 1
        return out
    elif t.id in _LIST_IDS:  # a list per row → an object array of ndarrays
        out = np.empty(len(arr), dtype=object)
        i = 0
        for c in chunks:
            for j in range(len(c)):
                v = c[j]
                out[i] = None if not v.is_valid else v.values.to_numpy(zero_copy_only=False)
                i += 1
        return out
    else:
        return _plain_to_numpy(arr, zero_copy)
    if not zero_copy and not out.flags.writeable:
        out = out.copy()
    return out


def _plain_to_numpy(arr: pa.Array | pa.ChunkedArray, zero_copy: bool) -> np.ndarray:
    """A column of a non-nested, non-extension type as an ndarray (a view of Arrow's
    memory where Arrow allows, read-only; ``zero_copy=False`` copies such a view)."""
    if isinstance(arr, pa.ChunkedArray) and arr.num_chunks == 1:
        arr = arr.chunk(0)
    views = _numeric_views(arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr])
    if views is not None:
        out = views[0] if len(views) == 1 else np.concatenate(views)
    else:
        out = arr.to_numpy(zero_copy_only=False) if isinstance(arr, pa.Array) else arr.to_numpy()
    if not zero_copy and not out.flags.writeable:
        out = out.copy()
    return out


def _numeric_views(chunks: Sequence[pa.Array]) -> list[np.ndarray] | None:
    """Read-only views of integer and floating chunks without nulls, as ``to_numpy`` gives
    them (pyarrow's ``to_numpy`` imports pandas on its first call, ~0.2 s that a script
    iterating numeric columns need not pay); None for any other chunk.

    Example:
        >>> [v.tolist() for v in _numeric_views([pa.array([1, 2, 3]).slice(1)])]
        [[2, 3]]
        >>> _numeric_views([pa.array([1.0, None])]) is None
        True
        >>> _numeric_views([pa.array([1])])[0].flags.writeable
        False
    """
    if not chunks:  # pyarrow's empty array has the type's dtype
        return None
    views = []
    for chunk in chunks:
        t = chunk.type
        if chunk.null_count or not (pa.types.is_integer(t) or pa.types.is_floating(t)):
            return None
        data = chunk.buffers()[1]
        if data is None:
            return None
        dtype = np.dtype(f"{'f' if pa.types.is_floating(t) else 'u' if pa.types.is_unsigned_integer(t) else 'i'}"
                         f"{t.bit_width // 8}")
        view = np.frombuffer(data, dtype=dtype, count=len(chunk),
                             offset=chunk.offset * dtype.itemsize)
        view.flags.writeable = False  # Arrow's memory (an object-store block's, maybe): never written
        views.append(view)
    return views


def to_numpy(table: pa.Table, *, zero_copy: bool = False) -> dict[str, np.ndarray]:
    """A table as a dict of ndarrays.

    Args:
        table: the block.
        zero_copy: allow read-only arrays that share Arrow's memory; False returns
            writable arrays (copying only where Arrow's memory would be shared).

    Example:
        >>> to_numpy(pa.table({"a": [1, 2]}))["a"].tolist()
        [1, 2]
    """
    return {name: column_to_numpy(table.column(i), zero_copy)
            for i, name in enumerate(table.column_names)}


def to_pandas(table: pa.Table, *, use_threads: bool = False, arrow_backed: bool | None = None) -> pd.DataFrame:
    """A table as a pandas DataFrame (tensor columns become object columns of ndarrays).

    A batch converts on the calling thread (Arrow's pool costs a 4,096-row batch 0.33 ms of
    CPU, against 0.15); ``use_threads`` is for a whole dataset at once. ``arrow_backed``:
    ``pd.ArrowDtype`` columns (:func:`~streamdata.block_pandas.pandas_types_mapper`).

    Example:
        >>> to_pandas(pa.table({"a": [1, 2]}))["a"].sum()
        np.int64(3)
        >>> str(to_pandas(pa.table({"a": [1, None]}), arrow_backed=True)["a"].dtype)
        'int64[pyarrow]'
    """
    import pandas as pd

    mapper = pandas_types_mapper(arrow_backed)
    special = [i for i, f in enumerate(table.schema) if isinstance(f.type, pa.BaseExtensionType)]
    table = readable_pandas_metadata(table)
    if not special:
        return table.to_pandas(use_threads=use_threads, types_mapper=mapper)
    plain = table.drop_columns([table.column_names[i] for i in special])
    df = (plain.to_pandas(use_threads=use_threads, types_mapper=mapper) if plain.num_columns
          else pd.DataFrame(index=range(table.num_rows)))
    for i in special:
        values = column_to_numpy(table.column(i), zero_copy=False)
        if values.ndim > 1:
            col = np.empty(len(values), dtype=object)
            for j in range(len(values)):
                col[j] = values[j]
            values = col
        df[table.column_names[i]] = values
    return df[table.column_names]


def to_batch(table: pa.Table, batch_format: str | None, *, zero_copy: bool = False) -> Batch:
    """A block in the user's ``batch_format`` (``"default"``/``"numpy"``, ``"pandas"``, ``"pyarrow"``).

    Example:
        >>> type(to_batch(pa.table({"a": [1]}), "pandas")).__name__
        'DataFrame'
    """
    fmt = normalize_batch_format(batch_format)
    if fmt == "numpy":  # columns leave Arrow when first read (see streamdata.numpy_batch)
        return NumpyBatch(table, lambda column: column_to_numpy(column, zero_copy))
    table = decode_kept(table)  # the user sees each column's own type
    if fmt == "pandas":
        return to_pandas(table)
    return table


def normalize_batch_format(batch_format: str | None) -> str:
    """``"numpy"``, ``"pandas"`` or ``"pyarrow"`` for any accepted spelling.

    Raises:
        PlanError: (a ValueError) any other value, naming the accepted ones.

    Example:
        >>> normalize_batch_format("default"), normalize_batch_format(None)
        ('numpy', 'pyarrow')
    """
    if batch_format in ("default", "numpy"):
        return "numpy"
    if batch_format in ("pyarrow", "arrow", None):
        return "pyarrow"
    if batch_format == "pandas":
        return "pandas"
    raise PlanError(f"batch_format must be one of {list(BATCH_FORMATS)}, got {batch_format!r}")


# --------------------------------------------------------------------------- values → Arrow


def _stackable(values: Iterable[Any]) -> tuple[bool, bool, bool]:
    """(all ndarrays, all of one shape, none of object dtype) for the non-None values."""
    first = None
    same = True
    plain = True
    for v in values:
        if v is None:
            continue
        if not isinstance(v, np.ndarray):
            return False, False, False
        if first is None:
            first = v
        elif v.shape != first.shape:
            same = False
        if v.dtype == object:
            plain = False
    return first is not None, same, plain


def _ndarray_to_arrow(arr: np.ndarray) -> pa.Array:
    """An ndarray column (N-d arrays → tensor type, objects → Arrow or pickled)."""
    if arr.ndim > 1:
        if arr.dtype == object:
            return _objects_to_arrow(list(arr))
        return pa.FixedShapeTensorArray.from_numpy_ndarray(np.ascontiguousarray(arr))
    if arr.dtype == object:
        return _objects_to_arrow(arr)
    if arr.dtype.kind == "U":
        return pa.array(arr, type=pa.string())
    return pa.array(arr)


def _objects_to_arrow(values: Any, *, nan_is_null: bool = False) -> pa.Array:
    """A sequence of Python objects: ndarrays become tensors, the rest Arrow or pickles.

    Arrays of one shape make a fixed-shape tensor column (mixed dtypes promoted, 0-d arrays a
    column of scalars), of different shapes a variable-shape one. Array-likes (a
    ``torch.Tensor``, anything with ``__array__`` and ``__len__``) count as ndarrays, as in Ray.
    A float NaN stays NaN in a float column (as Ray: ``from_items`` keeps NaN apart from
    None, so NaN keys group and sort apart from nulls); in a column of other values
    (strings with a stray NaN) it is a missing value, as pandas means it. ``nan_is_null``
    (pandas input): NaN is always missing, as ``pyarrow.Array.from_pandas`` reads it.

    Example:
        >>> _objects_to_arrow([1.0, float("nan"), None]).to_pylist()
        [1.0, nan, None]
        >>> _objects_to_arrow(["a", float("nan"), None]).to_pylist()
        ['a', None, None]
    """
    seq = values if isinstance(values, (list, np.ndarray)) else list(values)
    all_arrays, same, plain = _stackable(seq)
    if not all_arrays and (arrays := array_likes_to_ndarrays(seq)) is not None:  # torch tensors...
        seq = arrays
        all_arrays, same, plain = _stackable(seq)
    if all_arrays and plain and not any(v is None for v in seq):
        if same:
            try:
                stacked = np.stack(seq)  # numpy promotes mixed dtypes, as Ray's np.asarray
            except (TypeError, ValueError):  # dtypes that do not promote (datetimes beside ints)
                stacked = None
            if stacked is not None and stacked.ndim == 1:
                return _ndarray_to_arrow(stacked)
            if stacked is not None:
                return pa.FixedShapeTensorArray.from_numpy_ndarray(np.ascontiguousarray(stacked))
        else:
            return _variable_tensor(list(seq))
    items = list(seq) if isinstance(seq, np.ndarray) else seq
    for from_pandas in ((True,) if nan_is_null else (False, True)):
        try:
            return pa.array(items, from_pandas=from_pandas)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError):
            continue
    return _pickled(seq)


def _variable_tensor(arrays: list[np.ndarray]) -> pa.Array:
    try:
        return VariableShapeTensorArray.from_numpy(arrays)
    except (TypeError, ValueError, pa.ArrowInvalid, pa.ArrowNotImplementedError):  # odd dtypes
        return _pickled(arrays)


def _dumps(value: Any) -> bytes:
    """One row's pickle; an instance of a class of the script's ``__main__`` goes by value
    (cloudpickle), since a worker's ``__main__`` is not the script's."""
    if type(value).__module__ == "__main__":
        import cloudpickle

        return cloudpickle.dumps(value, protocol=5)
    return pickle.dumps(value, protocol=5)


def _pickled(values: Any) -> pa.Array:
    storage = pa.array([None if v is None else _dumps(v) for v in values], type=pa.large_binary())
    return pa.ExtensionArray.from_storage(PythonObjectType(), storage)


def values_to_arrow(name: str, values: Any, what: str) -> pa.Array:
    """Column ``name``'s Python values as Arrow (:func:`_objects_to_arrow`); a torch tensor
    that requires grad raises TensorRequiresGradError naming the column and ``what``."""
    try:
        return _objects_to_arrow(values)
    except TensorRequiresGradError:
        raise TensorRequiresGradError(name, what) from None


def _column_to_arrow(name: str, value: Any, what: str) -> pa.Array | pa.ChunkedArray:
    try:
        if isinstance(value, (pa.Array, pa.ChunkedArray)):
            return value
        if isinstance(value, np.ndarray):
            return _ndarray_to_arrow(value)
        if isinstance(value, (list, tuple)):
            return _objects_to_arrow(list(value))
        mod = type(value).__module__
        if mod.startswith("pandas"):
            return _series_to_arrow(value)
        if mod.startswith("torch") or is_array_like(value):  # a torch.Tensor, anything with __array__
            return _ndarray_to_arrow(as_ndarray(value))
    except TensorRequiresGradError:  # as Ray, refused rather than silently detached
        raise TensorRequiresGradError(name, what) from None
    raise UDFReturnError(f"{what} returned column {name!r} as {describe(value)}; "
                         f"expected an array (numpy.ndarray, list, pyarrow.Array)")


def _series_to_arrow(series: Any) -> pa.Array:
    if series.dtype == object:
        values = series.to_numpy()
        try:
            return _objects_to_arrow(values, nan_is_null=True)
        except TensorRequiresGradError:  # Ray keeps a DataFrame's grad tensors as Python objects
            return _pickled(values)
    return pa.Array.from_pandas(series)


def numpy_to_table(batch: Mapping[str, Any], *, what: str = "map_batches UDF") -> pa.Table:
    """A dict of arrays (numpy, lists, Arrow, torch) as a table; N-d arrays become tensor columns.

    Raises:
        UDFReturnError: columns of unequal lengths or a value that is not an array.

    Example:
        >>> numpy_to_table({"a": [1, 2], "b": ["x", "y"]}).num_rows
        2
        >>> numpy_to_table({"a": [1, 2, 3], "b": [1, 2]})
        Traceback (most recent call last):
        ...
        streamdata.errors.UDFReturnError: map_batches UDF returned columns of unequal lengths: {'a': 3, 'b': 2}
    """
    arrays = {}
    for name, value in raw_items(batch):  # a NumpyBatch's unread columns stay Arrow
        if not isinstance(name, str):
            raise UDFReturnError(f"{what} returned a dict with a non-string key {name!r}; "
                                 "column names must be strings")
        arrays[name] = _column_to_arrow(name, value, what)
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise UDFReturnError(f"{what} returned columns of unequal lengths: {lengths}")
    return pa.table(arrays) if arrays else pa.table({})


def pandas_to_table(df: pd.DataFrame) -> pa.Table:
    """A DataFrame as a table (the index is dropped; ndarray cells become tensor columns).

    Example:
        >>> import pandas as pd
        >>> pandas_to_table(pd.DataFrame({"a": [1.0, 2.0]})).column_names
        ['a']
    """
    cols = [str(c) for c in df.columns]
    if len(set(cols)) != len(cols):
        raise UDFReturnError(f"DataFrame has duplicate column names: {cols}")
    if not any(dtype == object for dtype in df.dtypes):
        if (table := frame_to_table(df)) is not None:  # from_pandas's result, without its Python
            return table
        table = pa.Table.from_pandas(df, preserve_index=False, nthreads=1)  # 1: no thread pool per call
        return table.rename_columns(cols)
    return pa.table({str(c): _series_to_arrow(df[c]) for c in df.columns})


def rows_to_table(rows: Iterable[Mapping[str, Any]], *, what: str = "map UDF") -> pa.Table:
    """A list of row dicts as a table (columns in first-seen order; missing values null).

    Example:
        >>> rows_to_table([{"a": 1}, {"a": 2, "b": "x"}]).to_pydict()
        {'a': [1, 2], 'b': [None, 'x']}
    """
    if not isinstance(rows, list):
        rows = list(rows)
    fast = columns_of_rows(rows)  # every row a dict with the same keys: what row UDFs return
    if fast is not None:
        return pa.table({k: values_to_arrow(k, v, what) for k, v in fast.items()})
    columns: dict[str, list[Any]] = {}
    n = 0
    for row in rows:
        if not isinstance(row, Mapping):
            raise UDFReturnError(f"{what} returned {describe(row)} as a row; expected a dict")
        for key in row:
            if key not in columns:
                columns[key] = [None] * n
        for key, col in columns.items():
            col.append(row.get(key))
        n += 1
    return pa.table({k: values_to_arrow(k, v, what) for k, v in columns.items()}) if columns else pa.table({})


def batch_to_table(batch: Any, *, what: str = "map_batches UDF") -> pa.Table:
    """Normalise what a UDF returned (dict of arrays, pandas, Arrow, list of rows) into a table.

    Raises:
        UDFReturnError: anything else, saying what was returned and what is expected.

    Example:
        >>> batch_to_table(3)
        Traceback (most recent call last):
        ...
        streamdata.errors.UDFReturnError: map_batches UDF returned int; expected a dict of arrays, pandas.DataFrame or pyarrow.Table
    """
    if isinstance(batch, pa.Table):
        return batch
    if isinstance(batch, pa.RecordBatch):
        return pa.Table.from_batches([batch])
    if isinstance(batch, Mapping):
        return numpy_to_table(batch, what=what)
    if type(batch).__module__.startswith("pandas") and type(batch).__name__ == "DataFrame":
        return pandas_to_table(batch)
    if isinstance(batch, list) and all(isinstance(r, Mapping) for r in batch):
        return rows_to_table(batch, what=what)
    raise UDFReturnError(f"{what} returned {describe(batch)}; {_EXPECTED}")


# --------------------------------------------------------------------------- table operations


def num_rows(batch: Batch) -> int:
    """Rows in a batch of any format.

    Example:
        >>> num_rows({"a": np.arange(3)})
        3
    """
    if isinstance(batch, Mapping):
        return len(next(iter(batch.values()))) if batch else 0
    return len(batch)


def size_bytes(table: pa.Table) -> int:
    """Bytes a block takes in memory."""
    return table.nbytes


def slice_table(table: pa.Table, start: int, end: int) -> pa.Table:
    """Rows ``[start, end)`` (zero-copy)."""
    return table.slice(start, max(0, end - start))


def split_by_size(table: pa.Table, target_max_bytes: int) -> list[pa.Table]:
    """``table`` cut into zero-copy slices of about ``target_max_bytes`` or less each.

    Example:
        >>> parts = split_by_size(pa.table({"a": np.arange(1000)}), 2000)
        >>> len(parts), sum(p.num_rows for p in parts)
        (4, 1000)
    """
    nbytes = table.nbytes
    if table.num_rows <= 1 or nbytes <= target_max_bytes or target_max_bytes <= 0:
        return [table]
    pieces = min(table.num_rows, math.ceil(nbytes / target_max_bytes))
    return split_by_count(table, pieces)


def split_by_count(table: pa.Table, pieces: int) -> list[pa.Table]:
    """``table`` cut into ``pieces`` zero-copy slices of near-equal row counts.

    Example:
        >>> [t.num_rows for t in split_by_count(pa.table({"a": range(5)}), 2)]
        [3, 2]
    """
    n = table.num_rows
    pieces = max(1, pieces)
    base, extra = divmod(n, pieces)
    out, start = [], 0
    for i in range(pieces):
        size = base + (1 if i < extra else 0)
        out.append(table.slice(start, size))
        start += size
    return out


def iter_rows(table: pa.Table) -> Iterator[dict[str, Any]]:
    """Rows of a block as dicts (tensor cells as ndarrays).

    Example:
        >>> list(iter_rows(pa.table({"a": [1, 2]})))
        [{'a': 1}, {'a': 2}]
    """
    for rows in row_chunks(table):
        yield from rows


def row_chunks(table: pa.Table, chunk_rows: int = 8192) -> Iterator[list[dict[str, Any]]]:
    """The rows of a block as lists of up to ``chunk_rows`` dicts (each column converted
    once per chunk, tensor cells as ndarrays; :func:`~streamdata.block_rows.rows_from_columns`)."""
    for start in range(0, table.num_rows, chunk_rows):
        part = table.slice(start, min(chunk_rows, table.num_rows - start))
        cols = [column_to_numpy(c) if isinstance(c.type, pa.BaseExtensionType) else c.to_pylist()
                for c in part.columns]
        yield rows_from_columns(part.column_names, cols, part.num_rows)

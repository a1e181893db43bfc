"""A pandas DataFrame as an Arrow table, exactly as ``pa.Table.from_pandas`` makes it,
without its per-column Python for the columns a ``batch_format="pandas"`` UDF returns
most: NumPy integers, unsigned integers, booleans and floats, and Arrow-backed columns
(pandas 3's ``str`` dtype, ``pd.ArrowDtype``).

``from_pandas`` (``preserve_index=False``) costs ~1.2 ms per 50k-row frame of five
columns, most of it per-column bookkeeping in ``pyarrow.pandas_compat`` (the
``pandas`` schema metadata is rebuilt on every call) and a scalar NaN → null scan of
each float column. Here the schema, metadata included, comes from ``from_pandas`` of the
frame's empty slice, cached by the columns' names and dtypes; a numeric column is
wrapped zero-copy (``pa.array`` of its ndarray), a float column's NaNs become nulls
through a vectorised ``np.isnan`` mask (``from_pandas`` semantics, as Ray's conversion
of pandas blocks has them), and an Arrow-backed column hands over its Arrow array (what
``from_pandas`` asks it for). Any other column (object, datetime, categorical, masked
integers, ...) or a type that does not match the cached schema: None, and the caller
uses ``from_pandas``.

Example:
    >>> import numpy as np, pandas as pd
    >>> t = frame_to_table(pd.DataFrame({"a": [1.0, np.nan], "n": [1, 2]}))
    >>> t.column("a").to_pylist(), t.schema.field("n").type, b"pandas" in t.schema.metadata
    ([1.0, None], DataType(int64), True)
    >>> frame_to_table(pd.DataFrame({"o": [object(), None]})) is None
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: cached schemas (a process sees few distinct frame layouts; cleared when it grows past this)
MAX_CACHED_SCHEMAS = 256

_schemas: dict[tuple[Any, ...], pa.Schema] = {}


def frame_to_table(df: pd.DataFrame) -> pa.Table | None:
    """``pa.Table.from_pandas(df, preserve_index=False)`` for frames of common columns, else None."""
    import pandas as pd

    columns = df.columns
    if type(columns) is not pd.Index or not all(type(c) is str for c in columns):
        return None  # a MultiIndex, or names from_pandas would turn into strings
    arrays: list[pa.Array | pa.ChunkedArray] = []
    dtypes = []
    for _, series in df.items():
        dtype = series.dtype
        dtypes.append(dtype)
        array = _column(series, dtype, pd)
        if array is None:
            return None
        arrays.append(array)
    key = (tuple(columns), tuple(dtypes), columns.dtype, columns.name)
    schema = _schemas.get(key)
    if schema is None:
        schema = pa.Schema.from_pandas(df.iloc[:0], preserve_index=False)
        if len(_schemas) >= MAX_CACHED_SCHEMAS:
            _schemas.clear()
        _schemas[key] = schema
    if len(schema) != len(arrays) or any(a.type != f.type for a, f in zip(arrays, schema)):
        return None
    return pa.Table.from_arrays(arrays, schema=schema)


def _column(series: Any, dtype: Any, pd: Any) -> pa.Array | pa.ChunkedArray | None:
    if isinstance(dtype, np.dtype):
        kind = dtype.kind
        if kind in "iub":
            return pa.array(series.to_numpy())
        if kind == "f" and dtype.itemsize in (4, 8):
            values = series.to_numpy()
            nan = np.isnan(values)
            return pa.array(values, mask=nan) if nan.any() else pa.array(values)
        return None
    arrow = (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow") or isinstance(dtype, pd.ArrowDtype)
    if not arrow:
        return None
    return pa.array(series.array)


def source_string_columns(table: pa.Table, dtypes: Sequence[Any]) -> pa.Table:
    """``table``, a DataFrame source's block (the frame's column dtypes are ``dtypes``), with
    each pandas ``StringDtype`` column as Arrow ``string``: the type Ray 2.60's schema gives
    it (Ray keeps the frame, and its ``Schema.types`` maps ``StringDtype`` to ``string``),
    where pandas 3's default ``str`` dtype holds ``large_string``. The cast shares the
    characters' buffer (only the offsets are rewritten; the text is not copied). A column of
    more than 2 GiB of characters stays ``large_string``: ``string``'s 32-bit offsets cannot
    address them, and splitting it would copy the text.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"s": pd.Series(["a", None], dtype="string[pyarrow]"), "n": [1, 2]})
        >>> table = pa.Table.from_pandas(df, preserve_index=False)
        >>> table.schema.field("s").type, source_string_columns(table, df.dtypes).schema.field("s").type
        (DataType(large_string), DataType(string))
    """
    import pandas as pd

    if len(dtypes) != table.num_columns:
        return table
    for i, dtype in enumerate(dtypes):
        column = table.column(i)
        if not (isinstance(dtype, pd.StringDtype) and pa.types.is_large_string(column.type)):
            continue
        try:
            narrow = column.cast(pa.string())
        except pa.ArrowInvalid:  # offsets past 2 GiB
            continue
        table = table.set_column(i, table.field(i).with_type(pa.string()), narrow)
    return table


def readable_pandas_metadata(table: pa.Table) -> pa.Table:
    """``table`` with the pandas metadata pandas itself cannot read back: a column of an Arrow
    type with parameters (``pd.ArrowDtype(pa.list_(pa.uint8(), 3))``) is named
    ``fixed_size_list<item: uint8>[3][pyarrow]`` there, which ``to_pandas`` refuses to parse;
    such a column converts as Arrow's default (object) instead. Other tables are returned as is.
    A column a pandas ``TensorArray`` made (:mod:`streamdata.extensions.pandas_tensor`) reads back as one.

    Example:
        >>> import pandas as pd
        >>> arr = pa.array([[1, 2]], pa.list_(pa.uint8(), 2))
        >>> t = pa.Table.from_pandas(pd.DataFrame({"x": pd.Series(arr, dtype=pd.ArrowDtype(arr.type))}))
        >>> readable_pandas_metadata(t).to_pandas()["x"][0].tolist()
        [1, 2]
    """
    import json

    meta = table.schema.metadata or {}
    raw = meta.get(b"pandas")
    if raw is not None and b'"TensorDtype(' in raw:  # a column made from Ray's pandas TensorArray
        import importlib

        importlib.import_module("streamdata.extensions.pandas_tensor")  # registers the dtype it names
    if raw is None or b"][pyarrow]" not in raw:  # (the common case costs a substring search)
        return table
    pandas_meta = json.loads(raw)
    changed = False
    for column in pandas_meta.get("columns", []):
        name = column.get("numpy_type") or ""
        if name.endswith("[pyarrow]") and "[" in name[:-len("[pyarrow]")]:
            column["numpy_type"] = "object"
            changed = True
    if not changed:
        return table
    return table.replace_schema_metadata({**meta, b"pandas": json.dumps(pandas_meta).encode()})


__all__ = ["MAX_CACHED_SCHEMAS", "frame_to_table", "readable_pandas_metadata", "source_string_columns"]


def pandas_types_mapper(arrow_backed: bool | None) -> Callable[[pa.DataType], Any] | None:
    """``Table.to_pandas``'s ``types_mapper``: ``pd.ArrowDtype`` for standard Arrow types when
    ``arrow_backed`` (None: the DataContext's ``enable_arrow_backed_pandas_conversion``), else
    None (NumPy dtypes). Dictionary, null and extension columns keep pyarrow's conversion.

    Example:
        >>> pandas_types_mapper(True)(pa.int64()), pandas_types_mapper(True)(pa.null()), pandas_types_mapper(False)
        (int64[pyarrow], None, None)
    """
    if arrow_backed is None:
        from streamdata.context import DataContext

        arrow_backed = DataContext.get_current().enable_arrow_backed_pandas_conversion
    return _arrow_backed_dtype if arrow_backed else None


def _arrow_backed_dtype(arrow_type: pa.DataType) -> Any:
    import pandas as pd

    if isinstance(arrow_type, pa.BaseExtensionType) or pa.types.is_dictionary(arrow_type) \
            or pa.types.is_null(arrow_type):
        return None
    return pd.ArrowDtype(arrow_type)

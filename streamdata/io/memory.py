"""In-memory datasources: ``range``, ``range_tensor``, ``from_items``, ``from_pandas``,
``from_arrow`` and ``from_numpy``.

Each converts its input to Arrow on the driver (or, for ranges, generates rows in
the read tasks) and splits the rows into about ``parallelism`` contiguous read
tasks, in order. Tensors follow :mod:`streamdata.tensor`.

Example:
    >>> src = RangeDatasource(10)
    >>> tasks = src.get_read_tasks(3)
    >>> [t.metadata.num_rows for t in tasks]
    [4, 3, 3]
    >>> [b.column("id").to_pylist() for b in tasks[2]()]
    [[7, 8, 9]]
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np
import pyarrow as pa

from streamdata.block_concat import unify_schemas
from streamdata.errors import ColumnNotFoundError, PlanError
from streamdata.block_metadata import BlockMetadata
from streamdata.block_pandas import source_string_columns
from streamdata.io.datasource import Datasource
from streamdata.read_task import ReadTask
from streamdata.io.sizing import split_evenly, split_table, target_block_sizes
from streamdata.tensor import ndarray_to_arrow
from streamdata import block

# ---------------------------------------------------------------------------- ranges


def _range_block(start: int, stop: int, column: str, shape: tuple[int, ...] | None) -> pa.Table:
    ids = np.arange(start, stop, dtype=np.int64)
    if shape is None:
        return pa.table({column: ids})
    data = np.broadcast_to(ids.reshape((-1,) + (1,) * len(shape)), (len(ids),) + shape)
    return pa.table({column: ndarray_to_arrow(np.ascontiguousarray(data))})


class _RangeReadFn:
    """Generates rows ``[start, stop)`` in blocks of ``rows_per_block`` (runs in the worker)."""

    def __init__(self, start: int, stop: int, rows_per_block: int, column: str,
                 shape: tuple[int, ...] | None) -> None:
        self.start, self.stop, self.rows_per_block = start, stop, rows_per_block
        self.column, self.shape = column, shape

    def __call__(self) -> Iterator[pa.Table]:
        if self.start >= self.stop:
            yield _range_block(0, 0, self.column, self.shape)
            return
        for lo in range(self.start, self.stop, self.rows_per_block):
            yield _range_block(lo, min(self.stop, lo + self.rows_per_block), self.column, self.shape)


class RangeDatasource(Datasource):
    """Rows ``0 .. n-1`` in column ``id`` (int64), or, with ``tensor_shape``, column ``data``
    holding for row ``i`` an int64 tensor of that shape filled with ``i`` (``range_tensor``).

    Example:
        >>> src = RangeDatasource(4, tensor_shape=(2,))
        >>> next(iter(src.get_read_tasks(1)[0]())).column("data").to_pylist()
        [[0, 0], [1, 1], [2, 2], [3, 3]]
    """

    def __init__(self, n: int, *, tensor_shape: Sequence[int] | None = None,
                 column: str | None = None) -> None:
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
            raise PlanError(f"range needs a non-negative integer, got {n!r}")
        self._n = int(n)
        self._shape = tuple(int(d) for d in tensor_shape) if tensor_shape is not None else None
        if self._shape is not None and any(d < 0 for d in self._shape):
            raise PlanError(f"tensor shape must be non-negative, got {self._shape}")
        self._column = column or ("id" if self._shape is None else "data")
        self.name = "ReadRange" if self._shape is None else "ReadRangeTensor"

    def _row_bytes(self) -> int:
        return 8 * (int(np.prod(self._shape)) if self._shape else 1)

    def schema(self) -> pa.Schema:
        return _range_block(0, 0, self._column, self._shape).schema

    def num_rows(self) -> int:
        return self._n

    def estimate_inmemory_data_size(self) -> int:
        return self._n * self._row_bytes()

    def get_read_tasks(self, parallelism: int) -> list[ReadTask]:
        _, max_bytes = target_block_sizes()
        rows_per_block = max(1, max_bytes // max(1, self._row_bytes()))
        schema = self.schema()
        tasks = []
        for start, stop in split_evenly(self._n, max(1, parallelism)):
            meta = BlockMetadata(num_rows=stop - start, size_bytes=(stop - start) * self._row_bytes(),
                                 schema=schema)
            tasks.append(ReadTask(_RangeReadFn(start, stop, rows_per_block, self._column, self._shape), meta))
        return tasks

    def supports_limit_pushdown(self) -> bool:
        return True

    def apply_limit(self, limit: int) -> "RangeDatasource":
        return RangeDatasource(min(self._n, max(0, int(limit))), tensor_shape=self._shape,
                               column=self._column)

    def __repr__(self) -> str:
        shape = f", shape={self._shape}" if self._shape is not None else ""
        return f"{self.name}(n={self._n}{shape})"


# ---------------------------------------------------------------------------- Arrow tables


class _SlicesReadFn:
    """Yields the captured table slices, split to the target block size (runs in the worker)."""

    def __init__(self, slices: list[pa.Table]) -> None:
        self.slices = slices

    def __call__(self) -> Iterator[pa.Table]:
        _, max_bytes = target_block_sizes()
        for table in self.slices:
            yield from split_table(table, max_bytes)


class ArrowTablesDatasource(Datasource):
    """Rows held in Arrow tables on the driver, read in order; the base of every ``from_*`` source.

    The tables' rows are split into about ``parallelism`` contiguous read tasks (zero-copy
    slices), never fewer than one row per task. Tables may have different schemas (one
    per input DataFrame, say); a task yields one block per table it touches.

    Example:
        >>> src = ArrowTablesDatasource([pa.table({"a": [1, 2]}), pa.table({"a": [3]})])
        >>> [b.num_rows for t in src.get_read_tasks(1) for b in t()]
        [2, 1]
    """

    name = "FromArrow"
    #: ``from_pandas``: the first frame's dtype names (Ray's summary prints them)
    pandas_dtypes: list[str] | None = None

    def __init__(self, tables: Sequence[pa.Table], *, name: str | None = None) -> None:
        tables = list(tables)
        for t in tables:
            if not isinstance(t, pa.Table):
                raise PlanError(f"expected pyarrow.Table blocks, got {type(t).__name__}")
        if not tables:
            tables = [pa.table({})]
        self._tables = tables
        if name:
            self.name = name

    @property
    def tables(self) -> list[pa.Table]:
        return list(self._tables)

    def num_rows(self) -> int:
        return sum(t.num_rows for t in self._tables)

    def estimate_inmemory_data_size(self) -> int:
        return sum(t.nbytes for t in self._tables)

    def schema(self) -> pa.Schema:
        non_empty = [t for t in self._tables if t.num_rows > 0] or self._tables
        schemas = [t.schema for t in non_empty]
        if all(s.equals(schemas[0]) for s in schemas):
            return schemas[0]
        try:
            return unify_schemas(schemas, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return schemas[0]

    def get_read_tasks(self, parallelism: int) -> list[ReadTask]:
        total = self.num_rows()
        tasks: list[ReadTask] = []
        if total == 0:
            empty = self._tables[0].slice(0, 0)
            return [ReadTask(_SlicesReadFn([empty]), BlockMetadata.of(empty))]
        offsets = np.cumsum([0] + [t.num_rows for t in self._tables])
        for start, stop in split_evenly(total, max(1, parallelism)):
            slices = []
            for i, table in enumerate(self._tables):
                lo, hi = max(start, int(offsets[i])), min(stop, int(offsets[i + 1]))
                if lo < hi:
                    slices.append(table.slice(lo - int(offsets[i]), hi - lo))
            size = sum(s.nbytes for s in slices)
            meta = BlockMetadata(num_rows=stop - start, size_bytes=size, schema=slices[0].schema)
            tasks.append(ReadTask(_SlicesReadFn(slices), meta))
        return tasks

    def supports_projection_pushdown(self) -> bool:
        return True

    def apply_projection(self, columns: list[str]) -> "ArrowTablesDatasource":
        for table in self._tables:
            for c in columns:
                if c not in table.column_names:
                    raise ColumnNotFoundError(c, table.column_names)
        return ArrowTablesDatasource([t.select(list(columns)) for t in self._tables], name=self.name)

    def supports_limit_pushdown(self) -> bool:
        return True

    def apply_limit(self, limit: int) -> "ArrowTablesDatasource":
        out, remaining = [], max(0, int(limit))
        for t in self._tables:
            if remaining <= 0:
                break
            out.append(t.slice(0, remaining))
            remaining -= out[-1].num_rows
        return ArrowTablesDatasource(out or [self._tables[0].slice(0, 0)], name=self.name)

    def __repr__(self) -> str:
        return f"{self.name}(num_rows={self.num_rows()}, tables={len(self._tables)})"


# ---------------------------------------------------------------------------- conversions


def items_to_table(items: Sequence[Any]) -> pa.Table:
    """Rows from Python items: dicts give columns (keys in first-seen order, missing → null);
    any other item becomes the single column ``item`` (as in Ray). Conversions are
    :mod:`streamdata.block`'s, so NumPy array values become tensor columns and other
    Python objects are kept (pickled) rather than refused.

    Example:
        >>> items_to_table([{"a": 1}, {"a": 2, "b": "x"}]).to_pylist()
        [{'a': 1, 'b': None}, {'a': 2, 'b': 'x'}]
        >>> items_to_table([1, 2]).column_names
        ['item']
    """

    items = list(items)
    if not items:
        return pa.table({})
    are_dicts = [isinstance(it, dict) for it in items]
    if any(are_dicts) and not all(are_dicts):
        raise PlanError("from_items: items must be all dicts or all non-dicts, got a mix")
    if all(are_dicts):
        for it in items:
            for k in it:
                if not isinstance(k, str):
                    raise PlanError(f"from_items: column names must be strings, got {k!r}")
        return block.rows_to_table(items, what="from_items")
    return block.rows_to_table(({"item": it} for it in items), what="from_items")


def pandas_to_table(df: Any) -> pa.Table:
    """A pandas DataFrame as an Arrow table (the index is dropped; ndarray cells → tensors;
    string columns are Arrow ``string``, as Ray's schema has them:
    :func:`~streamdata.block_pandas.source_string_columns`).

    Example:
        >>> import pandas as pd
        >>> pandas_to_table(pd.DataFrame({"a": [1, 2], "s": ["x", "y"]})).schema.types
        [DataType(int64), DataType(string)]
    """
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise PlanError(f"from_pandas expects pandas DataFrames, got {type(df).__name__}")
    return source_string_columns(block.pandas_to_table(df), df.dtypes)


def numpy_to_table(arr: Any, column: str = "data") -> pa.Table:
    """A NumPy array (rows along the first axis) as a one-column table.

    Example:
        >>> numpy_to_table(np.zeros((2, 3))).schema.field("data").type.shape
        [3]
    """
    if not isinstance(arr, np.ndarray):
        raise PlanError(f"from_numpy expects NumPy arrays, got {type(arr).__name__}")
    return pa.table({column: ndarray_to_arrow(arr)})


def from_items_source(items: Sequence[Any]) -> ArrowTablesDatasource:
    """Datasource for ``sd.from_items``."""
    if not isinstance(items, (list, tuple)):
        try:
            items = list(items)
        except TypeError as exc:
            raise PlanError(f"from_items expects a list, got {type(items).__name__}") from exc
    return ArrowTablesDatasource([items_to_table(items)], name="FromItems")


def from_pandas_source(dfs: Any) -> ArrowTablesDatasource:
    """Datasource for ``sd.from_pandas`` (one DataFrame or a list of them)."""
    dfs = dfs if isinstance(dfs, (list, tuple)) else [dfs]
    source = ArrowTablesDatasource([pandas_to_table(df) for df in dfs], name="FromPandas")
    if dfs:
        source.pandas_dtypes = [str(d) for d in dfs[0].dtypes]
    return source


def from_arrow_source(tables: Any) -> ArrowTablesDatasource:
    """Datasource for ``sd.from_arrow`` (a Table, RecordBatch, or a list of them)."""
    tables = tables if isinstance(tables, (list, tuple)) else [tables]
    out = []
    for t in tables:
        if isinstance(t, pa.RecordBatch):
            t = pa.Table.from_batches([t])
        if not isinstance(t, pa.Table):
            raise PlanError(f"from_arrow expects pyarrow Tables, got {type(t).__name__}")
        out.append(t)
    return ArrowTablesDatasource(out, name="FromArrow")


def from_numpy_source(arrays: Any) -> ArrowTablesDatasource:
    """Datasource for ``sd.from_numpy`` (one array or a list of them), column ``data``."""
    arrays = arrays if isinstance(arrays, (list, tuple)) else [arrays]
    return ArrowTablesDatasource([numpy_to_table(a) for a in arrays], name="FromNumpy")

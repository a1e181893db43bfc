"""Ray's ``ray.data.block`` names: ``Block``, ``BlockAccessor``, ``BlockColumnAccessor``,
``BlockMetadata``, and the type names Ray's signatures use (``T``, ``U``, ``KeyType``,
``AggType``, ``DataBatch``, ``UserDefinedFunction``, ...).

A block is a ``pyarrow.Table`` (:mod:`streamdata.block`). Code written for Ray reaches one
through ``BlockAccessor.for_block(block)`` (a custom ``Datasink.write``, a
``write_block_to_file``, an ``AggregateFnV2.aggregate_block``) and builds one with
``BlockAccessor.batch_to_block(batch)`` (a custom ``Datasource``'s read tasks); both work
here, and a pandas DataFrame is taken as a block too (converted to Arrow, so the accessor
answers with Arrow's values: ``None`` where pandas gives ``NaN``).

Example:
    >>> import pyarrow as pa
    >>> acc = BlockAccessor.for_block(pa.table({"x": [3, 1, 2]}))
    >>> acc.num_rows(), acc.slice(1, 3).to_pandas()["x"].tolist()
    (3, [1, 2])
    >>> BlockAccessor.batch_to_block({"x": [1, 2]}).num_rows
    2
    >>> list(acc.to_batch_format("numpy"))
    ['x']
    >>> acc.count("x", ignore_nulls=True), acc.sum("x", ignore_nulls=True), acc.mean("x", ignore_nulls=True)
    (3, 6, 2.0)
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from streamdata import block as B
from streamdata.block_metadata import BlockMetadata
from streamdata.errors import ColumnNotFoundError, PlanError

#: Ray's type variables (``T`` a UDF's input, ``U`` its output, ``KeyType`` a group key,
#: ``AggType`` an aggregation's accumulator), for signatures ported from Ray
T = TypeVar("T", contravariant=True)
U = TypeVar("U", covariant=True)
KeyType = TypeVar("KeyType")
AggType = TypeVar("AggType")

#: a block (Ray's union of Arrow and pandas; streamdata's blocks are Arrow tables)
Block = pa.Table
#: a block's schema
Schema = pa.Schema
#: one column of a block
BlockColumn = Union[pa.ChunkedArray, pa.Array, "pandas.Series"]  # noqa: F821
#: one column of a batch
BatchColumn = Union["pandas.Series", np.ndarray, pa.Array, pa.ChunkedArray]  # noqa: F821
#: what batch UDFs take and return
DataBatch = Union[pa.Table, "pandas.DataFrame", dict[str, np.ndarray]]  # noqa: F821
#: what column UDFs take and return
DataBatchColumn = Union[BlockColumn, np.ndarray]
#: a class that implements ``__call__`` (a callable-class UDF)
CallableClass = type


class _CallableClassProtocol(Protocol[T, U]):
    def __call__(self, __arg: T) -> U | Iterator[U]:
        ...


#: a UDF given to ``map``, ``flat_map``, ``map_batches``: a function or a callable class
UserDefinedFunction = Union[Callable[[T], U], Callable[[T], Iterator[U]], type[_CallableClassProtocol]]
#: the batch formats a UDF may ask for, and the default one (Ray's names)
VALID_BATCH_FORMATS = ["pandas", "pyarrow", "numpy", None]
DEFAULT_BATCH_FORMAT = "numpy"


class BlockType(enum.Enum):
    """The kind of a block (streamdata's blocks are all ``ARROW``)."""
    ARROW = "arrow"
    PANDAS = "pandas"


class BatchFormat(str, enum.Enum):
    """A batch format's name (``BatchFormat.NUMPY == "numpy"``)."""
    ARROW = "pyarrow"
    PANDAS = "pandas"
    NUMPY = "numpy"


class BlockColumnAccessor:
    """One column of a block, with Ray's column aggregations (Arrow compute underneath;
    ``as_py=False`` gives the Arrow scalar).

    Example:
        >>> col = BlockColumnAccessor.for_column(pa.array([1, None, 3]))
        >>> col.count(ignore_nulls=True), col.count(ignore_nulls=False), col.sum(ignore_nulls=False)
        (2, 3, None)
        >>> col.sum_of_squared_diffs_from_mean(ignore_nulls=True)
        2.0
    """

    def __init__(self, col: pa.Array | pa.ChunkedArray) -> None:
        self._column = col

    @staticmethod
    def for_column(col: Any) -> BlockColumnAccessor:
        """The accessor of an Arrow array (chunked or not) or a pandas Series (converted to Arrow).

        Raises:
            TypeError: anything else, naming its type.
        """
        if isinstance(col, (pa.Array, pa.ChunkedArray)):
            return BlockColumnAccessor(col)
        if type(col).__module__.startswith("pandas") and type(col).__name__ == "Series":
            return BlockColumnAccessor(B._series_to_arrow(col))
        raise TypeError(f"Expected either a pandas.Series or pyarrow.Array (ChunkedArray) (got {type(col)})")

    @staticmethod
    def _out(result: pa.Scalar, as_py: bool) -> Any:
        return result.as_py() if as_py else result

    def count(self, *, ignore_nulls: bool, as_py: bool = True) -> Any:
        """Rows (non-null ones with ``ignore_nulls``); 0 for an empty column."""
        return self._out(pc.count(self._column, mode="only_valid" if ignore_nulls else "all"), as_py)

    def sum(self, *, ignore_nulls: bool, as_py: bool = True) -> Any:
        """The sum; None for an empty or all-null column, or a null when nulls are not ignored."""
        return self._out(pc.sum(self._column, skip_nulls=ignore_nulls), as_py)

    def min(self, *, ignore_nulls: bool, as_py: bool = True) -> Any:
        """The smallest value (None as :meth:`sum`)."""
        return self._out(pc.min(self._column, skip_nulls=ignore_nulls), as_py)

    def max(self, *, ignore_nulls: bool, as_py: bool = True) -> Any:
        """The largest value (None as :meth:`sum`)."""
        return self._out(pc.max(self._column, skip_nulls=ignore_nulls), as_py)

    def mean(self, *, ignore_nulls: bool, as_py: bool = True) -> Any:
        """The mean (None as :meth:`sum`)."""
        return self._out(pc.mean(self._column, skip_nulls=ignore_nulls), as_py)

    def sum_of_squared_diffs_from_mean(self, ignore_nulls: bool, mean: Any = None, as_py: bool = True) -> Any:
        """Σ(x - mean)², the mean computed unless given; None where the mean is None."""
        if mean is None:
            mean = self.mean(ignore_nulls=ignore_nulls)
        if mean is None:
            return None
        return self._out(pc.sum(pc.power(pc.subtract(self._column, mean), 2), skip_nulls=ignore_nulls), as_py)

    def quantile(self, *, q: float, ignore_nulls: bool, as_py: bool = True) -> Any:
        """The ``q`` quantile (linear interpolation)."""
        return self._out(pc.quantile(self._column, q=q, skip_nulls=ignore_nulls)[0], as_py)

    def unique(self) -> pa.Array:
        """The distinct values, in first-seen order."""
        return pc.unique(self._column)

    def value_counts(self) -> dict[str, list[Any]] | None:
        """``{"values": [...], "counts": [...]}``, or None for an empty column."""
        counts = pc.value_counts(self._column)
        if len(counts) == 0:
            return None
        return {"values": counts.field("values").to_pylist(), "counts": counts.field("counts").to_pylist()}

    def flatten(self) -> pa.Array | pa.ChunkedArray:
        """A list column's items, one level down."""
        return pc.list_flatten(self._column)

    def dropna(self) -> pa.Array | pa.ChunkedArray:
        """The column without its nulls."""
        return pc.drop_null(self._column)

    def is_composed_of_lists(self) -> bool:
        return isinstance(self._column.type, (pa.ListType, pa.LargeListType))

    def to_pylist(self) -> list[Any]:
        return self._column.to_pylist()

    def to_numpy(self, zero_copy_only: bool = False) -> np.ndarray:
        return B.column_to_numpy(self._column, zero_copy=zero_copy_only)


class BlockAccessor:
    """A block seen through Ray's accessor: its rows, its batch formats, slices."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table

    @staticmethod
    def for_block(block: Any) -> BlockAccessor:
        """The accessor of ``block`` (a ``pyarrow.Table`` or a pandas DataFrame).

        Raises:
            TypeError: anything else, naming its type.
        """
        if isinstance(block, BlockAccessor):
            return block
        if isinstance(block, pa.Table):
            return BlockAccessor(block)
        if type(block).__name__ == "DataFrame":
            return BlockAccessor(B.pandas_to_table(block))
        raise TypeError(f"BlockAccessor.for_block: a block is a pyarrow.Table or a pandas.DataFrame, got "
                        f"{type(block).__name__}")

    @staticmethod
    def batch_to_block(batch: Any, block_type: Any = None) -> pa.Table:
        """A block from a batch (a dict of arrays or lists, a pandas DataFrame, an Arrow table);
        ``block_type`` is accepted for Ray's signature (blocks are Arrow tables here)."""
        if isinstance(batch, dict):
            batch = {name: values if hasattr(values, "__array__") else list(values) for name, values in batch.items()}
        return B.batch_to_table(batch, what="BlockAccessor.batch_to_block")

    def num_rows(self) -> int:
        return self._table.num_rows

    def size_bytes(self) -> int:
        return self._table.nbytes

    def schema(self) -> pa.Schema:
        return self._table.schema

    def iter_rows(self, public_row_format: bool = True) -> Iterator[dict[str, Any]]:
        return B.iter_rows(self._table)

    def slice(self, start: int, end: int, copy: bool = False) -> pa.Table:
        """Rows ``start`` to ``end`` (exclusive)."""
        return self._table.slice(start, max(0, end - start))

    def take(self, indices: Sequence[int]) -> pa.Table:
        return self._table.take(pa.array(indices, pa.int64()))

    def select(self, columns: Sequence[str]) -> pa.Table:
        return self._table.select(list(columns))

    def random_shuffle(self, random_seed: int | None) -> pa.Table:
        import numpy as np

        return self._table.take(np.random.default_rng(random_seed).permutation(self._table.num_rows))

    def to_arrow(self) -> pa.Table:
        return self._table

    def to_block(self) -> pa.Table:
        return self._table

    def to_default(self) -> pa.Table:
        return self._table

    def to_pandas(self) -> Any:
        return B.to_pandas(self._table)

    def to_numpy(self, columns: str | Sequence[str] | None = None) -> Any:
        table = self._table if columns is None else self._table.select(
            [columns] if isinstance(columns, str) else list(columns))
        out = B.to_numpy(table)
        return out[columns] if isinstance(columns, str) else out

    def to_batch_format(self, batch_format: str | None) -> Any:
        """The block as a batch (``"numpy"``/``"default"``, ``"pandas"``, ``"pyarrow"``)."""
        return B.to_batch(self._table, batch_format)

    def get_metadata(self, input_files: Sequence[str] | None = None, exec_stats: Any = None) -> BlockMetadata:
        return BlockMetadata.of(self._table, input_files or ())

    def block_type(self) -> BlockType:
        return BlockType.ARROW

    def column_names(self) -> list[str]:
        return self._table.column_names

    def drop(self, columns: Sequence[str]) -> pa.Table:
        """The block without ``columns``."""
        return self._table.drop_columns(list(columns))

    def rename_columns(self, columns_rename: Mapping[str, str]) -> pa.Table:
        """The block with columns renamed (``{old: new}``)."""
        return self._table.rename_columns(dict(columns_rename))

    def upsert_column(self, column_name: str, column_data: Any) -> pa.Table:
        """The block with ``column_name`` set to ``column_data`` (replaced, or appended last)."""
        if not isinstance(column_data, (pa.Array, pa.ChunkedArray)):
            column_data = B._column_to_arrow(column_name, column_data, "BlockAccessor.upsert_column")
        idx = self._table.schema.get_field_index(column_name)
        if idx == -1:
            return self._table.append_column(column_name, column_data)
        return self._table.set_column(idx, column_name, column_data)

    # ------------------------------------------------------------------ aggregations (Ray's semantics)

    def _column(self, on: str) -> BlockColumnAccessor:
        if on is None:
            raise PlanError(f"Provided `on` value has to be non-null (got {on!r})")
        if on not in self._table.column_names:
            raise ColumnNotFoundError(on, self._table.column_names, where="BlockAccessor")
        return BlockColumnAccessor(self._table.column(on))

    def count(self, on: str, ignore_nulls: bool = False) -> Any:
        """Rows of column ``on`` (non-null ones with ``ignore_nulls``); 0 for an empty block.

        Raises:
            ColumnNotFoundError: ``on`` is not a column (a ``KeyError`` and a ``ValueError``).
        """
        return self._column(on).count(ignore_nulls=ignore_nulls)

    def sum(self, on: str, ignore_nulls: bool) -> Any:
        """The sum of column ``on``: None on an empty block or an all-null column, and where
        nulls are not ignored and there is one."""
        return self._column(on).sum(ignore_nulls=ignore_nulls)

    def min(self, on: str, ignore_nulls: bool) -> Any:
        """The smallest value of column ``on`` (None as :meth:`sum`)."""
        return self._column(on).min(ignore_nulls=ignore_nulls)

    def max(self, on: str, ignore_nulls: bool) -> Any:
        """The largest value of column ``on`` (None as :meth:`sum`)."""
        return self._column(on).max(ignore_nulls=ignore_nulls)

    def mean(self, on: str, ignore_nulls: bool) -> Any:
        """The mean of column ``on`` (None as :meth:`sum`)."""
        return self._column(on).mean(ignore_nulls=ignore_nulls)

    def sum_of_squared_diffs_from_mean(self, on: str, ignore_nulls: bool, mean: Any = None) -> Any:
        """Σ(x - mean)² over column ``on`` (the block's mean unless ``mean`` is given; None as :meth:`sum`)."""
        return self._column(on).sum_of_squared_diffs_from_mean(ignore_nulls=ignore_nulls, mean=mean)


__all__ = ["AggType", "BatchColumn", "BatchFormat", "Block", "BlockAccessor", "BlockColumn", "BlockColumnAccessor",
           "BlockMetadata", "BlockType", "CallableClass", "DEFAULT_BATCH_FORMAT", "DataBatch", "DataBatchColumn",
           "KeyType", "Schema", "T", "U", "UserDefinedFunction", "VALID_BATCH_FORMATS"]

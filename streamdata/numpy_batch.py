"""The ``"numpy"`` batch format: a dict of ndarrays whose columns leave Arrow when first read.

A UDF (``map_batches``) or a consumer (``iter_batches``) gets a :class:`NumpyBatch`: a real
``dict`` of column name → ndarray, as Ray gives. A column is converted from the block's
Arrow data the first time it is read and kept; a column never read is never converted —
for a string column that saves building one Python object per row, and back again when
the UDF returns the batch: :func:`arrow_columns_of` hands the untouched Arrow columns back
to the block builder as they were.

Every way of reading a dict goes through the conversion: indexing, ``get``, ``values``,
``items``, ``pop``, ``copy`` (a plain dict), ``dict(batch)``, ``{**batch}``, pickling and
``repr``.

Example:
    >>> import pyarrow as pa
    >>> batch = NumpyBatch(pa.table({"a": [1, 2], "s": ["x", "y"]}),
    ...                    lambda col: col.to_numpy(zero_copy_only=False))
    >>> isinstance(batch, dict), list(batch)
    (True, ['a', 's'])
    >>> batch["a"] * 2
    array([2, 4])
    >>> sorted(name for name, _ in arrow_columns_of(batch))  # "s" was never read
    ['s']
    >>> {k: v.tolist() for k, v in batch.items()}
    {'a': [1, 2], 's': ['x', 'y']}
"""

from __future__ import annotations

from collections.abc import Callable, ItemsView, Iterator, ValuesView
from typing import Any

import pyarrow as pa


class _Pending:
    """What a column not yet converted holds inside the dict (never handed out)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<column not yet converted from Arrow>"


_PENDING = _Pending()
_MISSING = object()


class NumpyBatch(dict):  # type: ignore[type-arg]
    """A dict of ndarrays over an Arrow table, each column converted on first read.

    Args:
        table: the block.
        convert: Arrow column → ndarray (the batch format's conversion).
    """

    __slots__ = ("_table", "_convert")

    def __init__(self, table: pa.Table, convert: Callable[[Any], Any]) -> None:
        super().__init__(dict.fromkeys(table.column_names, _PENDING))
        self._table = table
        self._convert = convert

    def _load(self, key: str, value: Any) -> Any:
        if value is _PENDING:
            value = self._convert(self._table.column(key))
            dict.__setitem__(self, key, value)
        return value

    def _arrow(self) -> pa.Table:
        """The batch's rows as the Arrow table they came from."""
        return self._table

    def __getitem__(self, key: str) -> Any:
        return self._load(key, dict.__getitem__(self, key))

    def get(self, key: str, default: Any = None) -> Any:
        value = dict.get(self, key, _MISSING)
        return default if value is _MISSING else self._load(key, value)

    def __iter__(self) -> Iterator[str]:
        # overriding __iter__ makes dict(batch), {**batch} and f(**batch) read through
        # keys() and __getitem__ instead of the raw entries
        return dict.__iter__(self)

    def values(self) -> ValuesView[Any]:  # type: ignore[override]
        return ValuesView(self)

    def items(self) -> ItemsView[str, Any]:  # type: ignore[override]
        return ItemsView(self)

    def pop(self, key: str, *default: Any) -> Any:
        if dict.__contains__(self, key):
            value = self[key]
            dict.pop(self, key)
            return value
        if default:
            return default[0]
        raise KeyError(key)

    def popitem(self) -> tuple[str, Any]:
        key = next(reversed(list(dict.keys(self))))
        return key, self.pop(key)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if dict.__contains__(self, key):
            return self[key]
        dict.__setitem__(self, key, default)
        return default

    def copy(self) -> dict[str, Any]:  # type: ignore[override]
        """A plain dict of every column (all converted)."""
        return {key: self[key] for key in dict.keys(self)}

    def __or__(self, other: Any) -> dict[str, Any]:  # type: ignore[override]
        out = self.copy()
        out.update(other)
        return out

    def __ror__(self, other: Any) -> dict[str, Any]:  # type: ignore[override]
        out = dict(other)
        out.update(self.copy())
        return out

    def __eq__(self, other: object) -> bool:
        return self.copy() == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self.copy())

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (self.copy(),))


def arrow_columns_of(batch: Any) -> list[tuple[str, Any]]:
    """The columns of ``batch`` (a :class:`NumpyBatch`) that were never read, as Arrow.

    Empty for any other object.
    """
    if not isinstance(batch, NumpyBatch):
        return []
    table = batch._arrow()
    return [(key, table.column(key)) for key, value in dict.items(batch) if value is _PENDING]


def raw_items(batch: Any) -> list[tuple[str, Any]]:
    """``(name, value)`` of every column, untouched columns of a :class:`NumpyBatch` as
    their Arrow column (no conversion), in the batch's order.

    Example:
        >>> [(k, type(v).__name__) for k, v in raw_items({"a": 1})]
        [('a', 'int')]
    """
    if not isinstance(batch, NumpyBatch):
        return list(batch.items())
    table = batch._arrow()
    return [(key, table.column(key) if value is _PENDING else value)
            for key, value in dict.items(batch)]


class NumpySegment:
    """Consecutive rows of a block whose columns are converted once, on first read, for
    all the batches that are slices of it (:class:`SlicedNumpyBatch`).

    Args:
        table: the rows.
        convert: Arrow column → ndarray.

    Example:
        >>> seg = NumpySegment(pa.table({"a": [1, 2, 3, 4]}), lambda c: c.to_numpy())
        >>> [b["a"].tolist() for b in (seg.batch(0, 2), seg.batch(2, 4))]
        [[1, 2], [3, 4]]
    """

    __slots__ = ("table", "_convert", "_arrays", "template")

    def __init__(self, table: pa.Table, convert: Callable[[Any], Any]) -> None:
        self.table = table
        self._convert = convert
        self._arrays: dict[str, Any] = {}
        #: every column pending: what each batch's dict starts as (copied in C)
        self.template = dict.fromkeys(table.column_names, _PENDING)

    def array(self, key: str) -> Any:
        """Column ``key`` of the whole segment, converted (once)."""
        out = self._arrays.get(key)
        if out is None:
            out = self._arrays[key] = self._convert(self.table.column(key))
        return out

    def batch(self, start: int, stop: int) -> SlicedNumpyBatch:
        """Rows ``[start, stop)`` as a batch."""
        return SlicedNumpyBatch(self, start, stop)


class SlicedNumpyBatch(NumpyBatch):
    """A :class:`NumpyBatch` of rows ``[start, stop)`` of a :class:`NumpySegment`: a column
    read is a slice (a view) of the segment's converted column."""

    __slots__ = ("_segment", "_start", "_stop")

    def __init__(self, segment: NumpySegment, start: int, stop: int) -> None:  # noqa: D107
        dict.__init__(self, segment.template)
        self._table = None
        self._convert = None
        self._segment = segment
        self._start = start
        self._stop = stop

    def _load(self, key: str, value: Any) -> Any:
        if value is _PENDING:
            value = self._segment.array(key)[self._start:self._stop]
            dict.__setitem__(self, key, value)
        return value

    def _arrow(self) -> pa.Table:
        if self._table is None:
            self._table = self._segment.table.slice(self._start, self._stop - self._start)
        return self._table


__all__ = ["NumpyBatch", "NumpySegment", "SlicedNumpyBatch", "arrow_columns_of", "raw_items"]

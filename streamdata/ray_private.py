"""The names of Ray's private ``ray.data._internal`` that Ray's own documentation imports.

Ray's guides tell users to import four private names: ``is_null`` (``_internal.util``, in the
custom-aggregation guide), ``DelegatingBlockBuilder`` (``_internal.delegating_block_builder``, in
the custom-datasource example), ``RangeDatasource`` (``_internal.datasource.range_datasource``,
in ``read_datasource``'s docstring) and ``cached_remote_fn`` (``_internal.remote_fn``, in the
older MongoDB custom-datasource example). They are answered at those paths under
``streamdata.data._internal``; the rest of Ray's private package is not provided.

Example:
    >>> from streamdata.data._internal.delegating_block_builder import DelegatingBlockBuilder
    >>> builder = DelegatingBlockBuilder()
    >>> builder.add({"x": 1}); builder.add({"x": 2})
    >>> builder.build().to_pydict()
    {'x': [1, 2]}
    >>> from streamdata.data._internal.util import is_null
    >>> is_null(None), is_null(float("nan")), is_null(0)
    (True, True, False)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Sequence

import pyarrow as pa

from streamdata.block import batch_to_table, rows_to_table, size_bytes
from streamdata.block_concat import concat
from streamdata.io import memory

__all__ = ["DelegatingBlockBuilder", "RangeDatasource", "cached_remote_fn", "is_null"]

_CACHED_FUNCTIONS: dict[tuple[Any, Any], Any] = {}


def is_null(value: Any) -> bool:
    """True for ``None`` and NaN (a float, or a numpy floating scalar), False otherwise."""
    if value is None:
        return True
    try:
        return math.isnan(value)
    except (TypeError, ValueError, OverflowError):  # not a real number: strings, lists, ...
        return False


class DelegatingBlockBuilder:
    """Builds one block (an Arrow table) from rows, batches and blocks, in the order added.

    Example:
        >>> import pyarrow as pa
        >>> builder = DelegatingBlockBuilder()
        >>> builder.add_block(pa.table({"x": [0]}))
        >>> builder.add({"x": 1})
        >>> builder.add_batch({"x": [2, 3]})
        >>> builder.num_rows(), builder.build().column("x").to_pylist()
        (4, [0, 1, 2, 3])
    """

    def __init__(self) -> None:
        self._tables: list[pa.Table] = []
        self._rows: list[Mapping[str, Any]] = []

    def add(self, item: Mapping[str, Any]) -> None:
        """Add one row (a dict of column name to value)."""
        if not isinstance(item, Mapping):
            raise TypeError(f"DelegatingBlockBuilder.add() takes a row as a dict, got {type(item).__name__}")
        self._rows.append(item)

    def add_batch(self, batch: Any) -> None:
        """Add a batch in any batch format (dict of arrays, pandas DataFrame, Arrow table)."""
        self.add_block(batch_to_table(batch, what="DelegatingBlockBuilder.add_batch()"))

    def add_block(self, block: Any) -> None:
        """Add a block (an Arrow table, or a pandas DataFrame)."""
        self._flush_rows()
        table = block if isinstance(block, pa.Table) else batch_to_table(block, what="DelegatingBlockBuilder.add_block()")
        self._tables.append(table)

    def build(self, *, additional_blocks: Sequence[Any] = ()) -> pa.Table:
        """The block of everything added (then ``additional_blocks``); an empty table if nothing was."""
        for block in additional_blocks:
            self.add_block(block)
        self._flush_rows()
        non_empty = [t for t in self._tables if t.num_rows] or self._tables[-1:]
        return concat(non_empty) if non_empty else pa.table({})

    def num_rows(self) -> int:
        return sum(t.num_rows for t in self._tables) + len(self._rows)

    def get_estimated_memory_usage(self) -> int:
        """Bytes of the blocks added so far; rows not yet converted count from their conversion."""
        self._flush_rows()
        return sum(size_bytes(t) for t in self._tables)

    def _flush_rows(self) -> None:
        if self._rows:
            self._tables.append(rows_to_table(self._rows, what="DelegatingBlockBuilder.add()"))
            self._rows = []


class RangeDatasource(memory.RangeDatasource):
    """Ray's ``RangeDatasource`` signature over streamdata's range source.

    ``block_format`` is ``"arrow"`` (or ``"pandas"``: the same rows; streamdata's blocks are Arrow)
    for column ``id``, or ``"tensor"`` for column ``data`` of ``tensor_shape`` tensors;
    ``column_name`` renames the column.

    Example:
        >>> import streamdata as sd
        >>> sd.read_datasource(RangeDatasource(n=3)).take_all()
        [{'id': 0}, {'id': 1}, {'id': 2}]
    """

    def __init__(self, n: int, block_format: str = "arrow", tensor_shape: tuple = (1,),
                 column_name: str | None = None) -> None:
        if block_format not in ("arrow", "pandas", "tensor"):
            raise ValueError(f"RangeDatasource block_format must be 'arrow', 'pandas' or 'tensor', "
                             f"got {block_format!r}")
        super().__init__(n, tensor_shape=tensor_shape if block_format == "tensor" else None, column=column_name)


def _hashable(value: Any, what: str) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v, what) for v in value)
    if isinstance(value, Mapping):
        return tuple(sorted(((k, _hashable(v, what)) for k, v in value.items()), key=lambda kv: kv[0]))
    try:
        hash(value)
    except TypeError:
        raise TypeError(f"cached_remote_fn: the remote argument {what!r} must be hashable (pass values that "
                        f"change per call with .options(...)), got {type(value).__name__}") from None
    return value


def cached_remote_fn(fn: Any, **ray_remote_args: Any) -> Any:
    """``streamdata.remote(**ray_remote_args)(fn)``, made once per function and arguments.

    Per-call options go through ``.options(...)`` on the result, as in Ray (whose cache also
    sets its own retry defaults; here the task options are the caller's and streamdata's defaults).

    Example:
        >>> def double(x):
        ...     return 2 * x
        >>> cached_remote_fn(double) is cached_remote_fn(double)
        True
        >>> cached_remote_fn(double, num_cpus=1) is cached_remote_fn(double)
        False
    """
    if not callable(fn):
        raise TypeError(f"cached_remote_fn: fn must be a function, got {type(fn).__name__}")
    key = (fn, tuple((k, _hashable(v, k)) for k, v in sorted(ray_remote_args.items())))
    if key not in _CACHED_FUNCTIONS:
        import streamdata  # the package (not at module level: it imports this module's callers)

        _CACHED_FUNCTIONS[key] = streamdata.remote(**ray_remote_args)(fn) if ray_remote_args else streamdata.remote(fn)
    return _CACHED_FUNCTIONS[key]

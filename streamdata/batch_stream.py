"""Batches of exactly ``batch_size`` rows from a stream of blocks, converted a segment at a time.

``iter_batches`` hands out many batches per block. Converting each one on its own (an Arrow
slice, then ``to_pandas``, ``to_numpy`` or a torch tensor per column) costs a fixed
overhead per batch that, for the usual batch sizes, is larger than the conversion itself.
Here a block's run of whole batches is converted once per *segment* (up to
:data:`SEGMENT_BYTES` of the block, never across a chunk boundary of its columns, so that
fixed-width columns stay zero-copy views), and each batch is a slice of the converted
segment: a numpy view, a pandas ``iloc`` slice (copy-on-write, so writing to one batch never
shows in another), a tensor view. A batch that spans two blocks is assembled in Arrow and
converted on its own, as every batch was before.

The batches are the same as cutting the concatenated stream every ``batch_size`` rows: exact
sizes, the last one shorter (dropped with ``drop_last``); ``batch_size=None`` gives one
batch per block.

Part of the facade (used by :mod:`streamdata.iterator`); imports only base modules.

Example:
    >>> import pyarrow as pa
    >>> blocks = [pa.table({"x": list(range(5))}), pa.table({"x": list(range(5, 12))})]
    >>> [b["x"].tolist() for b in format_batches(iter(blocks), formatter_for("numpy"), batch_size=4)]
    [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    >>> [len(b) for b in format_batches(iter(blocks), formatter_for("pandas"), batch_size=5, drop_last=True)]
    [5, 5]
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from streamdata import block as B
from streamdata.numpy_batch import NumpyBatch, NumpySegment

#: how much of a block (Arrow bytes) is converted at once for the batches cut from it
SEGMENT_BYTES = 4 * 1024 * 1024

Cut = Callable[[int, int], Any]


class ArrowFormatter:
    """Batches as ``pyarrow.Table`` (zero-copy slices of the block)."""

    #: whether segments stop at chunk boundaries (where the conversion of a fixed-width
    #: column is a view rather than a copy)
    chunk_aligned = False

    def one(self, table: pa.Table) -> Any:
        """``table`` as one batch."""
        return table

    def segment(self, table: pa.Table) -> Cut:
        """A converted segment: ``cut(start, stop)`` is the batch of its rows ``[start, stop)``."""
        return lambda start, stop: table.slice(start, stop - start)


class NumpyFormatter(ArrowFormatter):
    """Batches as dicts of ndarrays whose columns are converted when first read
    (:mod:`streamdata.numpy_batch`); ``zero_copy``: views of Arrow's memory where possible."""

    chunk_aligned = True

    def __init__(self, *, zero_copy: bool = True) -> None:
        self._convert = lambda column: B.column_to_numpy(column, zero_copy)

    def one(self, table: pa.Table) -> Any:
        return NumpyBatch(table, self._convert)

    def segment(self, table: pa.Table) -> Cut:
        return NumpySegment(table, self._convert).batch


def pandas_copy_on_write() -> bool:
    """Whether pandas copies a slice's data before writing to it (pandas 3 always; pandas 2
    with ``mode.copy_on_write``): only then may batches be slices of one DataFrame.

    Example:
        >>> isinstance(pandas_copy_on_write(), bool)
        True
    """
    import pandas as pd

    if int(pd.__version__.split(".")[0]) >= 3:
        return True
    try:
        return pd.get_option("mode.copy_on_write") is True
    except (KeyError, ValueError):  # pragma: no cover - pandas without the option
        return False


class PandasFormatter(ArrowFormatter):
    """Batches as ``pandas.DataFrame`` (each with its own ``RangeIndex`` from 0)."""

    def __init__(self) -> None:
        import pandas as pd

        self._pd = pd
        self._slices = pandas_copy_on_write()

    def one(self, table: pa.Table) -> Any:
        return B.to_pandas(table)

    def segment(self, table: pa.Table) -> Cut:
        if not self._slices:  # slices of one frame would share writes: convert each batch
            return lambda start, stop: B.to_pandas(table.slice(start, stop - start))
        frame = B.to_pandas(table)
        range_index = self._pd.RangeIndex

        def cut(start: int, stop: int) -> Any:
            out = frame.iloc[start:stop]
            out.index = range_index(stop - start)
            return out

        return cut


class TorchFormatter(ArrowFormatter):
    """Batches as dicts of ``torch.Tensor`` (string and object columns stay ndarrays).

    A segment's columns are converted to ndarrays once (views of Arrow's memory where
    possible); each batch's tensors are made from slices of them. Tensors never share the
    object store's read-only memory (writing to a batch must not fault, nor change the
    data for anyone else): a read-only slice is copied, per batch, which keeps the copies
    small enough to reuse the allocator's memory.

    Args:
        torch: the torch module.
        dtypes: one torch dtype for every column, a dict column → dtype, or None.
        device: a ``torch.device``.
        pin: stage tensors in page-locked memory before moving them to the device.
    """

    chunk_aligned = True

    def __init__(self, torch: Any, dtypes: Any, device: Any, *, pin: bool = False) -> None:
        self._as_tensor = torch.as_tensor
        self._dtypes = dtypes
        self._device = device if device.type != "cpu" else None
        self._pin = pin

    def _columns(self, table: pa.Table) -> list[tuple[str, np.ndarray, Any]]:
        """(name, ndarray, dtype or None; ``False`` for a column that stays an ndarray).

        A list column whose rows are numeric lists of one length becomes one ``(rows, length)``
        array, as in Ray; strings, ragged lists and other objects have no tensor form."""
        dtypes = self._dtypes
        out = []
        for name, values in B.to_numpy(table, zero_copy=True).items():
            if values.dtype == object:
                values = _stacked(values)
            if values.dtype == object or values.dtype.kind in "USO":
                out.append((name, values, False))
            else:
                out.append((name, values, dtypes.get(name) if isinstance(dtypes, dict) else dtypes))
        return out

    def _batch(self, columns: list[tuple[str, np.ndarray, Any]], start: int, stop: int | None) -> dict[str, Any]:
        as_tensor = self._as_tensor
        out: dict[str, Any] = {}
        for name, values, dtype in columns:
            if stop is not None:
                values = values[start:stop]
            if dtype is False:
                out[name] = values
                continue
            if not values.flags.writeable:
                values = values.copy()  # torch wants writable memory
            tensor = as_tensor(values)
            if dtype is not None:
                tensor = tensor.to(dtype)
            if self._pin:
                tensor = tensor.pin_memory()
            out[name] = tensor if self._device is None else tensor.to(self._device, non_blocking=self._pin)
        return out

    def one(self, table: pa.Table) -> Any:
        return self._batch(self._columns(table), 0, None)

    def segment(self, table: pa.Table) -> Cut:
        columns = self._columns(table)
        return lambda start, stop: self._batch(columns, start, stop)


def formatter_for(batch_format: str | None, *, zero_copy: bool = True) -> ArrowFormatter:
    """The formatter of a batch format (``"numpy"``/``"default"``, ``"pandas"``, ``"pyarrow"``).

    Example:
        >>> type(formatter_for("default")).__name__
        'NumpyFormatter'
    """
    fmt = B.normalize_batch_format(batch_format)
    if fmt == "numpy":
        return NumpyFormatter(zero_copy=zero_copy)
    if fmt == "pandas":
        return PandasFormatter()
    return ArrowFormatter()


def _chunk_ends(table: pa.Table) -> list[int]:
    """Row offsets where the chunks of ``table``'s first column end."""
    if table.num_columns == 0:
        return [table.num_rows]
    column = table.column(0)
    if column.num_chunks <= 1:
        return [table.num_rows]
    return list(itertools.accumulate(len(chunk) for chunk in column.chunks))


def _whole_batch_groups(table: pa.Table, pos: int, count: int, batch_size: int,
                        formatter: ArrowFormatter) -> Iterator[list[Any]]:
    """``count`` batches of ``table`` from row ``pos`` on, converted a segment at a time; one
    list per segment (a batch converted on its own is a list of one)."""
    per_segment = max(1, SEGMENT_BYTES * table.num_rows // max(1, table.nbytes * batch_size))
    if per_segment == 1:
        for i in range(count):
            yield [formatter.one(table.slice(pos + i * batch_size, batch_size))]
        return
    ends = _chunk_ends(table) if formatter.chunk_aligned else [table.num_rows]
    chunk = 0
    while count:
        while ends[chunk] <= pos:
            chunk += 1
        # the batches that lie in this chunk (a batch across a chunk boundary: on its own)
        k = min(max(1, (ends[chunk] - pos) // batch_size), per_segment, count)
        if k == 1:
            yield [formatter.one(table.slice(pos, batch_size))]
        else:
            cut = formatter.segment(table.slice(pos, k * batch_size))
            yield [cut(i * batch_size, (i + 1) * batch_size) for i in range(k)]
        pos += k * batch_size
        count -= k


def format_batches(tables: Iterator[pa.Table], formatter: ArrowFormatter, *, batch_size: int | None,
                   drop_last: bool = False) -> Iterator[Any]:
    """Batches of exactly ``batch_size`` rows of the stream (the last may be shorter unless
    ``drop_last``; None: one batch per non-empty block), made by ``formatter``.

    Raises:
        ValueError: ``batch_size`` is not a positive int or None.

    Example:
        >>> import pyarrow as pa
        >>> blocks = iter([pa.table({"x": [1, 2, 3]}), pa.table({"x": [4]})])
        >>> [t.num_rows for t in format_batches(blocks, ArrowFormatter(), batch_size=2)]
        [2, 2]
    """
    for group in format_batch_groups(tables, formatter, batch_size=batch_size, drop_last=drop_last):
        yield from group


def format_batch_groups(tables: Iterator[pa.Table], formatter: ArrowFormatter, *,
                        batch_size: int | None, drop_last: bool = False) -> Iterator[list[Any]]:
    """The batches of :func:`format_batches`, in lists: the batches of one converted
    segment together (at most :data:`SEGMENT_BYTES` of the block each), every other batch
    alone. A prefetch thread hands a list to the consumer in one step instead of one
    step per batch (for zero-copy formats a segment's batches are views: making them
    together costs no memory).

    Raises:
        ValueError: ``batch_size`` is not a positive int or None.

    Example:
        >>> import pyarrow as pa
        >>> blocks = iter([pa.table({"x": list(range(10))}), pa.table({"x": [10]})])
        >>> [[len(b["x"]) for b in group]
        ...  for group in format_batch_groups(blocks, formatter_for("numpy"), batch_size=3)]
        [[3, 3, 3], [2]]
    """
    if batch_size is not None and (isinstance(batch_size, bool) or batch_size <= 0):
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}")
    if batch_size is None:
        for table in tables:
            if table.num_rows:
                yield [formatter.one(table)]
        return
    carry: list[pa.Table] = []  # rows of the next batch, from earlier blocks
    carry_rows = 0
    for table in tables:
        rows = table.num_rows
        if not rows:
            continue
        pos = 0
        if carry_rows:
            need = batch_size - carry_rows
            if rows < need:
                carry.append(table)
                carry_rows += rows
                continue
            carry.append(table.slice(0, need))
            yield [formatter.one(B.concat(carry))]
            carry, carry_rows, pos = [], 0, need
        whole = (rows - pos) // batch_size
        if whole:
            yield from _whole_batch_groups(table, pos, whole, batch_size, formatter)
            pos += whole * batch_size
        if pos < rows:
            carry, carry_rows = [table.slice(pos)], rows - pos
    if carry_rows and not drop_last:
        yield [formatter.one(B.concat(carry))]


__all__ = ["SEGMENT_BYTES", "ArrowFormatter", "NumpyFormatter", "PandasFormatter", "TorchFormatter",
           "format_batch_groups", "format_batches", "formatter_for", "pandas_copy_on_write"]


def _stacked(values: np.ndarray) -> np.ndarray:
    """An object column of equal-shape numeric ndarrays (a list column's rows) as one stacked
    ndarray; the column itself otherwise."""
    if not len(values) or not all(isinstance(v, np.ndarray) for v in values):
        return values
    first = values[0]
    if first.dtype.kind not in "biuf" or any(v.shape != first.shape or v.dtype.kind not in "biuf" for v in values):
        return values
    return np.stack(list(values))

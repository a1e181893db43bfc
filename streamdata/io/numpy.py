"""NumPy ``.npy`` files: the rows of each array (its first axis) in column ``data``.

N-d arrays become tensor columns (:mod:`streamdata.tensor`); a 0-d array is one row.

Example:
    >>> import io, fsspec, numpy as np
    >>> buf = io.BytesIO(); np.save(buf, np.arange(3))
    >>> fsspec.filesystem("memory").pipe("/doc/npy/a.npy", buf.getvalue())
    >>> src = NumpyDatasource("memory://doc/npy")
    >>> [b.to_pydict() for t in src.get_read_tasks(1) for b in t()]
    [{'data': [0, 1, 2]}]
"""

from __future__ import annotations

import io
from typing import Any, Iterator

import numpy as np
import pyarrow as pa

from streamdata.errors import ColumnNotFoundError, DataSinkError, PlanError
from streamdata.io.file_datasink import FileDatasink, FileWriter
from streamdata.io.file_datasource import FileBasedDatasource, FileSplit
from streamdata.tensor import arrow_to_ndarray, ndarray_to_arrow


class NumpyDatasource(FileBasedDatasource):
    """Arrays in ``.npy`` files (see the module docstring)."""

    name = "ReadNumpy"
    default_file_extensions = ("npy",)

    def __init__(self, paths: Any, *, allow_pickle: bool = False, **kwargs: Any) -> None:
        super().__init__(paths, **kwargs)
        self._allow_pickle = allow_pickle

    def read_split(self, fs: Any, split: FileSplit) -> Iterator[pa.Table]:
        with self.open_input(fs, split) as f:
            data = f.read()
        arr = np.load(io.BytesIO(data), allow_pickle=self._allow_pickle)
        if isinstance(arr, np.lib.npyio.NpzFile):  # pragma: no cover - .npz is not .npy
            raise ValueError("an .npz archive; read_numpy reads .npy files")
        if arr.ndim == 0:
            arr = arr.reshape(1)
        yield pa.table({"data": ndarray_to_arrow(arr)})


# ---------------------------------------------------------------------------- writing


class _NpyWriter(FileWriter):
    """One ``.npy`` file per block (an ``.npy`` holds one array, written at once)."""

    def __init__(self, f: Any, schema: pa.Schema, column: str) -> None:
        super().__init__(f, schema)
        self._column = column
        self._done = False

    def accepts(self, table: pa.Table) -> bool:
        return not self._done

    def write(self, table: pa.Table) -> None:
        values = arrow_to_ndarray(table.column(self._column))
        if values.dtype == object:
            try:
                values = np.stack(list(values))
            except ValueError as exc:
                raise DataSinkError(f"column {self._column!r} holds arrays of different shapes; "
                                    f".npy needs one shape ({exc})") from exc
        np.save(self.f, values, allow_pickle=False)
        self._done = True


class NumpyDatasink(FileDatasink):
    """Writes column ``column`` as ``.npy`` files, one per block (see :mod:`streamdata.io.file_datasink`)."""

    name = "WriteNumpy"
    extension = "npy"

    def __init__(self, path: str, *, column: str, filesystem: Any = None, mode: str = "append") -> None:
        super().__init__(path, filesystem=filesystem, mode=mode)
        if not isinstance(column, str):
            raise PlanError(f"column must be a column name, got {column!r}")
        self._column = column

    def prepare_block(self, table: pa.Table) -> pa.Table:
        if self._column not in table.column_names:
            raise ColumnNotFoundError(self._column, table.column_names)
        return table.select([self._column])

    def open_writer(self, f: Any, schema: pa.Schema) -> FileWriter:
        return _NpyWriter(f, schema, self._column)

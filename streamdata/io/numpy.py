"""NumPy ``.npy`` files: the rows of each array (its first axis) in column ``data``.

N-d arrays become tensor columns (:mod:`streamdata.io.tensor`); a 0-d array is one row.

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

from streamdata.io.file_datasource import FileBasedDatasource, FileSplit
from streamdata.io.tensor import ndarray_to_arrow


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

"""Binary files: one row per file, its raw bytes in column ``bytes``.

Example:
    >>> import fsspec
    >>> fsspec.filesystem("memory").pipe("/doc/bin/a.bin", b"\\x00\\x01")
    >>> src = BinaryDatasource("memory://doc/bin", include_paths=True)
    >>> [b.to_pylist() for t in src.get_read_tasks(1) for b in t()]
    [[{'bytes': b'\\x00\\x01', 'path': '/doc/bin/a.bin'}]]
"""

from __future__ import annotations

from typing import Any, Iterator

import pyarrow as pa

from streamdata.io.file_datasource import FileBasedDatasource, FileSplit


class BinaryDatasource(FileBasedDatasource):
    """Whole files as bytes (see the module docstring)."""

    name = "ReadBinary"

    def read_split(self, fs: Any, split: FileSplit) -> Iterator[pa.Table]:
        with self.open_input(fs, split, decompress=False) as f:
            data = f.read()
        type_ = pa.binary() if len(data) < 2**31 - 1 else pa.large_binary()
        yield pa.table({"bytes": pa.array([data], type=type_)})

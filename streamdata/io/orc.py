"""ORC files (``pyarrow.orc``): ``read_orc``, one stripe at a time, reading only the
requested columns. A corrupt file raises an error naming it.

Example:
    >>> import fsspec, pyarrow as pa, pyarrow.orc as orc, io
    >>> buf = io.BytesIO(); orc.write_table(pa.table({"x": [1, 2], "y": ["a", "b"]}), buf)
    >>> fsspec.filesystem("memory").pipe("/doc/orc/a.orc", buf.getvalue())
    >>> src = ORCDatasource("memory://doc/orc", columns=["x"])
    >>> [b.to_pydict() for t in src.get_read_tasks(1) for b in t()]
    [{'x': [1, 2]}]
"""

from __future__ import annotations

from typing import Any, Iterator

import pyarrow as pa

from streamdata.io.file_datasource import FileBasedDatasource, FileSplit


class ORCDatasource(FileBasedDatasource):
    """ORC files (see the module docstring)."""

    name = "ReadORC"
    default_file_extensions = ("orc",)
    encoding_ratio = 3.0

    def read_split(self, fs: Any, split: FileSplit) -> Iterator[pa.Table]:
        import pyarrow.orc as orc

        with self.open_input(fs, split, decompress=False) as f:
            reader = orc.ORCFile(f)
            columns = self.physical_columns()
            if reader.nstripes == 0:
                schema = reader.schema
                yield (schema.empty_table() if columns is None
                       else pa.schema([schema.field(c) for c in columns]).empty_table())
                return
            for i in range(reader.nstripes):
                batch = reader.read_stripe(i, columns=columns)
                yield pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch

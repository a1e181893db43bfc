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

from streamdata.errors import DataSinkError, PlanError
from streamdata.io.file_datasink import FileDatasink, FileWriter
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


#: ``pyarrow.orc.ORCWriter`` options a write may pass (``write_orc(**arrow_orc_args)``)
ORC_WRITER_OPTIONS = ("file_version", "batch_size", "stripe_size", "compression", "compression_block_size",
                      "compression_strategy", "row_index_stride", "padding_tolerance",
                      "dictionary_key_size_threshold", "bloom_filter_columns", "bloom_filter_fpp")


class _ORCFileWriter(FileWriter):
    def __init__(self, f: Any, schema: pa.Schema, options: dict[str, Any]) -> None:
        import pyarrow.orc as orc

        super().__init__(f, schema)
        self._writer = orc.ORCWriter(f, **options)

    def write(self, table: pa.Table) -> None:
        self._writer.write(table)

    def close(self) -> None:
        self._writer.close()


class ORCDatasink(FileDatasink):
    """Writes ORC files with ``pyarrow.orc`` (modes and commit as the other file sinks;
    ``**options`` are ``pyarrow.orc.ORCWriter`` 's, e.g. ``compression="zstd"``).

    Example:
        >>> import streamdata as sd, tempfile, os
        >>> d = tempfile.mkdtemp()
        >>> sd.range(3).write_orc(d, compression="zstd")
        >>> sd.read_orc(d).take_all()
        [{'id': 0}, {'id': 1}, {'id': 2}]
    """

    name = "WriteORC"
    extension = "orc"

    def __init__(self, path: str, *, filesystem: Any = None, mode: str = "append",
                 min_rows_per_file: int | None = None, max_rows_per_file: int | None = None,
                 **options: Any) -> None:
        super().__init__(path, filesystem=filesystem, mode=mode, max_rows_per_file=max_rows_per_file,
                         min_rows_per_file=min_rows_per_file)
        unknown = sorted(k for k in options if k not in ORC_WRITER_OPTIONS)
        if unknown:
            raise PlanError(f"write_orc: unknown ORC writer arguments {unknown}; "
                            f"supported: {list(ORC_WRITER_OPTIONS)}")
        self._options = dict(options)

    def prepare_block(self, table: pa.Table) -> pa.Table:
        for f in table.schema:
            if isinstance(f.type, pa.BaseExtensionType):
                raise DataSinkError(f"column {f.name!r} of type {f.type} cannot be written to ORC; "
                                    "drop it or write Parquet instead")
        return table

    def open_writer(self, f: Any, schema: pa.Schema) -> FileWriter:
        return _ORCFileWriter(f, schema, self._options)

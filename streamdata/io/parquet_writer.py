"""The Parquet sink's writer of one file: blocks buffered into row groups, encodings chosen
from the file's first rows (:mod:`streamdata.io.parquet_encoding`).

Example:
    >>> import io
    >>> f = io.BytesIO()
    >>> w = ParquetFileWriter(f, pa.schema([("x", pa.int64())]), {}, None)
    >>> w.write(pa.table({"x": [1, 2]})); w.close()
    >>> import pyarrow.parquet as pq
    >>> pq.read_table(pa.BufferReader(f.getvalue())).num_rows
    2
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from streamdata.context import DataContext
from streamdata.io.file_datasink import FileWriter
from streamdata.io.parquet_encoding import encoding_options


class ParquetFileWriter(FileWriter):
    """Writes a stream of tables into one Parquet file (row groups of about
    :data:`ROW_GROUP_ROWS` rows, encodings judged from the first rows)."""

    def __init__(self, f: Any, schema: pa.Schema, options: dict[str, Any], row_group_size: int | None) -> None:
        super().__init__(f, schema)
        self._file = f
        self._options = options
        # made with the first rows: which columns to dictionary-encode is judged from them
        # (streamdata.io.parquet_encoding) unless the options say
        self._writer: Any = None
        self._row_group_size = row_group_size
        # Blocks are buffered into row groups of about ROW_GROUP_ROWS rows (at most
        # target_max_block_size bytes): writing many small row groups is about twice
        # as slow as a few large ones, and makes files slower to read.
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._pending_bytes = 0
        self._max_bytes = DataContext.get_current().target_max_block_size

    def accepts(self, table: pa.Table) -> bool:
        return table.schema.equals(self.schema, check_metadata=False)

    def write(self, table: pa.Table) -> None:
        if not table.schema.equals(self.schema):
            table = table.replace_schema_metadata(self.schema.metadata)
        self._pending.append(table)
        self._pending_rows += table.num_rows
        self._pending_bytes += table.nbytes
        if (self._pending_rows >= (self._row_group_size or ROW_GROUP_ROWS)
                or self._pending_bytes >= self._max_bytes):
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        table = self._pending[0] if len(self._pending) == 1 else pa.concat_tables(self._pending)
        self._pending, self._pending_rows, self._pending_bytes = [], 0, 0
        self._open(table).write_table(table, row_group_size=self._row_group_size)

    def _open(self, first: pa.Table | None) -> Any:
        if self._writer is None:
            import pyarrow.parquet as pq

            self._writer = pq.ParquetWriter(self._file, self.schema, **encoding_options(self._options, first))
        return self._writer

    def close(self) -> None:
        self._flush()
        self._open(None).close()


#: rows per written row group unless ``row_group_size`` says otherwise (pyarrow's default maximum)
ROW_GROUP_ROWS = 1024 * 1024


__all__ = ["ROW_GROUP_ROWS", "ParquetFileWriter"]

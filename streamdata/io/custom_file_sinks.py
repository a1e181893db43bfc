"""Base classes for custom file formats (Ray Data's ``BlockBasedFileDatasink`` and
``RowBasedFileDatasink``): subclass one, write one method, and ``write_datasink`` handles
modes, unique names, staging and the commit (:mod:`streamdata.io.file_datasink`).

- :class:`BlockBasedFileDatasink`: ``write_block_to_file(block, file)`` gets all the rows of
  one write task as one ``pyarrow.Table`` (one file per task; ``min_rows_per_file`` gives
  each task at least that many rows);
- :class:`RowBasedFileDatasink`: ``write_row_to_file(row, file)`` gets one row (a dict) per
  file.

Example:
    >>> import os, tempfile
    >>> import streamdata as sd
    >>> class Lines(BlockBasedFileDatasink):
    ...     def write_block_to_file(self, block, file):
    ...         file.write("\\n".join(map(str, block["id"].to_pylist())).encode())
    >>> out = tempfile.mkdtemp()
    >>> sd.range(4, override_num_blocks=1).write_datasink(Lines(out, file_format="txt"))
    >>> [open(os.path.join(out, f)).read() for f in os.listdir(out)]
    ['0\\n1\\n2\\n3']
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from streamdata import block as B
from streamdata.io.file_datasink import FileDatasink, FileWriter
from streamdata.write_context import WriteContext


def _mode(mode: Any) -> str:
    return getattr(mode, "value", mode)


class _WholeTaskWriter(FileWriter):
    """Collects a task's tables; at close, hands them as one block to the sink."""

    def __init__(self, sink: "BlockBasedFileDatasink", f: Any, schema: pa.Schema) -> None:
        super().__init__(f, schema)
        self._sink = sink
        self._tables: list[pa.Table] = []

    def accepts(self, table: pa.Table) -> bool:
        return True  # blocks of one task become one file (concatenated, types unified)

    def write(self, table: pa.Table) -> None:
        self._tables.append(table)

    def close(self) -> None:
        if self._tables:
            self._sink.write_block_to_file(B.concat(self._tables), self.f)


class BlockBasedFileDatasink(FileDatasink):
    """A file sink writing each write task's rows with :meth:`write_block_to_file`.

    Args:
        path: the destination directory.
        min_rows_per_file: each write task (so each file) gets at least this many rows,
            but the last.
        filesystem, mode: as for every file sink.
        filename_provider: Ray's ``FilenameProvider`` naming the files.
        file_format: the files' extension.
        try_create_dir, open_stream_args, dataset_uuid: accepted as in Ray.
    """

    name = "WriteFiles"

    def __init__(self, path: str, *, min_rows_per_file: int | None = None, filesystem: Any = None,
                 try_create_dir: bool = True, open_stream_args: dict[str, Any] | None = None,
                 filename_provider: Any = None, dataset_uuid: str | None = None,
                 file_format: str | None = None, mode: Any = "append") -> None:
        super().__init__(path, filesystem=filesystem, mode=_mode(mode))
        self.extension = file_format or "bin"
        self.filename_provider = filename_provider
        self._min_rows = min_rows_per_file

    @property
    def min_rows_per_write(self) -> int | None:
        """Rows each write task gets at least (``min_rows_per_file``)."""
        return self._min_rows

    def write_block_to_file(self, block: pa.Table, file: Any) -> None:
        """Write ``block`` (a ``pyarrow.Table``) into the open binary ``file``."""
        raise NotImplementedError(f"{type(self).__name__} must implement write_block_to_file")

    def open_writer(self, f: Any, schema: pa.Schema) -> FileWriter:
        return _WholeTaskWriter(self, f, schema)


class _RowWriter(FileWriter):
    def __init__(self, sink: "RowBasedFileDatasink", f: Any, schema: pa.Schema) -> None:
        super().__init__(f, schema)
        self._sink = sink

    def write(self, table: pa.Table) -> None:
        for row in B.iter_rows(table):
            self._sink.write_row_to_file(row, self.f)


class RowBasedFileDatasink(FileDatasink):
    """A file sink writing one file per row with :meth:`write_row_to_file`.

    Args are those of :class:`BlockBasedFileDatasink` (without ``min_rows_per_file``);
    a ``filename_provider`` names the files with ``get_filename_for_row``.
    """

    name = "WriteRows"

    def __init__(self, path: str, *, filesystem: Any = None, try_create_dir: bool = True,
                 open_stream_args: dict[str, Any] | None = None, filename_provider: Any = None,
                 dataset_uuid: str | None = None, file_format: str | None = None,
                 mode: Any = "append") -> None:
        super().__init__(path, filesystem=filesystem, mode=_mode(mode), max_rows_per_file=1)
        self.extension = file_format or "bin"
        self._row_names = filename_provider

    def write_row_to_file(self, row: dict[str, Any], file: Any) -> None:
        """Write one row (a dict) into the open binary ``file``."""
        raise NotImplementedError(f"{type(self).__name__} must implement write_row_to_file")

    def open_writer(self, f: Any, schema: pa.Schema) -> FileWriter:
        return _RowWriter(self, f, schema)

    def _file_name(self, ctx: WriteContext, n: int, block: pa.Table | None = None) -> str:
        if self._row_names is not None and block is not None:
            row = next(B.iter_rows(block.slice(0, 1)))
            return self._row_names.get_filename_for_row(row, ctx.write_uuid, ctx.task_index, 0, n)
        return super()._file_name(ctx, n, block)


__all__ = ["BlockBasedFileDatasink", "RowBasedFileDatasink"]

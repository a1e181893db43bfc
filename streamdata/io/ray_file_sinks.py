"""Ray's file-sink base classes, for sinks written for Ray: subclass
:class:`BlockBasedFileDatasink` and define ``write_block_to_file(block, file)`` (one file
per write task, or per ``min_rows_per_file`` rows), or :class:`RowBasedFileDatasink`
and define ``write_row_to_file(row, file)`` (one file per row).

They run on streamdata's staged file sink (so a failed write leaves nothing visible).
``block`` is a :class:`BlockAccessor` (``to_arrow()``, ``to_pandas()``, ``iter_rows()``,
``num_rows()``), ``file`` a binary file object.

Example:
    >>> import fsspec, pyarrow as pa
    >>> from streamdata.write_context import WriteContext
    >>> class Lines(BlockBasedFileDatasink):
    ...     def write_block_to_file(self, block, file):
    ...         for row in block.iter_rows():
    ...             file.write(f"{row['x']}\\n".encode())
    >>> sink = Lines("memory://doc/raysink", file_format="txt")
    >>> sink.on_write_start()
    >>> sink.on_write_complete([sink.write([pa.table({"x": [1, 2]})], WriteContext("w", 0))])
    >>> fsspec.filesystem("memory").cat("/doc/raysink/w_000000_000000.txt")
    b'1\\n2\\n'
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from streamdata.block_accessor import BlockAccessor
from streamdata.errors import PlanError
from streamdata.io.file_datasink import FileDatasink, FileWriter


class _BlockWriter(FileWriter):
    def __init__(self, f: Any, schema: pa.Schema, sink: "BlockBasedFileDatasink") -> None:
        super().__init__(f, schema)
        self.sink = sink

    def accepts(self, table: pa.Table) -> bool:
        return True

    def write(self, table: pa.Table) -> None:
        self.sink.write_block_to_file(BlockAccessor(table), self.f)


class _RowWriter(FileWriter):
    def __init__(self, f: Any, schema: pa.Schema, sink: "RowBasedFileDatasink") -> None:
        super().__init__(f, schema)
        self.sink = sink

    def accepts(self, table: pa.Table) -> bool:
        return True

    def write(self, table: pa.Table) -> None:
        from streamdata import block as B

        for row in B.iter_rows(table):
            self.sink.write_row_to_file(row, self.f)


def _sink_args(filesystem: Any, try_create_dir: bool, open_stream_args: Any, filename_provider: Any,
               dataset_uuid: Any, mode: Any) -> dict[str, Any]:
    from streamdata.io.lance import mode_name

    if filename_provider is not None and not callable(
            getattr(filename_provider, "get_filename_for_block", None)) and not callable(
            getattr(filename_provider, "get_filename_for_row", None)):
        raise PlanError(f"filename_provider must have get_filename_for_block/get_filename_for_row, "
                        f"got {filename_provider!r}")
    return {"filesystem": filesystem, "mode": mode_name(mode)}


class _RayFileSink(FileDatasink):
    def __init__(self, path: str, *, filesystem: Any = None, try_create_dir: bool = True,
                 open_stream_args: dict[str, Any] | None = None, filename_provider: Any = None,
                 dataset_uuid: str | None = None, file_format: str | None = None, mode: Any = "append",
                 max_rows_per_file: int | None = None) -> None:
        super().__init__(path, max_rows_per_file=max_rows_per_file,
                         **_sink_args(filesystem, try_create_dir, open_stream_args, filename_provider,
                                      dataset_uuid, mode))
        self.extension = file_format or "dat"
        self.filename_provider = filename_provider  # names the files (FileDatasink._file_name)


class BlockBasedFileDatasink(_RayFileSink):
    """Subclass and define :meth:`write_block_to_file` (Ray's API)."""

    name = "WriteFiles"

    def __init__(self, path: str, *, min_rows_per_file: int | None = None, **file_datasink_kwargs: Any) -> None:
        if min_rows_per_file is not None and (not isinstance(min_rows_per_file, int) or min_rows_per_file < 1):
            raise PlanError(f"min_rows_per_file must be a positive int, got {min_rows_per_file!r}")
        super().__init__(path, **file_datasink_kwargs)
        self._min_rows = min_rows_per_file

    @property
    def min_rows_per_write(self) -> int | None:
        return self._min_rows

    def write_block_to_file(self, block: BlockAccessor, file: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define write_block_to_file(block, file)")

    def open_writer(self, f: Any, schema: pa.Schema) -> FileWriter:
        return _BlockWriter(f, schema, self)


class RowBasedFileDatasink(_RayFileSink):
    """Subclass and define :meth:`write_row_to_file` (Ray's API); one file per row."""

    name = "WriteFiles"

    def __init__(self, path: str, *, filesystem: Any = None, try_create_dir: bool = True,
                 open_stream_args: dict[str, Any] | None = None, filename_provider: Any = None,
                 dataset_uuid: str | None = None, file_format: str | None = None, mode: Any = "append") -> None:
        super().__init__(path, filesystem=filesystem, try_create_dir=try_create_dir,
                         open_stream_args=open_stream_args, filename_provider=filename_provider,
                         dataset_uuid=dataset_uuid, file_format=file_format, mode=mode, max_rows_per_file=1)

    def _file_name(self, ctx: Any, n: int, block: pa.Table | None = None) -> str:
        provider = self.filename_provider
        if provider is not None and block is not None and hasattr(provider, "get_filename_for_row"):
            from streamdata import block as B
            row = next(B.iter_rows(block.slice(0, 1)))
            return provider.get_filename_for_row(row, ctx.write_uuid, ctx.task_index, 0, n)
        return super()._file_name(ctx, n, block)

    def write_row_to_file(self, row: dict[str, Any], file: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define write_row_to_file(row, file)")

    def open_writer(self, f: Any, schema: pa.Schema) -> FileWriter:
        return _RowWriter(f, schema, self)

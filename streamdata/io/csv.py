"""CSV files, read with ``pyarrow.csv`` (streaming, one file at a time).

``read_options``, ``parse_options`` and ``convert_options`` (pyarrow option objects or
dicts of their fields) pass through to pyarrow. Compressed files (``.gz``, ``.bz2``,
``.zst``...) are decompressed by extension. A ragged row raises a
:class:`~streamdata.errors.DataSourceError` naming the file and the line.

Example:
    >>> import fsspec
    >>> fs = fsspec.filesystem("memory")
    >>> fs.pipe("/doc/csv/a.csv", b"x,y\\n1,a\\n2,b\\n")
    >>> src = CSVDatasource("memory://doc/csv")
    >>> [b.to_pydict() for t in src.get_read_tasks(1) for b in t()]
    [{'x': [1, 2], 'y': ['a', 'b']}]
"""

from __future__ import annotations

import copy
import csv as pycsv
import io
from typing import Any, Iterator

import pyarrow as pa

from streamdata.errors import ColumnNotFoundError, DataSinkError, DataSourceError, PlanError
from streamdata.io.file_datasink import FileDatasink, FileWriter
from streamdata.io.file_datasource import FileBasedDatasource, FileSplit
from streamdata.io.file_options import reader_options
from streamdata.io.filesystem import unstrip
from streamdata.tensor import is_tensor_type


def _options(kind: str, value: Any) -> Any:
    import pyarrow.csv as pacsv

    classes = {"read": pacsv.ReadOptions, "parse": pacsv.ParseOptions,
               "convert": pacsv.ConvertOptions}
    return reader_options("CSV", kind, classes[kind], value)


#: bytes of CSV parsed at a time unless the user sets it (pyarrow's default is 1 MiB): a
#: 2.9 MB file parsed in 1 MiB blocks costs 20–30% more CPU than in one (type inference and
#: batch set-up per block; benchmarks/PROFILES.md, "Issue 14, wave 5"); the block is still
#: far below a block of output, so memory stays bounded on large files
READ_BLOCK_BYTES = 16 << 20


class CSVDatasource(FileBasedDatasource):
    """CSV files as Arrow tables (see the module docstring)."""

    name = "ReadCSV"
    encoding_ratio = 1.0

    def __init__(self, paths: Any, *, read_options: Any = None, parse_options: Any = None,
                 convert_options: Any = None, **kwargs: Any) -> None:
        super().__init__(paths, **kwargs)
        # validated now (on the driver); kept as dicts-free pyarrow objects, which pickle
        self._read_options = _options("read", read_options)
        self._parse_options = _options("parse", parse_options)
        self._convert_options = _options("convert", convert_options)
        self._user_threads = read_options is not None and getattr(self._read_options, "use_threads", False)
        # a ReadOptions object, or a dict naming block_size, sets the block size; else ours
        self._user_block_size = read_options is not None and (
            not isinstance(read_options, dict) or "block_size" in read_options)

    def read_split(self, fs: Any, split: FileSplit) -> Iterator[pa.Table]:
        import pyarrow.csv as pacsv

        if split.size == 0:
            return
        read_options = copy.copy(self._read_options)
        if not self._user_threads:
            read_options.use_threads = False  # one worker per CPU already; and rows get numbered
        if not self._user_block_size:
            read_options.block_size = READ_BLOCK_BYTES
        parse_options = copy.copy(self._parse_options)
        user_handler = parse_options.invalid_row_handler
        bad_rows: list[Any] = []

        def handler(row: Any) -> str:
            verdict = user_handler(row) if user_handler is not None else "error"
            if verdict == "error":
                bad_rows.append(row)
            return verdict

        parse_options.invalid_row_handler = handler
        convert_options = copy.copy(self._convert_options)
        wanted = self.physical_columns()
        if wanted is not None and not convert_options.include_columns:
            convert_options.include_columns = wanted
        with self.open_input(fs, split) as f:
            try:
                reader = pacsv.open_csv(f, read_options=read_options, parse_options=parse_options,
                                        convert_options=convert_options)
                checked = False
                for batch in reader:
                    if not checked:  # the schema is fixed by the first batch
                        self._check_text_columns(fs, split, batch.schema, convert_options)
                        checked = True
                    yield pa.Table.from_batches([batch])
            except (pa.ArrowInvalid, pa.ArrowKeyError) as exc:
                text = str(exc)
                if "Empty CSV file" in text:
                    return
                if "include_columns" in text and wanted is not None:
                    raise self._missing_column(fs, split, wanted) from exc
                if bad_rows:
                    raise self._ragged_error(fs, split, bad_rows[0], text) from exc
                raise DataSourceError(f"{unstrip(fs, split.path)}: {text}", path=unstrip(fs, split.path)) from exc

    def _check_text_columns(self, fs: Any, split: FileSplit, schema: pa.Schema,
                            convert_options: Any) -> None:
        """pyarrow infers ``binary`` for a column with bytes that are not UTF-8; one bad byte
        would silently turn a text column into bytes. Unless the column's type was asked for
        (``convert_options.column_types``) or ``check_utf8=False``, that is an error naming
        the file, the column and the line (read with ``read_options={"encoding": ...}`` for
        another encoding, or ask for ``pa.binary()`` to keep bytes)."""
        if not convert_options.check_utf8:
            return
        asked = set(convert_options.column_types or {})
        binary = [f.name for f in schema
                  if f.name not in asked and (pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type))]
        if not binary:
            return
        where = unstrip(fs, split.path)
        line = self._first_non_utf8_line(fs, split)
        at = f" (line {line})" if line is not None else ""
        raise DataSourceError(
            f"{where}: column {binary[0]!r} has bytes that are not valid UTF-8{at}; read it with "
            f"read_options={{'encoding': ...}} for another encoding, or "
            f"convert_options={{'column_types': {{{binary[0]!r}: pyarrow.binary()}}}} to keep bytes",
            path=where)

    def _first_non_utf8_line(self, fs: Any, split: FileSplit) -> int | None:
        with self.open_input(fs, split) as f:
            for number, raw in enumerate(f, start=1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    return number
        return None

    def _missing_column(self, fs: Any, split: FileSplit, wanted: list[str]) -> Exception:
        names = self._header(fs, split) + [f.name for f in self._derived_fields()]
        missing = next((c for c in wanted if c not in names), wanted[0])
        return ColumnNotFoundError(missing, names)

    def _reader(self, f: Any) -> Any:
        po = self._parse_options
        text = io.TextIOWrapper(f, encoding=self._read_options.encoding or "utf8", newline="")
        return pycsv.reader(text, delimiter=po.delimiter, quotechar=po.quote_char or '"',
                            doublequote=po.double_quote, escapechar=po.escape_char or None)

    def _header(self, fs: Any, split: FileSplit) -> list[str]:
        ro = self._read_options
        if ro.column_names:
            return list(ro.column_names)
        with self.open_input(fs, split) as f:
            reader = self._reader(f)
            for row in reader:
                if reader.line_num <= ro.skip_rows or not row:
                    continue
                return [f"f{i}" for i in range(len(row))] if ro.autogenerate_column_names else row
        return []

    def _ragged_error(self, fs: Any, split: FileSplit, row: Any, text: str) -> DataSourceError:
        where = unstrip(fs, split.path)
        line = row.number if row.number is not None else self._find_ragged_line(fs, split, row.expected_columns)
        at = f"line {line}" if line is not None else "a row"
        return DataSourceError(f"{where}: {at} has {row.actual_columns} fields, expected "
                               f"{row.expected_columns}: {row.text[:200]!r}", path=where)

    def _find_ragged_line(self, fs: Any, split: FileSplit, expected: int) -> int | None:
        """Line number of the first row with the wrong field count (a slow path, on error only)."""
        po = self._parse_options
        with self.open_input(fs, split) as f:
            reader = self._reader(f)
            skip = self._read_options.skip_rows
            for row in reader:
                if reader.line_num <= skip or (not row and po.ignore_empty_lines):
                    continue
                if len(row) != expected:
                    return reader.line_num
        return None


# ---------------------------------------------------------------------------- writing


def _check_csv_types(table: pa.Table) -> None:
    for field in table.schema:
        t = field.type
        if is_tensor_type(t) or isinstance(t, pa.BaseExtensionType) or pa.types.is_nested(t):
            raise DataSinkError(f"column {field.name!r} of type {t} cannot be written to CSV; "
                                "drop it or write Parquet/JSON instead")


class _CSVFileWriter(FileWriter):
    def __init__(self, f: Any, schema: pa.Schema, write_options: Any) -> None:
        import pyarrow.csv as pacsv

        super().__init__(f, schema)
        self._writer = pacsv.CSVWriter(f, schema, write_options=write_options)

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table)

    def close(self) -> None:
        self._writer.close()


class CSVDatasink(FileDatasink):
    """Writes CSV files with a header (see :mod:`streamdata.io.file_datasink` for modes and commit).

    ``write_options`` (a ``pyarrow.csv.WriteOptions`` or a dict of its fields) passes through.
    Tensor and nested columns are refused with :class:`~streamdata.errors.DataSinkError`.
    """

    name = "WriteCSV"
    extension = "csv"

    def __init__(self, path: str, *, filesystem: Any = None, mode: str = "append",
                 min_rows_per_file: int | None = None,
                 max_rows_per_file: int | None = None, write_options: Any = None) -> None:
        import pyarrow.csv as pacsv

        super().__init__(path, filesystem=filesystem, mode=mode, max_rows_per_file=max_rows_per_file,
                         min_rows_per_file=min_rows_per_file)
        fields = ("include_header", "batch_size", "delimiter", "quoting_style", "quoting_header")
        if write_options is None:
            options: dict[str, Any] = {}
        elif isinstance(write_options, dict):
            options = dict(write_options)
        elif isinstance(write_options, pacsv.WriteOptions):
            options = {f: getattr(write_options, f) for f in fields if hasattr(write_options, f)}
        else:
            raise PlanError(f"write_options must be a pyarrow.csv.WriteOptions or a dict, "
                            f"got {type(write_options).__name__}")
        try:
            pacsv.WriteOptions(**options)
        except (TypeError, ValueError, pa.ArrowInvalid) as exc:
            raise PlanError(f"invalid write_options for CSV: {exc}") from exc
        # kept as a dict: pyarrow's WriteOptions cannot be pickled to the workers
        self._write_options = options

    def prepare_block(self, table: pa.Table) -> pa.Table:
        _check_csv_types(table)
        return table

    def open_writer(self, f: Any, schema: pa.Schema) -> FileWriter:
        import pyarrow.csv as pacsv

        return _CSVFileWriter(f, schema, pacsv.WriteOptions(**self._write_options))

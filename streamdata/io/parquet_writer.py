"""Writing Parquet: the sink (:class:`ParquetDatasink`, Hive-partitioned directories), and
its writer of one file (:class:`ParquetFileWriter`: blocks buffered into row groups,
encodings chosen from the file's first rows, :mod:`streamdata.io.parquet_encoding`).

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

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from streamdata.context import DataContext
from streamdata.errors import ColumnNotFoundError, PlanError
from streamdata.io.file_datasink import FileDatasink, FileWriter
from streamdata.io.parquet_encoding import SAMPLE_ROWS, encoding_options
from streamdata.kept_dictionary import decode_column, decode_kept, dense_schema, has_kept, is_kept, storage_column


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
        # the schema every reader sees (kept dictionaries as their value type), and how the
        # file stores each kept column, decided at open: name → its dictionary type (written
        # as the dictionary) or None (expanded); see streamdata.kept_dictionary
        self._dense = dense_schema(schema)
        self._kept: dict[str, pa.DataType | None] = {}

    def accepts(self, table: pa.Table) -> bool:
        return dense_schema(table.schema).equals(self._dense, check_metadata=False)

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
        tables = self._pending
        self._pending, self._pending_rows, self._pending_bytes = [], 0, 0
        if self._writer is None:
            if not any(has_kept(t.schema) for t in tables):
                table = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
                self._open(table).write_table(table, row_group_size=self._row_group_size)
                return
            self._open_kept(tables)
        writer = self._writer
        if self._kept or any(has_kept(t.schema) for t in tables):
            tables = [self._stored(t) for t in tables]
        table = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
        if any(self._kept.values()):
            table = table.unify_dictionaries()  # one dictionary per column chunk: written as is
        writer.write_table(table, row_group_size=self._row_group_size)

    def _open(self, first: pa.Table | None) -> Any:
        if self._writer is None:
            import pyarrow.parquet as pq

            self._writer = pq.ParquetWriter(self._file, self.schema, **encoding_options(self._options, first))
        return self._writer

    def _open_kept(self, tables: list[pa.Table]) -> Any:
        """The writer of a file whose first rows hold kept dictionaries: the encodings are
        judged from the first rows expanded, as they would be had the read expanded them; a
        kept column the file dictionary-encodes is written as its dictionary (no hashing)."""
        import pyarrow.parquet as pq

        sample, rows = [], 0
        for t in tables:
            if rows >= SAMPLE_ROWS:
                break
            sample.append(decode_kept(t.slice(0, SAMPLE_ROWS - rows)))
            rows += sample[-1].num_rows
        options = encoding_options(self._options, pa.concat_tables(sample))
        chosen = options.get("use_dictionary", True)
        direct = not any(key in self._options for key in _NOT_DIRECT)
        fields = []
        for field in self.schema:
            if is_kept(field.type):
                as_dictionary = direct and (chosen is True or (isinstance(chosen, list) and field.name in chosen))
                self._kept[field.name] = field.type.storage_type if as_dictionary else None
                field = field.with_type(field.type.storage_type if as_dictionary else field.type.value_type)
            fields.append(field)
        if any(self._kept.values()):  # the stored Arrow schema is written at close, as the rows' own
            options["store_schema"] = False
        self._writer = pq.ParquetWriter(self._file, pa.schema(fields, metadata=self.schema.metadata), **options)
        return self._writer

    def _stored(self, table: pa.Table) -> pa.Table:
        """``table`` as the file stores it: each kept column as its dictionary or expanded,
        as decided at open (a column kept in this table only is expanded, one kept only in
        the first is dictionary-encoded again)."""
        for i, field in enumerate(table.schema):
            if field.name in self._kept:
                stored = self._kept[field.name]
                column = table.column(i)
                if stored is None:
                    column = decode_column(column)
                    field = field.with_type(column.type)
                elif is_kept(field.type):
                    column = storage_column(column)
                    field = field.with_type(stored)
                else:
                    column = column.dictionary_encode().cast(stored)
                    field = field.with_type(stored)
                table = table.set_column(i, field, column)
            elif is_kept(field.type):
                table = table.set_column(i, field.with_type(field.type.value_type), decode_column(table.column(i)))
        return table

    def close(self) -> None:
        self._flush()
        writer = self._open(None)
        if any(self._kept.values()):
            # what pyarrow stores (store_schema): the schema's metadata, then the schema
            # itself as Arrow IPC in base64, here with each kept column as its value type
            import base64

            stored = dict(self._dense.metadata or {})
            stored[b"ARROW:schema"] = base64.b64encode(self._dense.serialize().to_pybytes())
            writer.add_key_value_metadata(stored)
        writer.close()


#: writer options under which kept dictionaries are expanded before writing (the stored
#: Arrow schema or the column names are the user's to choose)
_NOT_DIRECT = ("store_schema", "flavor")

#: rows per written row group unless ``row_group_size`` says otherwise (pyarrow's default maximum)
ROW_GROUP_ROWS = 1024 * 1024




def _hive_dir(names: list[str], values: list[Any]) -> str:
    from urllib.parse import quote

    parts = []
    for name, value in zip(names, values):
        text = "__HIVE_DEFAULT_PARTITION__" if value is None else quote(str(value), safe="")
        parts.append(f"{quote(name, safe='')}={text}")
    return "/".join(parts)


class ParquetDatasink(FileDatasink):
    """Writes Parquet files (see :mod:`streamdata.io.file_datasink` for modes and commit).

    Args:
        path: destination directory.
        partition_cols: write Hive-partitioned subdirectories ``col=value/`` (the columns are
            encoded in the paths, not stored in the files), as Ray does.
        row_group_size: rows per row group (pyarrow's default otherwise).
        **parquet_options: passed to ``pyarrow.parquet.ParquetWriter`` (``compression=``...).

    Example:
        >>> import fsspec
        >>> from streamdata.write_context import WriteContext
        >>> sink = ParquetDatasink("memory://doc/pqsink", partition_cols=["k"])
        >>> sink.on_write_start()
        >>> r = sink.write([pa.table({"k": [1, 2], "v": ["a", "b"]})], WriteContext("w", 0))
        >>> sink.on_write_complete([r])
        >>> sorted(r["files"])
        ['k=1/w_000000_000000.parquet', 'k=2/w_000000_000001.parquet']
    """

    name = "WriteParquet"
    extension = "parquet"
    WRITES_ARROW_STREAMS = True

    def __init__(self, path: str, *, filesystem: Any = None, mode: str = "append",
                 min_rows_per_file: int | None = None,
                 max_rows_per_file: int | None = None, partition_cols: list[str] | None = None,
                 row_group_size: int | None = None, **parquet_options: Any) -> None:
        super().__init__(path, filesystem=filesystem, mode=mode, max_rows_per_file=max_rows_per_file,
                         min_rows_per_file=min_rows_per_file)
        if isinstance(partition_cols, str):
            partition_cols = [partition_cols]
        self._partition_cols = list(partition_cols or [])
        self._row_group_size = row_group_size
        self._options = dict(parquet_options)
        import pyarrow.parquet as pq

        try:  # invalid options fail now, on the driver
            pq.ParquetWriter(pa.BufferOutputStream(), pa.schema([("x", pa.int8())]), **self._options).close()
        except TypeError as exc:
            raise PlanError(f"invalid Parquet writer option: {exc}") from exc

    @property
    def partition_cols(self) -> list[str]:
        """The columns the files are partitioned by (encoded in the paths)."""
        return list(self._partition_cols)

    @property
    def writes_kept_dictionaries(self) -> bool:
        """Whether blocks may reach :meth:`write` with kept dictionaries
        (:mod:`streamdata.kept_dictionary`): this class's own writer stores them, a
        subclass gets every column as its own type."""
        return type(self) is ParquetDatasink

    def open_writer(self, f: Any, schema: pa.Schema) -> FileWriter:
        return ParquetFileWriter(f, schema, self._options, self._row_group_size)

    def partition_block(self, table: pa.Table) -> Iterator[tuple[str, pa.Table]]:
        if not self._partition_cols:
            yield "", table
            return
        import pyarrow.compute as pc

        for c in self._partition_cols:
            if c not in table.column_names:
                raise ColumnNotFoundError(c, table.column_names)
            at = table.schema.get_field_index(c)
            if is_kept(table.schema.field(at).type):  # compared by value: its own type
                table = table.set_column(at, dense_schema(table.schema).field(at), decode_column(table.column(at)))
        combos = table.select(self._partition_cols).group_by(self._partition_cols).aggregate([])
        for values in combos.select(self._partition_cols).to_pylist():
            mask = None
            for c in self._partition_cols:
                v = values[c]
                term = pc.is_null(table.column(c)) if v is None else pc.equal(table.column(c), v)
                mask = term if mask is None else pc.and_(mask, term)
            part = table.filter(mask).drop_columns(self._partition_cols)
            yield _hive_dir(self._partition_cols, [values[c] for c in self._partition_cols]), part


__all__ = ["ROW_GROUP_ROWS", "ParquetDatasink", "ParquetFileWriter"]

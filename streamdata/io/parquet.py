"""Parquet files, read with ``pyarrow.parquet`` (or ``pyarrow.dataset`` fragments where
they are needed) in the read tasks.

* **Pushdown.** ``columns=`` and projections pushed by the optimizer read only those
  column chunks; predicates (``Expr`` via :meth:`apply_predicate`, or a pyarrow
  ``filter=``) skip row groups whose statistics cannot match, skip whole files whose
  Hive partition values cannot match (on the driver, without opening them, when the
  predicate has terms on partition columns only), and filter the rows read.
* **Metadata.** :meth:`num_rows` sums the footers (read in parallel on the driver, only
  when asked, e.g. by ``count()``); :meth:`schema` reads the first file's footer. Other
  footers are read by the tasks that read the files.
* **Splitting.** When there are fewer files than read tasks wanted, large files are split
  into byte ranges; a task reads the row groups whose middle byte falls in its range.
  Within a task, output is shaped into blocks near the DataContext's target sizes.
* **Schemas.** Every file is read into the dataset's schema (the first file's, or
  ``schema=``): a missing column comes back null, a narrower type is widened, and an
  incompatible type raises :class:`~streamdata.errors.SchemaError` naming both files.

Example:
    >>> import fsspec, pyarrow.parquet as pq
    >>> fs = fsspec.filesystem("memory")
    >>> with fs.open("/doc/pq/year=2024/a.parquet", "wb") as f:
    ...     pq.write_table(pa.table({"x": [1, 2, 3]}), f)
    >>> src = ParquetDatasource("memory://doc/pq")
    >>> src.num_rows(), src.schema().names
    (3, ['x', 'year'])
    >>> [b.to_pydict() for t in src.get_read_tasks(1) for b in t()]
    [{'x': [1, 2, 3], 'year': ['2024', '2024', '2024']}]
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Iterator

import pyarrow as pa

from streamdata.context import DataContext
from streamdata.errors import ColumnNotFoundError, DataSourceError, PlanError, SchemaError
from streamdata.io.file_datasource import FileBasedDatasource, FileSplit
from streamdata.io.filesystem import FileInfo, to_arrow_filesystem, unstrip
from streamdata.io.io_threads import io_map
from streamdata.io.parquet_direct import direct_read_plan, read_row_groups
from streamdata.io.parquet_sizing import decoded_bytes
from streamdata.io.parquet_writer import ParquetDatasink
from streamdata.kept_dictionary import decode_kept
from streamdata.expressions import conjuncts

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow.compute as pc

    from streamdata.expressions import Expr


def conform_schema(expected: pa.Schema, physical: pa.Schema, *, path: str, reference: str) -> pa.Schema:
    """The schema to read a file with ``physical`` schema into ``expected``.

    Common columns take the wider of the two types; columns the file lacks keep the
    expected type (read as nulls); columns only the file has are dropped.

    Raises:
        SchemaError: a column whose types cannot be reconciled, naming both files.

    Example:
        >>> exp = pa.schema([("a", pa.int32()), ("b", pa.string())])
        >>> conform_schema(exp, pa.schema([("a", pa.int64())]), path="f2", reference="f1")
        a: int64
        b: string
    """
    fields = []
    for e in expected:
        idx = physical.get_field_index(e.name)
        if idx < 0:
            fields.append(e)
            continue
        p = physical.field(idx)
        if p.type.equals(e.type):
            fields.append(e)
            continue
        try:
            unified = pa.unify_schemas([pa.schema([e]), pa.schema([p])], promote_options="permissive").field(0)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise SchemaError(f"column {e.name!r} is {p.type} in {path} but {e.type} in {reference}; "
                              "the files' schemas conflict (pass schema= to read them as one type)") from exc
        fields.append(unified.with_name(e.name))
    return pa.schema(fields, metadata=expected.metadata)


def _midpoint(row_group: Any) -> int:
    starts = []
    size = 0
    for j in range(row_group.num_columns):
        col = row_group.column(j)
        offset = col.data_page_offset
        if col.has_dictionary_page and col.dictionary_page_offset:
            offset = min(offset, col.dictionary_page_offset)
        starts.append(offset)
        size += col.total_compressed_size
    return (min(starts) if starts else 0) + size // 2


class ParquetDatasource(FileBasedDatasource):
    """Parquet files (see the module docstring).

    Args:
        paths: files, directories, globs.
        schema: read every file into this schema (else the first file's).
        filter: a ``pyarrow.compute.Expression`` applied while reading.
        batch_size: rows per batch decoded at a time (blocks are coalesced afterwards).
        **kwargs: see :class:`~streamdata.io.file_datasource.FileBasedDatasource`;
            ``partitioning`` defaults to ``"hive"``. Partition values are strings, as in
            Ray (``Partitioning("hive", field_types={"year": int})`` types them); predicates
            on them prune files either way.
    """

    name = "ReadParquet"
    default_partitioning = "hive"
    encoding_ratio = 5.0
    splittable = True
    prefetch_small_files = False  # pyarrow reads footers and column chunks itself

    def __init__(self, paths: Any, *, schema: pa.Schema | None = None, filter: "pc.Expression | None" = None,
                 batch_size: int = 65536, **kwargs: Any) -> None:
        super().__init__(paths, **kwargs)
        if schema is not None and not isinstance(schema, pa.Schema):
            raise PlanError(f"schema must be a pyarrow.Schema, got {type(schema).__name__}")
        self._user_schema = schema
        self._arrow_filter = filter
        self._predicates: tuple[Any, ...] = ()
        self._post_predicates: tuple[Any, ...] = ()  # applied after the path column is added
        self._batch_size = int(batch_size)
        self._data_schema_cache: tuple[pa.Schema, str] | None = None
        self._first_footer: tuple[Any, int | None] | None = None  # (footer, file size) of the schema's file
        self._footers: dict[str, tuple[int, int]] | None = None  # path → (rows, uncompressed bytes)
        self.stats: dict[str, int] = {}
        if self._columns is not None:
            self.schema()  # unknown columns fail now, naming the ones there are

    # ------------------------------------------------------------------ metadata

    def _arrow_fs(self) -> Any:
        return to_arrow_filesystem(self._fs)

    def _remote(self) -> bool:
        import pyarrow.fs as pafs

        return not isinstance(self._arrow_fs(), pafs.LocalFileSystem)

    def _read_footer(self, path: str, arrow_fs: Any = None) -> Any:
        import pyarrow.parquet as pq

        try:
            return pq.read_metadata(path, filesystem=arrow_fs or self._arrow_fs())
        except FileNotFoundError:
            raise
        except Exception as exc:  # noqa: BLE001
            where = unstrip(self._fs, path)
            raise DataSourceError(f"{where}: not a readable Parquet file ({type(exc).__name__}: {exc})",
                                  path=where) from exc

    def _data_schema(self) -> tuple[pa.Schema, str]:
        """The dataset's data schema (no partition/path columns) and the file it came from."""
        if self._user_schema is not None:
            return self._user_schema, "schema="
        if self._data_schema_cache is None:
            skip_ok = DataContext.get_current().max_errored_blocks != 0
            last: Exception | None = None
            for f in self._files:
                try:
                    md = self._read_footer(f.path)
                    self._data_schema_cache = (md.schema.to_arrow_schema(), unstrip(self._fs, f.path))
                    self._first_footer = (md, f.size)
                    break
                except DataSourceError as exc:
                    if not skip_ok:
                        raise
                    last = exc
            else:
                raise last or DataSourceError("no readable Parquet file")
        return self._data_schema_cache

    def schema(self) -> pa.Schema:
        data_schema, _ = self._data_schema()
        if self._partition_schema:
            data_schema = pa.schema([f for f in data_schema if f.name not in self._partition_schema.names],
                                    metadata=data_schema.metadata)
        return self._finish_schema(data_schema)

    def _load_footers(self) -> dict[str, tuple[int, int]]:
        if self._footers is None:
            def one(path: str) -> tuple[str, tuple[int, int]]:
                md = self._read_footer(path)
                size = sum(md.row_group(i).total_byte_size for i in range(md.num_row_groups))
                return path, (md.num_rows, size)

            self._footers = dict(io_map(one, [f.path for f in self._files], concurrent=self._remote()))
        return self._footers

    def num_rows(self) -> int | None:
        """Rows in all files, from their footers (None once a predicate applies)."""
        if self._predicates or self._post_predicates or self._arrow_filter is not None:
            return None
        try:
            total = sum(rows for rows, _ in self._load_footers().values())
        except DataSourceError:
            if DataContext.get_current().max_errored_blocks != 0:
                return None  # a bad file may be skipped: only a read can count
            raise
        return total if self._limit is None else min(total, self._limit)

    def estimate_inmemory_data_size(self) -> int | None:
        if self._footers is not None:
            size = sum(b for _, b in self._footers.values())
        else:
            size = super().estimate_inmemory_data_size()
            if size is None:
                return None
        if self._columns is not None:
            try:
                width = len(self._data_schema()[0]) or 1
                size = int(size * min(1.0, len(self._columns) / width))
            except DataSourceError:
                pass
        return size

    @property
    def decodes_in_arrow(self) -> bool:
        """Whether reading spends its time in Arrow's decoder, without the GIL, so that a
        small read may run on the consuming process's threads
        (:mod:`streamdata.execution.driver_read`). A subclass may read otherwise: not it."""
        return type(self) is ParquetDatasource

    def estimate_decoded_bytes(self) -> int | None:
        """The Arrow size of the files' columns read, from the first file's footer
        (:func:`~streamdata.io.parquet_sizing.decoded_bytes`, scaled by the files' sizes);
        None when it cannot be told. Unlike :meth:`estimate_inmemory_data_size` (5× the
        files' size, which plans the memory of large reads) it is meant to be accurate: the
        read-parallelism rule tells a small read by it."""
        sizes = [f.size for f in self._files]
        if self._user_schema is not None or not sizes or any(s is None for s in sizes):
            return None
        try:
            self._data_schema()
        except DataSourceError:
            return None
        if self._first_footer is None or not self._first_footer[1]:
            return None
        md, size = self._first_footer
        sample = decoded_bytes(md, self._columns)
        if sample is None:
            return None
        return int(sum(sizes) * sample / size)  # type: ignore[arg-type, operator]

    def unified_schema(self) -> pa.Schema:
        """The schema of all the files together, reading every footer.

        Raises:
            SchemaError: two files disagree on a column's type (naming both files).
        """
        def one(path: str) -> tuple[str, pa.Schema]:
            return path, self._read_footer(path).schema.to_arrow_schema()

        schemas = io_map(one, [f.path for f in self._files], concurrent=self._remote())
        ref_path, unified = schemas[0]
        owners = {f.name: ref_path for f in unified}
        for path, schema in schemas[1:]:
            for field in schema:
                idx = unified.get_field_index(field.name)
                if idx < 0:
                    unified = unified.append(field)
                    owners[field.name] = path
                    continue
                merged = conform_schema(pa.schema([unified.field(idx)]), pa.schema([field]),
                                        path=unstrip(self._fs, path),
                                        reference=unstrip(self._fs, owners[field.name]))
                unified = unified.set(idx, merged.field(0))
        return self._finish_schema(unified)

    # ------------------------------------------------------------------ pushdown

    def apply_projection(self, columns: list[str]) -> "ParquetDatasource":
        out = super().apply_projection(columns)
        available = self._finish_schema_unprojected()
        for c in columns:
            if c not in available:
                raise ColumnNotFoundError(c, available)
        return out  # type: ignore[return-value]

    def _finish_schema_unprojected(self) -> list[str]:
        saved = self._columns
        try:
            self._columns = None
            return self.schema().names
        finally:
            self._columns = saved

    def supports_predicate_pushdown(self) -> bool:
        return True

    def apply_predicate(self, predicate: "Expr") -> "ParquetDatasource":
        if not hasattr(predicate, "to_arrow"):
            raise PlanError(f"a predicate must be an expression, got {type(predicate).__name__}")
        out = copy.copy(self)
        in_arrow = getattr(predicate, "is_pyarrow_convertible", lambda: True)() and \
            getattr(predicate, "is_idempotent", lambda: True)()
        if not in_arrow or (self._include_paths and "path" in predicate.columns()):
            # needs the path column, or runs in Python (a UDF): evaluated on each table read
            out._post_predicates = self._post_predicates + (predicate,)
        else:
            out._predicates = self._predicates + (predicate,)
        return out

    def arrow_filter(self) -> "pc.Expression | None":
        """All predicates as one pyarrow expression (None when there is none)."""
        parts = [p.to_arrow() for p in self._predicates]
        if self._arrow_filter is not None:
            parts.append(self._arrow_filter)
        if not parts:
            return None
        out = parts[0]
        for p in parts[1:]:
            out = out & p
        return out

    # ------------------------------------------------------------------ planning

    def _partition_only_terms(self) -> list[Any]:
        names = set(self._partition_schema.names)
        if not names or not self._predicates:
            return []

        terms = [t for p in self._predicates for t in conjuncts(p)]
        return [t for t in terms if t.columns() and set(t.columns()) <= names]

    def _prune_files(self) -> list[int]:
        """Indices of the files whose partition values may satisfy the predicates."""
        terms = self._partition_only_terms()
        if not terms:
            return list(range(len(self._files)))
        table = pa.Table.from_pylist(self._partition_values, schema=self._partition_schema)
        keep = None
        for term in terms:
            mask = term.evaluate(table)
            mask = pa.chunked_array([mask]) if isinstance(mask, pa.Array) else mask
            mask = mask.fill_null(False)
            keep = mask if keep is None else pa.compute.and_(keep, mask)
        return [i for i, k in enumerate(keep.to_pylist()) if k]  # type: ignore[union-attr]

    def plan_splits(self, parallelism: int) -> list[list[FileSplit]]:
        keep = self._prune_files()
        if len(keep) == len(self._files):
            return super().plan_splits(parallelism)
        pruned = copy.copy(self)
        pruned._files = [self._files[i] for i in keep]
        groups = FileBasedDatasource.plan_splits(pruned, parallelism)
        return [[FileSplit(s.path, s.size, keep[s.index], s.start, s.end) for s in g] for g in groups]

    def _split_file(self, file: FileInfo, index: int, pieces: int) -> list[FileSplit]:
        """A byte range reads the row groups whose midpoints fall in it, so a file is cut
        into no more pieces than it has row groups (the others would read nothing)."""
        if pieces > 1 and file.size:
            try:
                pieces = min(pieces, self._read_footer(file.path).num_row_groups)
            except DataSourceError:
                pass  # the read reports the file
        return super()._split_file(file, index, pieces)

    def _task_source(self) -> "ParquetDatasource":
        self._data_schema()  # one footer on the driver: the schema every task reads into
        out = super()._task_source()
        out._footers = None
        out._first_footer = None
        out.stats = {}
        return out  # type: ignore[return-value]

    # ------------------------------------------------------------------ worker side

    def _partition_expression(self, values: dict[str, Any]) -> Any:
        import pyarrow.compute as pc

        expr = None
        for f in self._partition_schema:
            v = values.get(f.name)
            term = pc.field(f.name).is_null() if v is None else (pc.field(f.name) == pa.scalar(v, f.type))
            expr = term if expr is None else expr & term
        return expr

    def _direct_decode(self, arrow_fs: Any, physical: pa.Schema, read_schema: pa.Schema,
                       columns: list[str]) -> list[str] | None:
        """The columns to decode when a local file is read without the dataset scanner."""
        import pyarrow.fs as pafs

        if self._partition_schema or self._arrow_filter is not None:
            return None  # partition values and a user's pyarrow filter need the scanner
        if not isinstance(arrow_fs, pafs.LocalFileSystem):
            return None  # remote reads keep the scanner's coalesced, pre-buffered reads
        return direct_read_plan(physical, read_schema, columns, self._predicates)

    def physical_columns(self) -> list[str] | None:
        if self._post_predicates:
            return None  # the predicates may read any column; projection happens after them
        return super().physical_columns()

    def _postprocess(self, table: pa.Table, split: FileSplit) -> pa.Table:
        if not self._post_predicates:
            return super()._postprocess(table, split)
        table = decode_kept(table)  # the predicates (Python) see each column as its own type
        saved = self._columns
        self._columns = None  # keep every column until the predicates ran
        try:
            table = super()._postprocess(table, split)
        finally:
            self._columns = saved
        for predicate in self._post_predicates:
            table = table.filter(predicate.evaluate(table))
        if self._columns is not None:
            table = table.select(self._columns)
        return table

    def _count(self, key: str, n: int) -> None:
        self.stats[key] = self.stats.get(key, 0) + n

    def _needs_scanner(self, arrow_fs: Any) -> bool:
        """Whether the read tasks open each file as a ``pyarrow.dataset`` fragment: for
        partition values, a filter's row-group pruning (statistics) or a remote file
        system. A plain local read takes its footer with ``pyarrow.parquet`` alone, and so
        never imports ``pyarrow.dataset`` (which imports pandas: ~0.3 s of a first query)."""
        import pyarrow.fs as pafs

        return (bool(self._partition_schema) or self.arrow_filter() is not None
                or not isinstance(arrow_fs, pafs.LocalFileSystem))

    def _fragment(self, arrow_fs: Any, split: FileSplit) -> Any:
        import pyarrow.dataset as ds

        kwargs = {}
        if self._partition_schema:
            kwargs["partition_expression"] = self._partition_expression(dict(split.partition))
        return ds.ParquetFileFormat().make_fragment(split.path, filesystem=arrow_fs, **kwargs)

    def read_split(self, fs: Any, split: FileSplit) -> Iterator[pa.Table]:
        where = unstrip(fs, split.path)
        arrow_fs = to_arrow_filesystem(fs)
        frag = self._fragment(arrow_fs, split) if self._needs_scanner(arrow_fs) else None
        if frag is None:
            md = self._read_footer(split.path, arrow_fs)
            physical = md.schema.to_arrow_schema()
        else:
            try:
                physical = frag.physical_schema
            except (pa.ArrowInvalid, OSError) as exc:
                if isinstance(exc, FileNotFoundError):
                    raise
                raise DataSourceError(f"{where}: not a readable Parquet file ({exc})", path=where) from exc
            md = frag.metadata
        expected, reference = self._data_schema()
        partition_names = set(self._partition_schema.names)
        data_expected = pa.schema([f for f in expected if f.name not in partition_names])
        if self._user_schema is not None:  # the user's types win: pyarrow casts to them
            read_schema = data_expected
        else:
            read_schema = conform_schema(data_expected, physical, path=where, reference=reference)
        for f in self._partition_schema:
            read_schema = read_schema.append(f)

        self._count("row_groups_total", md.num_row_groups)
        row_groups = list(range(md.num_row_groups))
        if not split.whole:
            row_groups = [i for i in row_groups
                          if split.start <= _midpoint(md.row_group(i)) < split.end]  # type: ignore[operator]
        filt = self.arrow_filter()
        if frag is not None:
            if not split.whole:
                frag = frag.subset(row_group_ids=row_groups)
            if filt is not None:
                try:
                    frag = frag.subset(filter=filt, schema=read_schema)
                except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                    raise SchemaError(f"cannot apply the predicate {filt} to {where}: {exc}") from exc
            row_groups = [rg.id for rg in frag.row_groups]
        self._count("row_groups_read", len(row_groups))

        wanted = self.physical_columns()
        if wanted is None:
            columns = read_schema.names
        else:
            columns = list(wanted) + [c for c in (self._columns or []) if c in partition_names]
            for c in columns:
                if c not in read_schema.names:
                    raise ColumnNotFoundError(c, read_schema.names + (["path"] if self._include_paths else []))
        out_schema = pa.schema([read_schema.field(c) for c in columns])
        produced = False
        decode = self._direct_decode(arrow_fs, physical, read_schema, columns)
        if decode is not None and row_groups:
            self._count("files_read_directly", 1)
            source = arrow_fs.open_input_file(split.path)
            try:
                # a subclass's own code may look at the tables: it gets every column expanded
                for table in read_row_groups(source, md, row_groups, decode, out_schema, self._predicates,
                                             self._batch_size, may_keep=type(self) is ParquetDatasource):
                    produced = True
                    yield table
            finally:
                source.close()
        elif row_groups:
            if frag is None:  # the columns need the scanner's casts
                frag = self._fragment(arrow_fs, split).subset(row_group_ids=row_groups)
            batches = frag.to_batches(schema=read_schema, columns=columns, filter=filt,
                                      batch_size=self._batch_size, use_threads=False)
            while True:
                try:
                    batch = next(batches)
                except StopIteration:
                    break
                except (pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
                    raise SchemaError(f"{where} cannot be read as {read_schema}: {exc}") from exc
                if batch.num_rows:
                    produced = True
                    yield pa.Table.from_batches([batch], schema=out_schema)
        if not produced:
            yield out_schema.empty_table()


__all__ = ["ParquetDatasink", "ParquetDatasource", "conform_schema"]

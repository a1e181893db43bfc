"""The base of every file source: listing, task planning, per-file error handling.

A :class:`FileBasedDatasource` lists its files on the driver when it is built (so a
missing path fails at ``read_*`` time), then :meth:`~FileBasedDatasource.get_read_tasks`
groups the files into about ``parallelism`` tasks of similar byte size, keeping their
order (and, for formats that allow it, splits large files into byte ranges). In the
worker, a task reads its files one by one through the subclass's
:meth:`~FileBasedDatasource.read_split`, adds the Hive partition columns and the
``path`` column (``include_paths=True``), selects ``columns``, and shapes the output
into blocks near the DataContext's target sizes.

A file that fails to read raises an error naming it, unless
``DataContext.max_errored_blocks`` allows skipping: then the task warns, naming the
file, records it in ``ReadTask.skipped_inputs``, and goes on. (The budget is
enforced per read task; a job-wide count needs the executor's help.)
"""

from __future__ import annotations

import copy
import logging
import warnings
from dataclasses import dataclass, replace
from typing import Any, Iterator, Sequence

import pyarrow as pa

from streamdata.context import DataContext
from streamdata.errors import ColumnNotFoundError, DataSourceError, PlanError, SchemaError
from streamdata.block_metadata import BlockMetadata
from streamdata.io.datasource import Datasource
from streamdata.read_task import ReadTask
from streamdata.io.filesystem import FileInfo, expand_paths, resolve_filesystem, unstrip
from streamdata.io.partitioning import add_partition_columns, normalize_partitioning, partition_values
from streamdata.io.sizing import limit_rows, shape_blocks, target_block_sizes

logger = logging.getLogger("streamdata.io")

_DEFAULT = object()


@dataclass(frozen=True, slots=True)
class FileSplit:
    """The part of one file a read task reads: the whole file, or a byte range of it."""

    path: str
    size: int | None
    index: int  # position of the file in the source's file list
    start: int | None = None
    end: int | None = None
    #: the file's Hive partition values, as (name, value) pairs
    partition: tuple[tuple[str, Any], ...] = ()

    @property
    def whole(self) -> bool:
        return self.start is None


class FileBasedDatasource(Datasource):
    """A source reading files on an fsspec filesystem; subclasses implement :meth:`read_split`.

    Args:
        paths: a path, directory, glob, or a list of them.
        filesystem: an fsspec or ``pyarrow.fs`` filesystem (else inferred from the paths).
        columns: the columns to keep (None keeps all); with ``include_paths`` the ``path``
            column is kept too, as in Ray.
        include_paths: add a ``path`` column with each row's file.
        partitioning: ``"hive"``, a :class:`~streamdata.io.partitioning.Partitioning` (``"hive"`` or ``"dir"``) or None.
        file_extensions: keep only files with these extensions (when listing directories).
    """

    name = "ReadFiles"
    #: extensions kept by default when listing directories (None: every file)
    default_file_extensions: tuple[str, ...] | None = None
    #: partitioning used when the caller does not say
    default_partitioning: Any = None
    #: in-memory bytes per file byte, for size estimates
    encoding_ratio: float = 1.0
    #: whether large files may be split into byte ranges read by different tasks
    splittable: bool = False

    def __init__(self, paths: Any, *, filesystem: Any = None, columns: Sequence[str] | None = None,
                 include_paths: bool = False, partitioning: Any = _DEFAULT,
                 file_extensions: Sequence[str] | None | object = _DEFAULT, ignore_missing_paths: bool = False,
                 partition_filter: Any = None, shuffle: Any = None, open_args: dict[str, Any] | None = None) -> None:
        from streamdata.io.file_options import apply_partition_filter, shuffle_files

        fs, resolved = resolve_filesystem(paths, filesystem)
        exts = self.default_file_extensions if file_extensions is _DEFAULT else file_extensions
        if isinstance(exts, str):
            exts = [exts]
        self._fs = fs
        self._files: list[FileInfo] = _expand(fs, resolved, exts, ignore_missing_paths)
        if partition_filter is not None:
            kept = apply_partition_filter(partition_filter, [f.path for f in self._files])
            self._files = [f for f in self._files if f.path in kept]
        self._files = shuffle_files(self._files, shuffle)
        self._open_args = dict(open_args or {})
        part = normalize_partitioning(self.default_partitioning if partitioning is _DEFAULT else partitioning)
        self._partitioning = part
        self._partition_schema, self._partition_values = partition_values(
            part, [f.path for f in self._files])
        if columns is not None:
            if (isinstance(columns, str) or not isinstance(columns, (list, tuple))
                    or not all(isinstance(c, str) for c in columns)):
                raise PlanError(f"columns must be a list of column names, got {columns!r}")
            columns = list(columns)
            if include_paths and "path" not in columns:
                # as Ray: ``columns=`` picks the file's columns; the ``path`` column asked
                # for by ``include_paths=True`` is kept (a later select_columns may drop it)
                columns.append("path")
        self._columns: list[str] | None = columns
        self._include_paths = bool(include_paths)
        self._limit: int | None = None

    # ------------------------------------------------------------------ subclass API

    def read_split(self, fs: Any, split: FileSplit) -> Iterator[pa.Table]:
        """Yield the rows of one file (or byte range) as tables. Runs in the worker.

        A subclass written for Ray implements ``_read_stream(f, path)`` instead: it gets the
        file as a ``pyarrow.NativeFile`` and yields blocks (Arrow tables, pandas DataFrames
        or dicts of columns), each turned into a table here.
        """
        if type(self)._read_stream is FileBasedDatasource._read_stream:
            raise NotImplementedError(f"{type(self).__name__} must implement read_split() "
                                      f"(or Ray's _read_stream(f, path))")
        from streamdata.block import batch_to_table

        what = f"{type(self).__name__}._read_stream on {split.path}"
        with self.open_input(fs, split) as raw, pa.PythonFile(raw, mode="r") as f:
            for block in self._read_stream(f, split.path):
                yield batch_to_table(block, what=what)

    def _read_stream(self, f: Any, path: str) -> Iterator[Any]:
        """Ray's per-file read hook (see :meth:`read_split`); subclasses may implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement _read_stream()")

    def open_input(self, fs: Any, split: FileSplit, *, decompress: bool = True) -> Any:
        """Open a split for reading (using bytes the task prefetched, when it did)."""
        prefetched = getattr(self, "_prefetched", None)
        data = prefetched.get(split.path) if prefetched else None
        if isinstance(data, BaseException):
            raise data
        return open_input(fs, split, decompress=decompress, data=data, **getattr(self, "_open_args", {}))

    #: whether tasks may prefetch small files concurrently (readers that go through open_input)
    prefetch_small_files: bool = True

    def finalize_block(self, table: pa.Table) -> pa.Table:
        """Last touch on each block a task yields (after coalescing). Runs in the worker."""
        return table

    def physical_columns(self) -> list[str] | None:
        """The columns to read from the files themselves (``columns`` minus partition and path)."""
        if self._columns is None:
            return None
        derived = set(self._partition_schema.names) | ({"path"} if self._include_paths else set())
        return [c for c in self._columns if c not in derived]

    # ------------------------------------------------------------------ metadata

    @property
    def filesystem(self) -> Any:
        return self._fs

    def files(self) -> list[FileInfo]:
        return list(self._files)

    def input_files(self) -> list[str]:
        return [f.path for f in self._files]

    def estimate_inmemory_data_size(self) -> int | None:
        sizes = [f.size for f in self._files]
        if any(s is None for s in sizes):
            return None
        return int(sum(sizes) * self.encoding_ratio)  # type: ignore[arg-type]

    def _derived_fields(self) -> list[pa.Field]:
        fields = list(self._partition_schema)
        if self._include_paths:
            fields.append(pa.field("path", pa.string()))
        return fields

    def _finish_schema(self, data_schema: pa.Schema) -> pa.Schema:
        """A file's data schema plus partition and path columns, projected to ``columns``."""
        fields = list(data_schema)
        names = set(data_schema.names)
        for f in self._derived_fields():
            if f.name not in names:
                fields.append(f)
        schema = pa.schema(fields)
        if self._columns is not None:
            for c in self._columns:
                if c not in schema.names:
                    raise ColumnNotFoundError(c, schema.names)
            schema = pa.schema([schema.field(c) for c in self._columns])
        return schema

    # ------------------------------------------------------------------ pushdown

    def supports_projection_pushdown(self) -> bool:
        return True

    def apply_projection(self, columns: list[str]) -> "FileBasedDatasource":
        columns = list(columns)
        if self._columns is not None:
            for c in columns:
                if c not in self._columns:
                    raise ColumnNotFoundError(c, self._columns)
        out = copy.copy(self)
        out._columns = columns
        return out

    def supports_limit_pushdown(self) -> bool:
        return True

    def apply_limit(self, limit: int) -> "FileBasedDatasource":
        out = copy.copy(self)
        out._limit = int(limit) if self._limit is None else min(self._limit, int(limit))
        return out

    # ------------------------------------------------------------------ planning

    def _split_file(self, file: FileInfo, index: int, pieces: int) -> list[FileSplit]:
        if pieces <= 1 or not file.size:
            return [FileSplit(file.path, file.size, index)]
        step = -(-file.size // pieces)
        return [FileSplit(file.path, min(step, file.size - lo), index, lo, min(file.size, lo + step))
                for lo in range(0, file.size, step)]

    def plan_splits(self, parallelism: int) -> list[list[FileSplit]]:
        """Group the files (or byte ranges of large files) into at most ``parallelism`` tasks.

        Groups are contiguous in file order and of similar byte size: each group ends at the
        split whose running total is nearest its share (files of nearly equal size fall
        into groups of equal counts, not 3, 2, 1 by a few bytes' difference).
        """
        parallelism = max(1, int(parallelism))
        splits: list[FileSplit] = []
        if self.splittable and len(self._files) < parallelism:
            total = sum(f.size or 0 for f in self._files)
            min_piece = max(1, DataContext.get_current().target_min_block_size)
            piece = max(min_piece, -(-total // parallelism))
            for i, f in enumerate(self._files):
                pieces = max(1, -(-(f.size or 0) // piece)) if f.size and f.size > piece else 1
                splits.extend(self._split_file(f, i, pieces))
        else:
            splits = [FileSplit(f.path, f.size, i) for i, f in enumerate(self._files)]
        if len(splits) <= parallelism:
            return [[s] for s in splits]
        weights = [max(1, s.size or 1) for s in splits]
        total = sum(weights)
        groups: list[list[FileSplit]] = []
        current: list[FileSplit] = []
        acc = 0.0
        for i, (s, w) in enumerate(zip(splits, weights)):
            current.append(s)
            acc += w
            remaining_splits = len(splits) - i - 1
            remaining_groups = parallelism - len(groups) - 1
            if remaining_groups <= 0:
                continue
            target = total * (len(groups) + 1) / parallelism
            overshoot = acc + weights[i + 1] - target if remaining_splits else 0.0
            if acc >= target or overshoot > target - acc or remaining_splits <= remaining_groups:
                groups.append(current)
                current = []
        if current:
            groups.append(current)
        return groups

    def _task_source(self) -> "FileBasedDatasource":
        """A copy of this source small enough to ship with every task (no file list)."""
        out = copy.copy(self)
        out._files = []
        out._partition_values = []
        return out

    def _task_metadata(self, group: list[FileSplit]) -> BlockMetadata:
        sizes = [s.size for s in group]
        size = None if any(x is None for x in sizes) else int(sum(sizes) * self.encoding_ratio)  # type: ignore[misc]
        return BlockMetadata(num_rows=None, size_bytes=size, schema=None,
                             input_files=tuple(dict.fromkeys(s.path for s in group)))

    def get_read_tasks(self, parallelism: int) -> list[ReadTask]:
        ctx = DataContext.get_current()
        tasks = []
        for group in self.plan_splits(parallelism):
            source = self._task_source()  # one per task: tasks keep per-task state on it
            if self._partition_schema:
                group = [replace(s, partition=tuple(self._partition_values[s.index].items())) for s in group]
            fn = FileReadFn(source, group, max_errored=ctx.max_errored_blocks, limit=self._limit)
            tasks.append(ReadTask(fn, self._task_metadata(group)))
        return tasks

    # ------------------------------------------------------------------ worker side

    def _postprocess(self, table: pa.Table, split: FileSplit) -> pa.Table:
        if self._partition_schema:
            table = add_partition_columns(table, self._partition_schema, dict(split.partition))
        if self._include_paths and "path" not in table.column_names:
            table = table.append_column(pa.field("path", pa.string()),
                                        pa.repeat(pa.scalar(split.path, pa.string()), table.num_rows))
        if self._columns is not None and table.column_names != self._columns:
            for c in self._columns:
                if c not in table.column_names:
                    raise ColumnNotFoundError(c, table.column_names)
            table = table.select(self._columns)
        return table

    def __repr__(self) -> str:
        return f"{self.name}(files={len(self._files)})"


#: files up to this size are fetched in one request (no metadata round trip) and read from memory
SMALL_FILE_BYTES = 16 * 1024 * 1024
#: small files fetched concurrently ahead of reading them, at most this many bytes / files at once
PREFETCH_BYTES = 64 * 1024 * 1024
PREFETCH_FILES = 128


def _expand(fs: Any, paths: list[str], exts: Any, ignore_missing_paths: bool) -> list[FileInfo]:
    """The files of ``paths``; with ``ignore_missing_paths`` a missing path is skipped."""
    if not ignore_missing_paths:
        return expand_paths(fs, paths, file_extensions=exts)
    try:
        return expand_paths(fs, paths, file_extensions=exts)
    except FileNotFoundError:
        out: list[FileInfo] = []
        for path in paths:
            try:
                out.extend(expand_paths(fs, [path], file_extensions=exts))
            except FileNotFoundError:
                continue
        return out


def open_input(fs: Any, split: FileSplit, *, decompress: bool = True, data: bytes | None = None,
               compression: str | None = "detect", buffer_size: int | None = None) -> Any:
    """A binary file object for ``split``: small files are fetched whole with one request
    (``cat_file``; or ``data`` when already fetched), larger ones are streamed.
    ``decompress`` infers compression from the name unless ``compression`` (pyarrow's
    ``open_input_stream`` argument: ``"detect"``, None or a codec name) says otherwise;
    ``buffer_size`` is the read-ahead block of streamed files.
    """
    import io

    from fsspec.utils import infer_compression

    if compression == "detect":
        compression = infer_compression(split.path) if decompress else None
    elif compression is not None:
        from fsspec.compression import compr

        if compression not in compr:
            raise PlanError(f"arrow_open_stream_args['compression']={compression!r} is not a known codec; "
                            f"known: {sorted(k for k in compr if k)}")
    if data is not None or (split.size is not None and split.size <= SMALL_FILE_BYTES):
        raw: Any = io.BytesIO(fs.cat_file(split.path) if data is None else data)
        if compression:
            from fsspec.compression import compr

            raw = compr[compression](raw, mode="rb")
        return raw
    if buffer_size is not None:
        return fs.open(split.path, "rb", compression=compression, block_size=buffer_size)
    return fs.open(split.path, "rb", compression=compression)


def _with_path(exc: BaseException, fs: Any, path: str) -> BaseException:
    """An error naming the file that failed (the original chained as its cause)."""
    where = unstrip(fs, path)
    if isinstance(exc, (ColumnNotFoundError, SchemaError, DataSourceError)):
        if isinstance(exc, DataSourceError) and exc.path is None:
            exc.path = where
        if where in str(exc):
            return exc
        if isinstance(exc, DataSourceError):
            new: BaseException = type(exc)(f"{where}: {exc}", path=where)
            return new
        return exc
    if isinstance(exc, FileNotFoundError):
        return FileNotFoundError(exc.errno or 2, f"No such file or directory ({exc})", where)
    if isinstance(exc, PermissionError):
        return PermissionError(exc.errno or 13, f"Permission denied ({exc})", where)
    return DataSourceError(f"failed to read {where}: {type(exc).__name__}: {exc}", path=where)


class FileReadFn:
    """The body of a file read task (pickled to the worker). Records skipped files in ``skipped``."""

    def __init__(self, source: FileBasedDatasource, splits: list[FileSplit], *, max_errored: int,
                 limit: int | None) -> None:
        self.source = source
        self.splits = splits
        self.max_errored = max_errored
        self.limit = limit
        self.skipped: list[str] = []

    def _prefetch(self, fs: Any, start: int) -> None:
        """Fetch the small files from ``start`` on concurrently (one batched call)."""
        window: list[str] = []
        total = 0
        for split in self.splits[start:]:
            if not split.whole or split.size is None or split.size > SMALL_FILE_BYTES:
                break
            if window and (total + split.size > PREFETCH_BYTES or len(window) >= PREFETCH_FILES):
                break
            window.append(split.path)
            total += split.size
        if len(window) < 2:
            return
        try:
            fetched = fs.cat(window, on_error="return")
        except Exception:  # noqa: BLE001 - fall back to reading the files one by one
            return
        self.source._prefetched = {p: fetched[p] for p in window if p in fetched}  # type: ignore[attr-defined]
        self._prefetched_until = start + len(window)

    def _tables(self) -> Iterator[pa.Table]:
        src = self.source
        fs = src.filesystem
        can_prefetch = src.prefetch_small_files and getattr(fs, "async_impl", False) and len(self.splits) > 1
        self._prefetched_until = 0
        for i, split in enumerate(self.splits):
            if can_prefetch and i >= self._prefetched_until:
                self._prefetch(fs, i)
            produced = 0
            try:
                for table in src.read_split(fs, split):
                    produced += table.num_rows
                    yield src._postprocess(table, split)
            except (ColumnNotFoundError, KeyboardInterrupt, GeneratorExit):
                raise
            except Exception as exc:  # noqa: BLE001 - every failure is named and maybe skipped
                err = _with_path(exc, fs, split.path)
                if self.max_errored != 0 and (self.max_errored < 0 or len(self.skipped) < self.max_errored):
                    what = unstrip(fs, split.path)
                    note = f" (after {produced} rows)" if produced else ""
                    self.skipped.append(f"{what}: {exc}")
                    msg = (f"skipping unreadable file {what}{note}: {type(exc).__name__}: {exc} "
                           f"(DataContext.max_errored_blocks={self.max_errored})")
                    logger.warning(msg)
                    warnings.warn(msg, RuntimeWarning, stacklevel=2)
                    continue
                if err is exc:
                    raise
                raise err from exc
            finally:
                prefetched = getattr(src, "_prefetched", None)
                if prefetched:
                    prefetched.pop(split.path, None)

    def __call__(self) -> Iterator[pa.Table]:
        min_bytes, max_bytes = target_block_sizes()
        blocks = shape_blocks(self._tables(), min_bytes=min_bytes, max_bytes=max_bytes)
        for block in limit_rows(blocks, self.limit):
            yield self.source.finalize_block(block)

"""Writing a Dataset: ``write_datasink`` and the file formats' ``write_*``.

:class:`WriteMixin` is part of :class:`~streamdata.dataset.Dataset`. Each method adds
one ``Write`` node and hands the plan to :func:`streamdata.execution.write`, which
runs it and drives the datasink's commit protocol.

May import: base modules, :mod:`streamdata.plan` (node types),
:mod:`streamdata.execution`, :mod:`streamdata.dataset_args`, :mod:`streamdata.write_connectors` (the connectors' write
methods), and the io sinks (lazily, by format).

Example:
    >>> import os, tempfile
    >>> import streamdata as sd
    >>> out = os.path.join(tempfile.mkdtemp(), "out")
    >>> sd.range(4).write_parquet(out)
    >>> sd.read_parquet(out).count()
    4
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any, Callable

from streamdata import execution
from streamdata.dataset_args import remote_args
from streamdata.errors import PlanError
from streamdata import write_connectors as _connectors
from streamdata.plan.logical import LogicalPlan, Write

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.io.datasink import Datasink

#: the file sinks of ``write_*``: format → (module, class)
_FILE_SINKS = {"parquet": ("streamdata.io.parquet", "ParquetDatasink"),
               "csv": ("streamdata.io.csv", "CSVDatasink"),
               "json": ("streamdata.io.json", "JSONDatasink"),
               "numpy": ("streamdata.io.numpy", "NumpyDatasink"),
               "orc": ("streamdata.io.orc", "ORCDatasink")}


class WriteMixin:
    """The write methods of a Dataset."""

    _plan: LogicalPlan
    _stats: execution.StatsRecord

    def write_datasink(self, datasink: "Datasink", *, ray_remote_args: dict[str, Any] | None = None,
                       concurrency: int | None = None, **more_remote_args: Any) -> None:
        """Write every row into ``datasink`` (commit on success, roll back on failure).

        ``ray_remote_args`` are the write tasks' options (num_cpus, memory, ...);
        ``concurrency`` caps the write tasks running at once.

        Example:
            >>> import streamdata as sd
            >>> from streamdata.io.datasink import Datasink
            >>> class Counter(Datasink):
            ...     def write(self, blocks, ctx):
            ...         return sum(b.num_rows for b in blocks)
            ...     def on_write_complete(self, results):
            ...         print(sum(results))
            >>> sd.range(10).write_datasink(Counter())
            10
        """
        self._write(datasink, ray_remote_args=ray_remote_args, concurrency=concurrency,
                    more=more_remote_args)

    def _write(self, datasink: "Datasink", *, ray_remote_args: dict[str, Any] | None,
               concurrency: int | None, more: dict[str, Any] | None = None,
               min_rows: int | None = None) -> None:
        from streamdata.io.datasink import Datasink
        if not isinstance(datasink, Datasink):
            raise PlanError(f"write_datasink takes a Datasink, got {type(datasink).__name__}")
        if ray_remote_args is not None and not isinstance(ray_remote_args, dict):
            raise PlanError(f"ray_remote_args must be a dict, got {ray_remote_args!r}")
        remote = remote_args(None, None, None, {**(ray_remote_args or {}), **(more or {})})
        if min_rows is None:  # a sink may ask for it (Ray's Datasink.min_rows_per_write)
            min_rows = getattr(datasink, "min_rows_per_write", None)
        node = Write(inputs=(self._plan.root,), datasink=datasink, concurrency=concurrency,
                     ray_remote_args=remote, min_rows_per_write=min_rows)
        execution.write(LogicalPlan(node), record=self._stats)

    def _write_files(self, kind: str, path: Any, *, filesystem: Any, mode: Any,
                     options: dict[str, Any], common: dict[str, Any]) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise PlanError(f"write_{kind} takes a destination path (str), got {path!r}")
        mode = _mode(mode, kind)
        min_rows = _min_rows(kind, common)
        args_fn = common.get("args_fn")
        if args_fn is not None:  # Ray calls it for the writer's options (not serializable ones)
            if not callable(args_fn):
                raise PlanError(f"write_{kind}: the *_args_fn must be a function returning a "
                                f"dict, got {type(args_fn).__name__}")
            options = {**args_fn(), **options}
        sink = _make_file_sink(kind, os.fspath(path), filesystem=filesystem, mode=mode,
                               options=options)
        provider = common.get("filename_provider")
        if provider is not None:
            from streamdata.io.filename_provider import check_filename_provider

            sink.filename_provider = check_filename_provider(provider)
        if not isinstance(common.get("try_create_dir", True), bool):
            raise PlanError(f"try_create_dir must be a bool, got {common['try_create_dir']!r}")
        stream_args = common.get("arrow_open_stream_args")
        if stream_args is not None and not isinstance(stream_args, dict):
            raise PlanError(f"arrow_open_stream_args must be a dict, got {stream_args!r}")
        self._write(sink, ray_remote_args=common.get("ray_remote_args"),
                    concurrency=common.get("concurrency"), min_rows=min_rows)

    def write_parquet(self, path: str, *, partition_cols: list[str] | None = None,
                      filesystem: Any = None, catalog: Any = None, try_create_dir: bool = True,
                      arrow_open_stream_args: dict[str, Any] | None = None,
                      filename_provider: Any = None,
                      arrow_parquet_args_fn: Callable[[], dict[str, Any]] | None = None,
                      min_rows_per_file: int | None = None, max_rows_per_file: int | None = None,
                      min_bytes_per_file: int | None = None,
                      ray_remote_args: dict[str, Any] | None = None,
                      concurrency: int | None = None, num_rows_per_file: int | None = None,
                      mode: Any = "append", **arrow_parquet_args: Any) -> None:
        """Write Parquet files under ``path`` (one or more per write task).

        ``mode``: ``"append"`` (default), ``"overwrite"``, ``"error"`` or ``"ignore"`` (or a
        :class:`~streamdata.io.save_mode.SaveMode`). ``min_rows_per_file``: each write task gets at
        least that many rows (so files have them, but the last); ``max_rows_per_file``
        starts a new file after that many; ``partition_cols``: Hive directories
        ``col=value/``; ``filename_provider``: names the files; ``arrow_parquet_args``
        (and ``arrow_parquet_args_fn()``) go to the Parquet writer. ``try_create_dir`` and
        ``arrow_open_stream_args`` are accepted (destinations are created as needed).
        """
        if catalog is not None:
            raise NotImplementedError("write_parquet(catalog=...) writes through a data catalog "
                                      "(Ray's Catalog); not available here, write to a path")
        if min_bytes_per_file is not None:
            raise NotImplementedError("write_parquet(min_bytes_per_file=...) is not supported; "
                                      "use min_rows_per_file=...")
        if partition_cols is not None:
            arrow_parquet_args["partition_cols"] = list(partition_cols)
        if max_rows_per_file is not None:
            arrow_parquet_args["max_rows_per_file"] = max_rows_per_file
        self._write_files("parquet", path, filesystem=filesystem, mode=mode,
                          options=arrow_parquet_args, common=dict(
                              try_create_dir=try_create_dir, filename_provider=filename_provider,
                              arrow_open_stream_args=arrow_open_stream_args,
                              args_fn=arrow_parquet_args_fn, min_rows_per_file=min_rows_per_file,
                              num_rows_per_file=num_rows_per_file,
                              ray_remote_args=ray_remote_args, concurrency=concurrency))

    def write_csv(self, path: str, *, filesystem: Any = None, try_create_dir: bool = True,
                  arrow_open_stream_args: dict[str, Any] | None = None,
                  filename_provider: Any = None,
                  arrow_csv_args_fn: Callable[[], dict[str, Any]] | None = None,
                  min_rows_per_file: int | None = None,
                  ray_remote_args: dict[str, Any] | None = None, concurrency: int | None = None,
                  num_rows_per_file: int | None = None, mode: Any = "append",
                  **arrow_csv_args: Any) -> None:
        """Write CSV files under ``path`` (options as :meth:`write_parquet`'s; the
        ``arrow_csv_args`` go to the CSV writer, e.g. ``write_options=``)."""
        self._write_files("csv", path, filesystem=filesystem, mode=mode, options=arrow_csv_args,
                          common=dict(try_create_dir=try_create_dir,
                                      filename_provider=filename_provider,
                                      arrow_open_stream_args=arrow_open_stream_args,
                                      args_fn=arrow_csv_args_fn,
                                      min_rows_per_file=min_rows_per_file,
                                      num_rows_per_file=num_rows_per_file,
                                      ray_remote_args=ray_remote_args, concurrency=concurrency))

    def write_json(self, path: str, *, filesystem: Any = None, try_create_dir: bool = True,
                   arrow_open_stream_args: dict[str, Any] | None = None,
                   filename_provider: Any = None,
                   pandas_json_args_fn: Callable[[], dict[str, Any]] | None = None,
                   min_rows_per_file: int | None = None,
                   ray_remote_args: dict[str, Any] | None = None, concurrency: int | None = None,
                   num_rows_per_file: int | None = None, mode: Any = "append",
                   **pandas_json_args: Any) -> None:
        """Write JSON-lines files under ``path`` (options as :meth:`write_parquet`'s)."""
        self._write_files("json", path, filesystem=filesystem, mode=mode,
                          options=_json_options(pandas_json_args),
                          common=dict(try_create_dir=try_create_dir,
                                      filename_provider=filename_provider,
                                      arrow_open_stream_args=arrow_open_stream_args,
                                      args_fn=_json_args_fn(pandas_json_args_fn),
                                      min_rows_per_file=min_rows_per_file,
                                      num_rows_per_file=num_rows_per_file,
                                      ray_remote_args=ray_remote_args, concurrency=concurrency))

    def write_orc(self, path: str, *, filesystem: Any = None, try_create_dir: bool = True,
                  arrow_open_stream_args: dict[str, Any] | None = None,
                  filename_provider: Any = None,
                  arrow_orc_args_fn: Callable[[], dict[str, Any]] | None = None,
                  min_rows_per_file: int | None = None,
                  ray_remote_args: dict[str, Any] | None = None, concurrency: int | None = None,
                  mode: Any = "append", **arrow_orc_args: Any) -> None:
        """Write ORC files under ``path`` with ``pyarrow.orc`` (options as :meth:`write_parquet`'s;
        ``arrow_orc_args`` go to ``pyarrow.orc.ORCWriter``, e.g. ``compression="zstd"``)."""
        self._write_files("orc", path, filesystem=filesystem, mode=mode, options=arrow_orc_args,
                          common=dict(try_create_dir=try_create_dir,
                                      filename_provider=filename_provider,
                                      arrow_open_stream_args=arrow_open_stream_args,
                                      args_fn=arrow_orc_args_fn, min_rows_per_file=min_rows_per_file,
                                      ray_remote_args=ray_remote_args, concurrency=concurrency))

    def write_numpy(self, path: str, *, column: str, filesystem: Any = None,
                    try_create_dir: bool = True,
                    arrow_open_stream_args: dict[str, Any] | None = None,
                    filename_provider: Any = None, min_rows_per_file: int | None = None,
                    ray_remote_args: dict[str, Any] | None = None, concurrency: int | None = None,
                    num_rows_per_file: int | None = None, mode: Any = "append") -> None:
        """Write column ``column`` as ``.npy`` files under ``path``."""
        if not isinstance(column, str):
            raise PlanError(f"write_numpy column must be a column name, got {column!r}")
        self._write_files("numpy", path, filesystem=filesystem, mode=mode,
                          options=dict(column=column),
                          common=dict(try_create_dir=try_create_dir,
                                      filename_provider=filename_provider,
                                      arrow_open_stream_args=arrow_open_stream_args,
                                      min_rows_per_file=min_rows_per_file,
                                      num_rows_per_file=num_rows_per_file,
                                      ray_remote_args=ray_remote_args, concurrency=concurrency))

    # ------------------------------------------------------------------ connectors (streamdata/write_connectors.py)
    write_sql = _connectors.write_sql
    write_lance = _connectors.write_lance
    write_iceberg = _connectors.write_iceberg
    write_delta = _connectors.write_delta
    write_tfrecords = _connectors.write_tfrecords
    write_webdataset = _connectors.write_webdataset
    write_images = _connectors.write_images
    to_dask = _connectors.to_dask
    to_daft = _connectors.to_daft
    to_spark = _connectors.to_spark


#: pandas ``to_json`` options that describe JSON lines (what the sink writes anyway)
_PANDAS_JSON_DEFAULTS = {"orient": "records", "lines": True}


def _json_options(options: dict[str, Any]) -> dict[str, Any]:
    """Drop pandas' ``orient="records", lines=True`` (the sink's format); refuse others."""
    out = dict(options)
    for key, value in _PANDAS_JSON_DEFAULTS.items():
        if key in out:
            if out[key] != value:
                raise PlanError(f"write_json writes JSON lines; {key}={out[key]!r} is not "
                                f"supported (only {key}={value!r})")
            del out[key]
    return out


def _json_args_fn(fn: Any) -> Any:
    if fn is None:
        return None
    return lambda: _json_options(fn())


def _mode(mode: Any, kind: str) -> str:
    from streamdata.io.save_mode import SaveMode
    if isinstance(mode, SaveMode):
        mode = mode.value
    if mode not in ("append", "overwrite", "error", "ignore"):
        raise PlanError(f"write_{kind} mode must be 'append', 'overwrite', 'error' or 'ignore' "
                        f"(or a SaveMode of those), got {mode!r}")
    return mode


def _min_rows(kind: str, common: dict[str, Any]) -> int | None:
    value, legacy = common.get("min_rows_per_file"), common.get("num_rows_per_file")
    if value is not None and legacy is not None:
        raise PlanError(f"write_{kind}: pass min_rows_per_file (num_rows_per_file is its old "
                        f"name), not both")
    value = value if value is not None else legacy
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise PlanError(f"write_{kind} min_rows_per_file must be a positive int, got {value!r}")
    return value



def _make_file_sink(kind: str, path: str, *, filesystem: Any, mode: str,
                    options: dict[str, Any]) -> "Datasink":
    module, cls = _FILE_SINKS[kind]
    sink_cls = getattr(importlib.import_module(module), cls)
    return sink_cls(path, filesystem=filesystem, mode=mode, **options)


__all__ = ["WriteMixin"]

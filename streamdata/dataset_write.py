"""Writing a Dataset: ``write_datasink`` and the file formats' ``write_*``.

:class:`WriteMixin` is part of :class:`~streamdata.dataset.Dataset`. Each method adds
one ``Write`` node and hands the plan to :func:`streamdata.execution.write`, which
runs it and drives the datasink's commit protocol.

May import: base modules, :mod:`streamdata.plan` (node types),
:mod:`streamdata.execution`, :mod:`streamdata.write_connectors` (the connectors' write
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
from typing import TYPE_CHECKING, Any

from streamdata import execution
from streamdata import write_connectors as _connectors
from streamdata.plan.logical import LogicalPlan, Write

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.io.datasink import Datasink

#: the file sinks of ``write_*``: format → (module, class)
_FILE_SINKS = {"parquet": ("streamdata.io.parquet", "ParquetDatasink"),
               "csv": ("streamdata.io.csv", "CSVDatasink"),
               "json": ("streamdata.io.json", "JSONDatasink"),
               "numpy": ("streamdata.io.numpy", "NumpyDatasink")}


class WriteMixin:
    """The write methods of a Dataset."""

    _plan: LogicalPlan
    _stats: execution.StatsRecord

    def write_datasink(self, datasink: "Datasink", *, ray_remote_args: dict[str, Any] | None = None,
                       concurrency: int | None = None, **remote_args: Any) -> None:
        """Write every row into ``datasink`` (commit on success, roll back on failure).

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
        ray_remote_args = {**(ray_remote_args or {}), **remote_args}  # Ray passes a dict
        node = Write(inputs=(self._plan.root,), datasink=datasink, concurrency=concurrency,
                     ray_remote_args=ray_remote_args)
        execution.write(LogicalPlan(node), record=self._stats)

    def _write_files(self, kind: str, path: str, *, filesystem: Any, mode: str,
                     options: dict[str, Any]) -> None:
        concurrency = options.pop("concurrency", None)
        remote = options.pop("ray_remote_args", None) or {}
        sink = _make_file_sink(kind, path, filesystem=filesystem, mode=mode, options=options)
        self.write_datasink(sink, concurrency=concurrency, **remote)

    def write_parquet(self, path: str, *, filesystem: Any = None, mode: str = "append",
                      **options: Any) -> None:
        """Write Parquet files under ``path`` (one or more per write task).

        ``mode``: ``"append"`` (default), ``"overwrite"``, ``"error"`` or ``"ignore"``.
        """
        self._write_files("parquet", path, filesystem=filesystem, mode=mode, options=options)

    def write_csv(self, path: str, *, filesystem: Any = None, mode: str = "append",
                  **options: Any) -> None:
        """Write CSV files under ``path``."""
        self._write_files("csv", path, filesystem=filesystem, mode=mode, options=options)

    def write_json(self, path: str, *, filesystem: Any = None, mode: str = "append",
                   **options: Any) -> None:
        """Write JSON-lines files under ``path``."""
        self._write_files("json", path, filesystem=filesystem, mode=mode, options=options)

    def write_numpy(self, path: str, *, column: str, filesystem: Any = None,
                    mode: str = "append", **options: Any) -> None:
        """Write column ``column`` as ``.npy`` files under ``path``."""
        self._write_files("numpy", path, filesystem=filesystem, mode=mode,
                          options=dict(options, column=column))

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


def _make_file_sink(kind: str, path: str, *, filesystem: Any, mode: str,
                    options: dict[str, Any]) -> "Datasink":
    module, cls = _FILE_SINKS[kind]
    sink_cls = getattr(importlib.import_module(module), cls)
    return sink_cls(path, filesystem=filesystem, mode=mode, **options)


__all__ = ["WriteMixin"]

"""Writing a Dataset: ``write_datasink`` and the file formats' ``write_*``.

:class:`WriteMixin` is part of :class:`~streamdata.dataset.Dataset`. Each method adds
one ``Write`` node and hands the plan to :func:`streamdata.execution.write`, which
runs it and drives the datasink's commit protocol.

May import: base modules, :mod:`streamdata.plan` (node types),
:mod:`streamdata.execution`, and the io sinks (lazily, by format).

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

    def write_datasink(self, datasink: "Datasink", *, concurrency: int | None = None,
                       **ray_remote_args: Any) -> None:
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


def _make_file_sink(kind: str, path: str, *, filesystem: Any, mode: str,
                    options: dict[str, Any]) -> "Datasink":
    module, cls = _FILE_SINKS[kind]
    sink_cls = getattr(importlib.import_module(module), cls)
    return sink_cls(path, filesystem=filesystem, mode=mode, **options)


__all__ = ["WriteMixin"]

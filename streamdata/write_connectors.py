"""The sinks and conversions behind ``Dataset.write_sql`` / ``write_lance`` / ``write_iceberg`` /
``write_delta`` / ``write_tfrecords`` / ``write_webdataset`` / ``write_images`` and
``to_dask`` / ``to_daft`` / ``to_spark`` (Ray Data's names and parameters).

``Dataset`` binds the functions below as its methods (``Dataset.write_lance`` is
:func:`write_lance`); each builds its sink and calls ``write_datasink``, and each sink
commits only when every write task succeeded.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Callable, Protocol

from streamdata.errors import PlanError

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.io.datasink import Datasink


class Writable(Protocol):
    """What the functions below use of the Dataset they are bound to."""

    def write_datasink(self, datasink: "Datasink", **options: Any) -> None: ...
    def iter_batches(self, **options: Any) -> Iterable[Any]: ...
    def schema(self) -> Any: ...
    def to_arrow(self) -> Any: ...

#: Ray's arguments of file writers that mean nothing here (accepted, ignored)
_IGNORED_FILE_ARGS = {"try_create_dir", "arrow_open_stream_args", "min_rows_per_file"}


def _file_mode(mode: Any) -> str:
    from streamdata.io.lance import mode_name

    return mode_name(mode)


def _split_remote(options: dict[str, Any]) -> tuple[int | None, dict[str, Any]]:
    concurrency = options.pop("concurrency", None)
    remote = dict(options.pop("ray_remote_args", None) or {})
    return concurrency, remote


def write(ds: Writable, kind: str, *args: Any, **options: Any) -> None:
    """Build the ``kind`` sink from Ray's arguments and write ``ds`` into it."""
    concurrency, remote = _split_remote(options)
    sink = make_sink(kind, *args, **options)
    ds.write_datasink(sink, concurrency=concurrency, **remote)


def make_sink(kind: str, *args: Any, **options: Any) -> "Datasink":
    """The sink of ``Dataset.write_<kind>``."""
    if kind == "sql":
        from streamdata.io.sql import SQLDatasink

        return SQLDatasink(*args, **options)
    if kind == "lance":
        from streamdata.io.lance import LanceDatasink

        for k in ("table_id", "namespace_impl", "namespace_properties"):
            if options.pop(k, None) is not None:
                raise NotImplementedError(f"write_lance({k}=...) (Lance namespaces) is not supported; pass a path")
        return LanceDatasink(*args, **options)
    if kind == "iceberg":
        from streamdata.io.iceberg import IcebergDatasink

        return IcebergDatasink(*args, **options)
    if kind == "delta":
        from streamdata.io.delta import DeltaDatasink

        if options.pop("catalog", None) is not None:
            raise NotImplementedError("write_delta(catalog=...) (Unity Catalog) is not supported; pass a path")
        return DeltaDatasink(*args, **options)
    file_sinks = {"tfrecords": ("streamdata.io.tfrecords", "TFRecordDatasink"),
                  "webdataset": ("streamdata.io.webdataset", "WebDatasetDatasink"),
                  "images": ("streamdata.io.images", "ImageDatasink")}
    if kind in file_sinks:
        import importlib

        module, cls = file_sinks[kind]
        for k in _IGNORED_FILE_ARGS:
            options.pop(k, None)
        provider = options.pop("filename_provider", None)
        rows = options.pop("num_rows_per_file", None)
        if rows is not None:
            options["max_rows_per_file"] = rows
        options["mode"] = _file_mode(options.get("mode", "append"))
        sink = getattr(importlib.import_module(module), cls)(*args, **options)
        if provider is not None:
            from streamdata.io.filename_provider import check_filename_provider

            sink.filename_provider = check_filename_provider(provider)
        return sink
    raise PlanError(f"no sink named {kind!r}")


# ---------------------------------------------------------------------------- Dataset methods (Ray's signatures)
# ``Dataset`` binds these as its methods: ``write_sql = write_connectors.write_sql`` and so on.


def write_sql(self: Writable, sql: str, connection_factory: Callable[[], Any],
              ray_remote_args: dict[str, Any] | None = None, concurrency: int | None = None) -> None:
    """Run ``sql`` (an INSERT with one placeholder per column, in the driver's paramstyle) over
    every row, over DB-API 2 connections from ``connection_factory``; each write task inserts
    its rows in one transaction (rolled back if a row fails).

    Example:
        >>> import streamdata as sd, sqlite3, tempfile, os
        >>> db = os.path.join(tempfile.mkdtemp(), "t.db")
        >>> c = sqlite3.connect(db); _ = c.execute("CREATE TABLE t (x INTEGER)"); c.close()
        >>> sd.range(3).write_sql("INSERT INTO t VALUES (?)", lambda: sqlite3.connect(db))
        >>> sqlite3.connect(db).execute("SELECT sum(x) FROM t").fetchone()
        (3,)
    """
    write(self, "sql", sql, connection_factory, ray_remote_args=ray_remote_args, concurrency=concurrency)


def write_lance(self: Writable, path: str, *, schema: Any = None, mode: Any = "create",
                min_rows_per_file: int = 1024 * 1024, max_rows_per_file: int = 64 * 1024 * 1024,
                data_storage_version: str | None = None, storage_options: dict[str, Any] | None = None,
                table_id: list[str] | None = None, namespace_impl: str | None = None,
                namespace_properties: dict[str, str] | None = None, ray_remote_args: dict[str, Any] | None = None,
                concurrency: int | None = None) -> None:
    """Write a Lance dataset: fragments written by the tasks, committed in one transaction
    (``mode="create"`` refuses an existing dataset; ``"append"``, ``"overwrite"``)."""
    write(self, "lance", path, schema=schema, mode=mode, min_rows_per_file=min_rows_per_file,
          max_rows_per_file=max_rows_per_file, data_storage_version=data_storage_version,
          storage_options=storage_options, table_id=table_id, namespace_impl=namespace_impl,
          namespace_properties=namespace_properties, ray_remote_args=ray_remote_args, concurrency=concurrency)


def write_iceberg(self: Writable, table_identifier: str, catalog_kwargs: dict[str, Any] | None = None,
                  catalog: Any = None, snapshot_properties: dict[str, str] | None = None, mode: Any = "append",
                  overwrite_filter: Any = None, upsert_kwargs: dict[str, Any] | None = None,
                  overwrite_kwargs: dict[str, Any] | None = None, ray_remote_args: dict[str, Any] | None = None,
                  concurrency: int | None = None) -> None:
    """Append to (``mode="append"``) or overwrite an existing Iceberg table, in one snapshot."""
    write(self, "iceberg", table_identifier, catalog_kwargs=catalog_kwargs, catalog=catalog,
          snapshot_properties=snapshot_properties, mode=mode, overwrite_filter=overwrite_filter,
          upsert_kwargs=upsert_kwargs, overwrite_kwargs=overwrite_kwargs, ray_remote_args=ray_remote_args,
          concurrency=concurrency)


def write_delta(self: Writable, path: str, *, catalog: Any = None, mode: Any = "append",
                partition_by: list[str] | None = None, storage_options: dict[str, str] | None = None,
                schema_mode: str = "merge", filesystem: Any = None, name: str | None = None,
                description: str | None = None, ray_remote_args: dict[str, Any] | None = None,
                concurrency: int | None = None) -> None:
    """Write a Delta Lake table in one commit (``mode="append"|"overwrite"|"error"|"ignore"``)."""
    write(self, "delta", path, catalog=catalog, mode=mode, partition_by=partition_by,
          storage_options=storage_options, schema_mode=schema_mode, filesystem=filesystem, name=name,
          description=description, ray_remote_args=ray_remote_args, concurrency=concurrency)


def write_tfrecords(self: Writable, path: str, *, tf_schema: Any = None, filesystem: Any = None,
                    try_create_dir: bool = True, arrow_open_stream_args: dict[str, Any] | None = None,
                    filename_provider: Any = None, min_rows_per_file: int | None = None,
                    ray_remote_args: dict[str, Any] | None = None, concurrency: int | None = None,
                    num_rows_per_file: int | None = None, mode: Any = "append") -> None:
    """Write TFRecord files of ``tf.train.Example`` records (no TensorFlow needed)."""
    write(self, "tfrecords", path, tf_schema=tf_schema, filesystem=filesystem, try_create_dir=try_create_dir,
          arrow_open_stream_args=arrow_open_stream_args, filename_provider=filename_provider,
          min_rows_per_file=min_rows_per_file, ray_remote_args=ray_remote_args, concurrency=concurrency,
          num_rows_per_file=num_rows_per_file, mode=mode)


def write_webdataset(self: Writable, path: str, *, filesystem: Any = None, try_create_dir: bool = True,
                     arrow_open_stream_args: dict[str, Any] | None = None, filename_provider: Any = None,
                     min_rows_per_file: int | None = None, ray_remote_args: dict[str, Any] | None = None,
                     encoder: Any = True, concurrency: int | None = None, num_rows_per_file: int | None = None,
                     mode: Any = "append") -> None:
    """Write WebDataset tar shards: one sample per row, named by ``__key__``."""
    write(self, "webdataset", path, filesystem=filesystem, try_create_dir=try_create_dir,
          arrow_open_stream_args=arrow_open_stream_args, filename_provider=filename_provider,
          min_rows_per_file=min_rows_per_file, ray_remote_args=ray_remote_args, encoder=encoder,
          concurrency=concurrency, num_rows_per_file=num_rows_per_file, mode=mode)


def write_images(self: Writable, path: str, column: str, file_format: str = "png", *, filesystem: Any = None,
                 try_create_dir: bool = True, arrow_open_stream_args: dict[str, Any] | None = None,
                 filename_provider: Any = None, ray_remote_args: dict[str, Any] | None = None,
                 concurrency: int | None = None, mode: Any = "append") -> None:
    """Write column ``column`` (image arrays) as one image file per row."""
    write(self, "images", path, column=column, file_format=file_format, filesystem=filesystem,
          try_create_dir=try_create_dir, arrow_open_stream_args=arrow_open_stream_args,
          filename_provider=filename_provider, ray_remote_args=ray_remote_args, concurrency=concurrency, mode=mode)


def to_dask(self: Writable, meta: Any = None, verify_meta: bool = True) -> Any:
    """A Dask DataFrame with one partition per block of ``ds`` (the blocks are computed now)."""
    try:
        import dask.dataframe as dd
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("to_dask needs dask: pip install 'streamdata[formats]'") from exc
    import pandas as pd

    frames = [f for f in self.iter_batches(batch_size=None, batch_format="pandas") if len(f)]
    if not frames:
        schema = self.schema()
        empty = schema.empty_table().to_pandas() if schema is not None else pd.DataFrame()
        return dd.from_pandas(empty, npartitions=1)
    if meta is None:
        meta = frames[0].iloc[:0]
    out = dd.from_map(lambda f: f, frames, meta=meta, enforce_metadata=verify_meta)
    return out


def to_daft(self: Writable) -> Any:
    """A Daft DataFrame of ``ds`` (needs ``daft``)."""
    try:
        import daft
    except ImportError as exc:
        raise ImportError("to_daft needs daft, which is not installed: pip install getdaft") from exc
    return daft.from_arrow(self.to_arrow())


def to_spark(self: Writable, spark: Any) -> Any:
    """Spark DataFrames: only on the Ray backend (RayDP)."""
    raise NotImplementedError("to_spark needs Spark on Ray (RayDP) and is only available with Ray itself "
                              "(ray.data.Dataset.to_spark); streamdata's local engine does not run Spark")

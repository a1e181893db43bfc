"""The sinks and conversions behind ``Dataset.write_sql`` / ``write_lance`` / ``write_iceberg`` /
``write_delta`` / ``write_tfrecords`` / ``write_webdataset`` / ``write_images`` and
``to_dask`` / ``to_daft`` / ``to_spark`` (Ray Data's names and parameters).

``Dataset`` keeps one small method per name that builds the sink here and calls
``write_datasink``; each sink commits only when every write task succeeded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streamdata.errors import PlanError

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.dataset import Dataset
    from streamdata.io.datasink import Datasink

#: Ray's arguments of file writers that mean nothing here (accepted, ignored)
_IGNORED_FILE_ARGS = {"try_create_dir", "arrow_open_stream_args", "min_rows_per_file"}


def _file_mode(mode: Any) -> str:
    from streamdata.io.lance import mode_name

    return mode_name(mode)


def _split_remote(options: dict[str, Any]) -> tuple[int | None, dict[str, Any]]:
    concurrency = options.pop("concurrency", None)
    remote = dict(options.pop("ray_remote_args", None) or {})
    return concurrency, remote


def write(ds: "Dataset", kind: str, *args: Any, **options: Any) -> None:
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
        if options.get("filename_provider") is not None:
            raise NotImplementedError(f"write_{kind}(filename_provider=...) is not supported; files are named "
                                      f"<write id>_<task>_<n>.<ext>")
        options.pop("filename_provider", None)
        rows = options.pop("num_rows_per_file", None)
        if rows is not None:
            options["max_rows_per_file"] = rows
        options["mode"] = _file_mode(options.get("mode", "append"))
        return getattr(importlib.import_module(module), cls)(*args, **options)
    raise PlanError(f"no sink named {kind!r}")


def to_dask(ds: "Dataset", meta: Any = None, verify_meta: bool = True) -> Any:
    """A Dask DataFrame with one partition per block of ``ds`` (the blocks are computed now)."""
    try:
        import dask.dataframe as dd
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("to_dask needs dask: pip install 'streamdata[formats]'") from exc
    import pandas as pd

    frames = [f for f in ds.iter_batches(batch_size=None, batch_format="pandas") if len(f)]
    if not frames:
        schema = ds.schema()
        empty = schema.empty_table().to_pandas() if schema is not None else pd.DataFrame()
        return dd.from_pandas(empty, npartitions=1)
    if meta is None:
        meta = frames[0].iloc[:0]
    out = dd.from_map(lambda f: f, frames, meta=meta, enforce_metadata=verify_meta)
    return out


def to_daft(ds: "Dataset") -> Any:
    """A Daft DataFrame of ``ds`` (needs ``daft``)."""
    try:
        import daft
    except ImportError as exc:
        raise ImportError("to_daft needs daft, which is not installed: pip install getdaft") from exc
    return daft.from_arrow(ds.to_arrow())


def to_spark(ds: "Dataset", spark: Any) -> Any:
    """Spark DataFrames: only on the Ray backend (RayDP)."""
    raise NotImplementedError("to_spark needs Spark on Ray (RayDP) and is only available with Ray itself "
                              "(ray.data.Dataset.to_spark); streamdata's local engine does not run Spark")

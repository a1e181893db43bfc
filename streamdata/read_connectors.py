"""More sources of Datasets, under Ray Data's names: databases, table formats, row formats,
multimodal files, and other engines' datasets.

Each builds a :class:`~streamdata.io.datasource.Datasource` and goes through
:func:`~streamdata.read_api.read_datasource`, like ``read_parquet``. Ray's scheduling
arguments (``num_cpus``, ``num_gpus``, ``memory``, ``ray_remote_args``, ``concurrency``,
``override_num_blocks``, ``parallelism``) are accepted everywhere; ones that only mean
something on a Ray cluster (``label_selector``, ``accelerator_type``...) are accepted and
ignored. The format libraries are optional (``pip install 'streamdata[formats]'``) and
imported only when used.

Example:
    >>> import streamdata as sd, sqlite3, tempfile, os
    >>> db = os.path.join(tempfile.mkdtemp(), "t.db")
    >>> c = sqlite3.connect(db); _ = c.execute("CREATE TABLE t (x INTEGER)")
    >>> _ = c.executemany("INSERT INTO t VALUES (?)", [(1,), (2,), (3,)]); c.commit(); c.close()
    >>> sd.read_sql("SELECT x FROM t", lambda: sqlite3.connect(db)).sum("x")
    6
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

from streamdata.errors import PlanError
from streamdata.read_api import read_datasource

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.dataset import Dataset

__all__ = [
    "read_sql", "read_lance", "read_iceberg", "read_delta", "read_hudi", "read_avro", "read_tfrecords",
    "read_webdataset", "read_orc", "read_zarr", "read_audio", "read_videos", "from_huggingface", "from_torch",
    "from_dask", "from_daft", "from_spark",
]

#: Ray's scheduling arguments that only a Ray cluster uses: accepted, ignored locally
_CLUSTER_ONLY = ("label_selector", "fallback_strategy", "max_calls", "accelerator_type", "runtime_env")


def _read(fn: str, src: Any, *, num_cpus: float | None = None, num_gpus: float | None = None,
          memory: float | None = None, concurrency: int | None = None, override_num_blocks: int | None = None,
          parallelism: int | None = -1, ray_remote_args: dict[str, Any] | None = None,
          extra: dict[str, Any] | None = None) -> "Dataset":
    extra = {k: v for k, v in (extra or {}).items() if v is not None and v is not False}
    for key in ("shuffle", "partition_filter", "ignore_missing_paths"):
        if key in extra:
            raise NotImplementedError(f"{fn}({key}={extra[key]!r}) is not supported by streamdata's file sources")
    unknown = sorted(k for k in extra if k not in _CLUSTER_ONLY + ("resources", "arrow_open_stream_args",
                                                                   "verbose_open"))
    if unknown:
        raise PlanError(f"{fn}() got unexpected keyword arguments {unknown}")
    remote = dict(ray_remote_args or {})
    for key, value in (("num_cpus", num_cpus), ("num_gpus", num_gpus), ("memory", memory)):
        if value is not None:
            remote[key] = value
    if extra.get("resources"):
        remote["resources"] = extra["resources"]
    return read_datasource(src, override_num_blocks=override_num_blocks, concurrency=concurrency,
                           ray_remote_args=remote or None, parallelism=parallelism)


_EXTRA_KEYS = _CLUSTER_ONLY + ("resources", "shuffle", "partition_filter", "ignore_missing_paths",
                               "arrow_open_stream_args", "verbose_open")


def _extra(ns: dict[str, Any]) -> dict[str, Any]:
    """The Ray-only arguments among a function's locals."""
    return {k: ns[k] for k in _EXTRA_KEYS if k in ns}


# ---------------------------------------------------------------------------- databases


def read_sql(sql: str, connection_factory: Callable[[], Any], *, sql_params: Any = None,
             shard_keys: list[str] | None = None, shard_hash_fn: str = "MD5", parallelism: int = -1,
             num_cpus: float | None = None, num_gpus: float | None = None, memory: float | None = None,
             concurrency: int | None = None, override_num_blocks: int | None = None,
             ray_remote_args: dict[str, Any] | None = None, label_selector: dict[str, str] | None = None, fallback_strategy: list[dict[str, Any]] | None = None,
        max_calls: int | None = None, resources: dict[str, float] | None = None,
        accelerator_type: str | None = None, runtime_env: dict[str, Any] | None = None) -> "Dataset":
    """Read the result of a SQL query over any DB-API 2 connection (``connection_factory()``
    is called in each read task). ``shard_keys`` split the query into hash shards, one per
    task (``MOD(ABS(<shard_hash_fn>(keys)), n) = i``); without them one task reads, streaming.

    Example:
        >>> import streamdata as sd, sqlite3
        >>> sd.read_sql("SELECT 1 AS one", lambda: sqlite3.connect(":memory:")).take_all()
        [{'one': 1}]
    """
    from streamdata.io.sql import SQLDatasource

    src = SQLDatasource(sql, connection_factory, sql_params=sql_params, shard_keys=shard_keys,
                        shard_hash_fn=shard_hash_fn)
    return _read("read_sql", src, num_cpus=num_cpus, num_gpus=num_gpus, memory=memory, concurrency=concurrency,
                 override_num_blocks=override_num_blocks, parallelism=parallelism,
                 ray_remote_args=ray_remote_args, extra=_extra(locals()))


# ---------------------------------------------------------------------------- table formats


def read_lance(uri: str, *, version: int | str | None = None, columns: list[str] | None = None,
               filter: str | None = None, storage_options: dict[str, str] | None = None,
               scanner_options: dict[str, Any] | None = None, num_cpus: float | None = None,
               num_gpus: float | None = None, memory: float | None = None, concurrency: int | None = None,
               override_num_blocks: int | None = None, ray_remote_args: dict[str, Any] | None = None,
               label_selector: dict[str, str] | None = None, fallback_strategy: list[dict[str, Any]] | None = None,
        max_calls: int | None = None, resources: dict[str, float] | None = None,
        accelerator_type: str | None = None, runtime_env: dict[str, Any] | None = None) -> "Dataset":
    """Read a Lance dataset (pylance), one read task per group of fragments; ``columns``,
    ``filter`` (Lance SQL) and expression filters are pushed into the scan."""
    from streamdata.io.lance import LanceDatasource

    src = LanceDatasource(uri, version=version, columns=columns, filter=filter, storage_options=storage_options,
                          scanner_options=scanner_options)
    return _read("read_lance", src, num_cpus=num_cpus, num_gpus=num_gpus, memory=memory, concurrency=concurrency,
                 override_num_blocks=override_num_blocks, ray_remote_args=ray_remote_args, extra=_extra(locals()))


def read_iceberg(*, table_identifier: str, row_filter: Any = None, parallelism: int = -1,
                 selected_fields: tuple[str, ...] = ("*",), snapshot_id: int | None = None,
                 scan_kwargs: dict[str, Any] | None = None, catalog_kwargs: dict[str, Any] | None = None,
                 catalog: Any = None, num_cpus: float | None = None, num_gpus: float | None = None,
                 memory: float | None = None, override_num_blocks: int | None = None,
                 ray_remote_args: dict[str, Any] | None = None, label_selector: dict[str, str] | None = None, fallback_strategy: list[dict[str, Any]] | None = None,
        max_calls: int | None = None, resources: dict[str, float] | None = None,
        accelerator_type: str | None = None, runtime_env: dict[str, Any] | None = None) -> "Dataset":
    """Read an Iceberg table (pyiceberg): the scan is planned on the driver (``row_filter``,
    ``selected_fields``, ``snapshot_id``) and its data files spread over the read tasks."""
    from streamdata.io.iceberg import IcebergDatasource

    src = IcebergDatasource(table_identifier, row_filter=row_filter, selected_fields=selected_fields,
                            snapshot_id=snapshot_id, scan_kwargs=scan_kwargs, catalog_kwargs=catalog_kwargs,
                            catalog=catalog)
    return _read("read_iceberg", src, num_cpus=num_cpus, num_gpus=num_gpus, memory=memory,
                 override_num_blocks=override_num_blocks, parallelism=parallelism,
                 ray_remote_args=ray_remote_args, extra=_extra(locals()))


def read_delta(path: str, version: int | None = None, *, storage_options: dict[str, Any] | None = None,
               filesystem: Any = None, catalog: Any = None, columns: list[str] | None = None,
               parallelism: int = -1, num_cpus: float | None = None, num_gpus: float | None = None,
               memory: float | None = None, include_paths: bool = False, concurrency: int | None = None,
               override_num_blocks: int | None = None, ray_remote_args: dict[str, Any] | None = None,
               shuffle: Any = None, label_selector: dict[str, str] | None = None, fallback_strategy: list[dict[str, Any]] | None = None,
        max_calls: int | None = None, resources: dict[str, float] | None = None,
        accelerator_type: str | None = None, runtime_env: dict[str, Any] | None = None, **arrow_parquet_args: Any) -> "Dataset":
    """Read a Delta Lake table's snapshot (deltalake resolves the files; the Parquet reader
    reads them, with its pushdowns). ``version`` selects an older snapshot."""
    from streamdata.io.delta import delta_files
    from streamdata.io.parquet import ParquetDatasource
    from streamdata.io.partitioning import Partitioning

    if catalog is not None:
        raise NotImplementedError("read_delta(catalog=...) (Unity Catalog) is not supported locally; pass the path")
    if not isinstance(path, str):
        raise PlanError(f"read_delta: path must be the table's directory, got {path!r}")
    files, partition_types = delta_files(path, version, storage_options)
    if not files:
        from streamdata.read_api import from_arrow
        from streamdata.io.delta import _open
        import pyarrow as pa
        schema = pa.schema(_open(path, version, storage_options, PlanError).schema().to_arrow())
        return from_arrow(schema.empty_table())
    src = ParquetDatasource(files, filesystem=filesystem, columns=columns, include_paths=include_paths,
                            partitioning=Partitioning("hive", field_types=partition_types))
    src.name = "ReadDelta"
    return _read("read_delta", src, num_cpus=num_cpus, num_gpus=num_gpus, memory=memory, concurrency=concurrency,
                 override_num_blocks=override_num_blocks, parallelism=parallelism,
                 ray_remote_args=ray_remote_args, extra={**_extra(locals()), **arrow_parquet_args})


def read_hudi(table_uri: str, *, query_type: str = "snapshot", filters: Any = None,
              hudi_options: dict[str, str] | None = None, storage_options: dict[str, str] | None = None,
              num_cpus: float | None = None, num_gpus: float | None = None, memory: float | None = None,
              concurrency: int | None = None, override_num_blocks: int | None = None,
              label_selector: dict[str, str] | None = None, fallback_strategy: list[dict[str, Any]] | None = None,
              max_calls: int | None = None, resources: dict[str, float] | None = None,
              accelerator_type: str | None = None, runtime_env: dict[str, Any] | None = None,
              ray_remote_args: dict[str, Any] | None = None) -> "Dataset":
    """Apache Hudi tables: not supported by streamdata (no local Hudi writer to test a reader
    against); on a Ray cluster use ``ray.data.read_hudi``."""
    raise NotImplementedError(f"read_hudi({table_uri!r}) is not implemented in streamdata: Hudi needs the hudi-rs "
                              f"binding and a Hudi writer, neither of which is part of streamdata; use "
                              f"ray.data.read_hudi on the Ray backend, or export the table to Parquet/Delta")


# ---------------------------------------------------------------------------- row formats


def _files(fn: str, src_cls: Any, paths: Any, *, filesystem: Any, include_paths: bool, partitioning: Any,
           file_extensions: Sequence[str] | None, remote: dict[str, Any], extra: dict[str, Any],
           options: dict[str, Any]) -> "Dataset":
    file_args: dict[str, Any] = {"filesystem": filesystem, "include_paths": include_paths,
                                 "partitioning": partitioning}
    if file_extensions is not None:
        file_args["file_extensions"] = file_extensions
    src = src_cls(paths, **file_args, **options)
    return _read(fn, src, extra=extra, **remote)


def _remote(parallelism: int = -1, num_cpus: float | None = None, num_gpus: float | None = None,
            memory: float | None = None, concurrency: int | None = None, override_num_blocks: int | None = None,
            ray_remote_args: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"parallelism": parallelism, "num_cpus": num_cpus, "num_gpus": num_gpus, "memory": memory,
            "concurrency": concurrency, "override_num_blocks": override_num_blocks,
            "ray_remote_args": ray_remote_args}


def read_avro(paths: Any, *, filesystem: Any = None, parallelism: int = -1, num_cpus: float | None = None,
              num_gpus: float | None = None, memory: float | None = None, partitioning: Any = None,
              include_paths: bool = False, file_extensions: list[str] | None = None,
              concurrency: int | None = None, override_num_blocks: int | None = None,
              ray_remote_args: dict[str, Any] | None = None, arrow_open_stream_args: dict[str, Any] | None = None, partition_filter: Any = None,
        ignore_missing_paths: bool = False, shuffle: Any = None, label_selector: dict[str, str] | None = None, fallback_strategy: list[dict[str, Any]] | None = None,
        max_calls: int | None = None, resources: dict[str, float] | None = None,
        accelerator_type: str | None = None, runtime_env: dict[str, Any] | None = None) -> "Dataset":
    """Read Avro object container files (fastavro), one row per record; the Arrow schema
    follows the file's Avro schema."""
    from streamdata.io.avro import AvroDatasource

    return _files("read_avro", AvroDatasource, paths, filesystem=filesystem, include_paths=include_paths,
                  partitioning=partitioning, file_extensions=file_extensions, extra=_extra(locals()), options={},
                  remote=_remote(parallelism, num_cpus, num_gpus, memory, concurrency, override_num_blocks,
                                 ray_remote_args))


def read_tfrecords(paths: Any, *, filesystem: Any = None, parallelism: int = -1, num_cpus: float | None = None,
                   num_gpus: float | None = None, memory: float | None = None, include_paths: bool = False,
                   tf_schema: Any = None, file_extensions: list[str] | None = None,
                   concurrency: int | None = None, override_num_blocks: int | None = None,
                   tfx_read_options: Any = None, ray_remote_args: dict[str, Any] | None = None,
                   arrow_open_stream_args: dict[str, Any] | None = None, partition_filter: Any = None,
        ignore_missing_paths: bool = False, shuffle: Any = None, label_selector: dict[str, str] | None = None, fallback_strategy: list[dict[str, Any]] | None = None,
        max_calls: int | None = None, resources: dict[str, float] | None = None,
        accelerator_type: str | None = None, runtime_env: dict[str, Any] | None = None) -> "Dataset":
    """Read TFRecord files of ``tf.train.Example`` records without TensorFlow: one column per
    feature; single values become scalars, longer ones lists (Ray's inference), or the types
    ``tf_schema`` gives. ``tfx_read_options`` (:class:`~streamdata.io.tfrecords.TFXReadOptions`)
    sets the batch size and inference."""
    from streamdata.io.tfrecords import TFRecordDatasource

    return _files("read_tfrecords", TFRecordDatasource, paths, filesystem=filesystem, include_paths=include_paths,
                  partitioning=None, file_extensions=file_extensions, extra=_extra(locals()),
                  options={"tf_schema": tf_schema, "tfx_read_options": tfx_read_options},
                  remote=_remote(parallelism, num_cpus, num_gpus, memory, concurrency, override_num_blocks,
                                 ray_remote_args))


def read_webdataset(paths: Any, *, filesystem: Any = None, parallelism: int = -1, num_cpus: float | None = None,
                    num_gpus: float | None = None, memory: float | None = None, decoder: Any = True,
                    fileselect: Any = None, filerename: Any = None, suffixes: Any = None,
                    include_paths: bool = False, file_extensions: list[str] | None = None,
                    concurrency: int | None = None, override_num_blocks: int | None = None,
                    expand_json: bool = False, ray_remote_args: dict[str, Any] | None = None,
                    arrow_open_stream_args: dict[str, Any] | None = None, partition_filter: Any = None,
        ignore_missing_paths: bool = False, shuffle: Any = None, verbose_open: bool = False, label_selector: dict[str, str] | None = None, fallback_strategy: list[dict[str, Any]] | None = None,
        max_calls: int | None = None, resources: dict[str, float] | None = None,
        accelerator_type: str | None = None, runtime_env: dict[str, Any] | None = None) -> "Dataset":
    """Read WebDataset tar shards: one row per sample (files sharing a key), column
    ``__key__`` and one column per extension, decoded by ``decoder`` (``True``: images to
    arrays, json, text, numbers, npy, pickle)."""
    from streamdata.io.webdataset import WebDatasetDatasource

    return _files("read_webdataset", WebDatasetDatasource, paths, filesystem=filesystem,
                  include_paths=include_paths, partitioning=None, file_extensions=file_extensions, extra=_extra(locals()),
                  options={"decoder": decoder, "fileselect": fileselect, "filerename": filerename,
                           "suffixes": suffixes, "expand_json": expand_json},
                  remote=_remote(parallelism, num_cpus, num_gpus, memory, concurrency, override_num_blocks,
                                 ray_remote_args))


def read_orc(paths: Any, *, filesystem: Any = None, parallelism: int = -1, num_cpus: float | None = None,
             num_gpus: float | None = None, memory: float | None = None, partition_filter: Any = None,
             partitioning: Any = None, include_paths: bool = False, ignore_missing_paths: bool = False,
             shuffle: Any = None, file_extensions: list[str] | None = None, concurrency: int | None = None,
             override_num_blocks: int | None = None, label_selector: dict[str, str] | None = None,
             fallback_strategy: list[dict[str, Any]] | None = None, max_calls: int | None = None,
             resources: dict[str, float] | None = None, accelerator_type: str | None = None,
             runtime_env: dict[str, Any] | None = None, ray_remote_args: dict[str, Any] | None = None) -> "Dataset":
    """Read ORC files (``pyarrow.orc``), a stripe at a time; ``select_columns`` is pushed into
    the read."""
    from streamdata.io.orc import ORCDatasource

    return _files("read_orc", ORCDatasource, paths, filesystem=filesystem, include_paths=include_paths,
                  partitioning=partitioning, file_extensions=file_extensions, extra=_extra(locals()), options={},
                  remote=_remote(parallelism, num_cpus, num_gpus, memory, concurrency, override_num_blocks,
                                 ray_remote_args))


def read_zarr(path: str, *, filesystem: Any = None, chunk_shapes: Any = None, array_paths: list[str] | None = None,
              allow_full_metadata_scan: bool = False, align_axis_0: bool = False, overlap: int = 0,
              concurrency: int | None = None, override_num_blocks: int | None = None, num_cpus: float | None = None,
              num_gpus: float | None = None, memory: float | None = None,
              label_selector: dict[str, str] | None = None, fallback_strategy: list[dict[str, Any]] | None = None,
              max_calls: int | None = None, resources: dict[str, float] | None = None,
              accelerator_type: str | None = None, runtime_env: dict[str, Any] | None = None,
              ray_remote_args: dict[str, Any] | None = None) -> "Dataset":
    """Zarr stores: not implemented in streamdata (zarr is not one of its dependencies)."""
    raise NotImplementedError(f"read_zarr({path!r}) is not implemented in streamdata; use ray.data.read_zarr on "
                              f"the Ray backend")


# ---------------------------------------------------------------------------- multimodal


def read_audio(paths: Any, *, filesystem: Any = None, partitioning: Any = None, include_paths: bool = False,
               file_extensions: list[str] | None = None, concurrency: int | None = None,
               override_num_blocks: int | None = None, num_cpus: float | None = None,
               num_gpus: float | None = None, memory: float | None = None,
               ray_remote_args: dict[str, Any] | None = None, arrow_open_stream_args: dict[str, Any] | None = None, partition_filter: Any = None,
        ignore_missing_paths: bool = False, shuffle: Any = None, label_selector: dict[str, str] | None = None, fallback_strategy: list[dict[str, Any]] | None = None,
        max_calls: int | None = None, resources: dict[str, float] | None = None,
        accelerator_type: str | None = None, runtime_env: dict[str, Any] | None = None) -> "Dataset":
    """Read audio files (soundfile): column ``amplitude`` (float32, ``(channels, samples)``)
    and ``sample_rate``."""
    from streamdata.io.audio import AudioDatasource

    return _files("read_audio", AudioDatasource, paths, filesystem=filesystem, include_paths=include_paths,
                  partitioning=partitioning, file_extensions=file_extensions, extra=_extra(locals()), options={},
                  remote=_remote(-1, num_cpus, num_gpus, memory, concurrency, override_num_blocks,
                                 ray_remote_args))


def read_videos(paths: Any, *, filesystem: Any = None, partitioning: Any = None, include_paths: bool = False,
                include_timestamps: bool = False, fps: int | None = None, resize: tuple[int, int] | None = None,
                file_extensions: list[str] | None = None, concurrency: int | None = None,
                override_num_blocks: int | None = None, num_cpus: float | None = None,
                num_gpus: float | None = None, memory: float | None = None,
                ray_remote_args: dict[str, Any] | None = None, arrow_open_stream_args: dict[str, Any] | None = None, partition_filter: Any = None,
        ignore_missing_paths: bool = False, shuffle: Any = None, label_selector: dict[str, str] | None = None, fallback_strategy: list[dict[str, Any]] | None = None,
        max_calls: int | None = None, resources: dict[str, float] | None = None,
        accelerator_type: str | None = None, runtime_env: dict[str, Any] | None = None) -> "Dataset":
    """Read video files (PyAV), one row per frame: ``frame`` (uint8 ``(height, width, 3)``),
    ``frame_index`` (and ``frame_timestamp`` with ``include_timestamps``). Frames are decoded
    in the read tasks and stream out in blocks, so a long video never sits in memory whole."""
    from streamdata.io.video import VideoDatasource

    return _files("read_videos", VideoDatasource, paths, filesystem=filesystem, include_paths=include_paths,
                  partitioning=partitioning, file_extensions=file_extensions, extra=_extra(locals()),
                  options={"include_timestamps": include_timestamps, "fps": fps, "resize": resize},
                  remote=_remote(-1, num_cpus, num_gpus, memory, concurrency, override_num_blocks,
                                 ray_remote_args))


# ---------------------------------------------------------------------------- other engines' datasets


def from_huggingface(dataset: Any, parallelism: int = -1, concurrency: int | None = None,
                     override_num_blocks: int | None = None) -> "Dataset":
    """A Dataset of a Hugging Face ``datasets.Dataset`` (its Arrow table split by rows; a
    memory-mapped cache table is mapped again in the workers, not copied)
    or ``datasets.IterableDataset`` (streamed in Arrow batches by the read tasks).

    Example:
        >>> import streamdata as sd, datasets
        >>> sd.from_huggingface(datasets.Dataset.from_dict({"x": [1, 2]})).take_all()
        [{'x': 1}, {'x': 2}]
    """
    from streamdata.io.huggingface import HuggingFaceDatasource

    return _read("from_huggingface", HuggingFaceDatasource(dataset), concurrency=concurrency,
                 override_num_blocks=override_num_blocks, parallelism=parallelism)


def from_torch(dataset: Any, local_read: bool = False) -> "Dataset":
    """A Dataset of a map-style ``torch.utils.data.Dataset``: one row per item, column ``item``
    (read by index ranges in the read tasks).

    Example:
        >>> import streamdata as sd, torch
        >>> class Squares(torch.utils.data.Dataset):
        ...     def __len__(self): return 3
        ...     def __getitem__(self, i): return i * i
        >>> sd.from_torch(Squares()).take_all()
        [{'item': 0}, {'item': 1}, {'item': 4}]
    """
    from streamdata.io.torch_dataset import TorchDatasource

    return _read("from_torch", TorchDatasource(dataset))


def from_dask(df: Any) -> "Dataset":
    """A Dataset of a Dask DataFrame: one read task per partition (computed in the task)."""
    from streamdata.io.dask_interop import DaskDatasource

    return _read("from_dask", DaskDatasource(df))


def from_daft(df: Any) -> "Dataset":
    """A Dataset of a Daft DataFrame (needs ``daft``: ``pip install getdaft``)."""
    from streamdata.io.dask_interop import daft_to_arrow
    from streamdata.read_api import from_arrow

    return from_arrow(daft_to_arrow(df))


def from_spark(df: Any, *, parallelism: int | None = None, override_num_blocks: int | None = None) -> "Dataset":
    """Spark DataFrames: only on the Ray backend (RayDP); not available in streamdata's local engine."""
    raise NotImplementedError("from_spark needs Spark on Ray (RayDP) and is only available with Ray itself "
                              "(ray.data.from_spark); streamdata's local engine does not run Spark")

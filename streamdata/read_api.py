"""The public sources of Datasets: ``sd.read_*``, ``sd.range``, ``sd.from_*`` (Ray Data's names).

Each builds a :class:`~streamdata.io.datasource.Datasource` and returns
``Dataset(LogicalPlan(Read(datasource=..., override_num_blocks=...)))``; nothing is read
until the Dataset is consumed (file sources list their files now, so a missing path fails
at once). File sources take a path, a directory, a glob or a list of them, on any fsspec
filesystem (``s3://``, ``s3://anonymous@``, ``memory://``, ``file://``, local), or
``filesystem=`` (fsspec or ``pyarrow.fs``).

Part of the facade. May import: base modules, :mod:`streamdata.io` (the sources),
:mod:`streamdata.plan` (the ``Read`` node) and :mod:`streamdata.dataset`; nothing runs here.

Example:
    >>> import streamdata as sd
    >>> sd.range(5).count()
    5
    >>> sd.from_items([{"a": 1}, {"a": 2}]).take_all()
    [{'a': 1}, {'a': 2}]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from streamdata.errors import PlanError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from streamdata.dataset import Dataset
    from streamdata.io.datasource import Datasource

__all__ = [
    "read_datasource", "read_parquet", "read_csv", "read_json", "read_text", "read_binary_files",
    "read_images", "read_numpy", "range", "range_tensor", "from_items", "from_pandas", "from_arrow",
    "from_numpy",
]

_HIVE = "hive"


def read_datasource(datasource: "Datasource", *, override_num_blocks: int | None = None,
                    concurrency: int | None = None, ray_remote_args: dict[str, Any] | None = None,
                    parallelism: int | None = None, num_cpus: float | None = None, num_gpus: float | None = None,
                    memory: float | None = None, compute: Any = None, label_selector: Any = None,
                    fallback_strategy: Any = None, max_calls: int | None = None,
                    resources: dict[str, float] | None = None, accelerator_type: str | None = None,
                    runtime_env: dict[str, Any] | None = None, **read_args: Any) -> "Dataset":
    """A Dataset reading any :class:`~streamdata.io.datasource.Datasource`.

    Args:
        datasource: the source.
        override_num_blocks: the number of read tasks (else chosen from the data size).
        concurrency: the most read tasks running at once.
        ray_remote_args: resources of the read tasks (``num_cpus=``...).
        parallelism: Ray's older name of ``override_num_blocks``.
        num_cpus, num_gpus, memory, resources: resources of each read task (Ray's arguments,
            folded into ``ray_remote_args``); ``label_selector``, ``fallback_strategy``,
            ``max_calls``, ``accelerator_type``, ``runtime_env`` are accepted here (the file
            readers check and honour them as the transforms do, see
            :func:`streamdata.dataset_args.remote_args`). ``compute`` is not supported;
            ``**read_args`` go to ``create_reader`` of a source written for Ray's older
            interface (one with no ``get_read_tasks``), and are an error for any other.

    Example:
        >>> import streamdata as sd
        >>> from streamdata.io.memory import RangeDatasource
        >>> sd.read_datasource(RangeDatasource(3), override_num_blocks=2).take_all()
        [{'id': 0}, {'id': 1}, {'id': 2}]
    """
    from streamdata.dataset import Dataset
    from streamdata.plan.logical import LogicalPlan, Read

    from streamdata.io.datasource import bind_reader, uses_reader

    if override_num_blocks is None and parallelism is not None and parallelism > 0:
        override_num_blocks = parallelism
    if uses_reader(datasource):  # Ray's older interface: create_reader(**read_args) binds the read
        datasource = bind_reader(datasource, read_args)
        read_args = {}
    if compute is not None:  # Ray's older argument: say so rather than ignore it
        raise PlanError("read_datasource: compute= is not supported; pass the options to the Datasource itself")
    if read_args:
        raise PlanError(f"read_datasource: extra read arguments {sorted(read_args)} go to create_reader of a "
                        f"Datasource written for Ray's older interface; {type(datasource).__name__} implements "
                        f"get_read_tasks, so pass the options to the Datasource itself")
    extra = {k: v for k, v in (("num_cpus", num_cpus), ("num_gpus", num_gpus), ("memory", memory),
                                ("resources", resources)) if v is not None}
    if extra:
        ray_remote_args = {**(ray_remote_args or {}), **extra}
    node = Read(datasource=datasource, override_num_blocks=override_num_blocks, concurrency=concurrency,
                ray_remote_args=dict(ray_remote_args or {}))
    return Dataset(LogicalPlan(node))


def _file_args(filesystem: Any, columns: Sequence[str] | None, include_paths: bool, partitioning: Any,
               file_extensions: Sequence[str] | None, default_extensions: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"filesystem": filesystem, "columns": columns, "include_paths": include_paths,
                           "partitioning": partitioning}
    if not default_extensions or file_extensions is not None:
        out["file_extensions"] = file_extensions
    return out


def _file_opts(fn: str, ignore_missing_paths: bool, partition_filter: Any, shuffle: Any,
               open_args: dict[str, Any] | None = None, open_name: str = "arrow_open_stream_args"
               ) -> dict[str, Any]:
    """The file-selection options of a file reader (checked here, applied by the source)."""
    from streamdata.io.file_options import OPEN_STREAM_KEYS, check_open_args

    if not isinstance(ignore_missing_paths, bool):
        raise PlanError(f"{fn}: ignore_missing_paths must be a bool, got {ignore_missing_paths!r}")
    if partition_filter is not None and not callable(partition_filter):
        raise PlanError(f"{fn}: partition_filter must be a PathPartitionFilter (a callable on the list "
                        f"of paths), got {partition_filter!r}")
    allowed = OPEN_STREAM_KEYS if open_name == "arrow_open_stream_args" else ()
    return {"ignore_missing_paths": ignore_missing_paths, "partition_filter": partition_filter,
            "shuffle": shuffle, "open_args": check_open_args(f"{fn}: {open_name}", open_args, allowed)}


def _task_read(src: "Datasource", scope: dict[str, Any]) -> "Dataset":
    """``read_datasource`` with the per-task options a reader received (its ``locals()``),
    checked and folded as the transforms do (:func:`streamdata.dataset_args.remote_args`)."""
    from streamdata.dataset_args import named_options, remote_args

    args = remote_args(scope.get("num_cpus"), scope.get("num_gpus"), scope.get("memory"),
                       scope.get("ray_remote_args") or {}, **named_options(scope))
    return read_datasource(src, override_num_blocks=scope.get("override_num_blocks"),
                           concurrency=scope.get("concurrency"), ray_remote_args=args,
                           parallelism=scope.get("parallelism"))


def _no_extra(fn: str, extra: dict[str, Any]) -> None:
    ignored = {"meta_provider"}
    unknown = sorted(k for k in extra if k not in ignored)
    if unknown:
        raise PlanError(f"{fn}() got unexpected keyword arguments {unknown}")


def read_parquet(paths: Any, *, filesystem: Any = None, columns: Sequence[str] | None = None,
                 include_paths: bool = False, partitioning: Any = _HIVE, override_num_blocks: int | None = None,
                 file_extensions: Sequence[str] | None = None, schema: "pa.Schema | None" = None,
                 filter: "pc.Expression | None" = None, batch_size: int = 65536, concurrency: int | None = None,
                 ray_remote_args: dict[str, Any] | None = None, parallelism: int | None = None,
                 num_cpus: float | None = None, num_gpus: float | None = None, memory: float | None = None,
    resources: dict[str, float] | None = None, accelerator_type: str | None = None,
    runtime_env: dict[str, Any] | None = None, max_calls: int | None = None,
    label_selector: dict[str, str] | None = None, fallback_strategy: list[dict[str, Any]] | None = None,
    ray_remote_args_fn: Any = None, partition_filter: Any = None, shuffle: Any = None, ignore_missing_paths: bool = False,
    include_row_hash: bool = False, skip_paths: str | list[str] | None = None,
    tensor_column_schema: dict[str, Any] | None = None, catalog: Any = None, _block_udf: Any = None,
    **kwargs: Any) -> "Dataset":
    """Read Parquet files (Hive-partitioned directories included).

    ``count()`` reads only the footers; ``columns=``, ``select_columns`` and expression
    filters are pushed into the read (column pruning, row-group pruning by statistics,
    file pruning by partition values).

    Args:
        paths: files, directories, globs, or a list of them.
        filesystem: fsspec or ``pyarrow.fs`` filesystem.
        columns: columns to read (partition columns and ``path`` included).
        include_paths: add a ``path`` column.
        partitioning: ``"hive"`` (default), a ``Partitioning`` (``"hive"`` or ``"dir"`` with ``field_names``) or None.
        override_num_blocks: number of read tasks.
        file_extensions: only files with these extensions (when listing directories).
        schema: read every file into this schema (else the first file's).
        filter: a ``pyarrow.compute.Expression`` applied while reading.
        batch_size: rows decoded at a time.
        _block_udf: Ray's underscore argument, still accepted there: a function from each
            block read (a ``pyarrow.Table``) to the block to use, run in the read task.

    Example:
        >>> import streamdata as sd, pyarrow as pa, pyarrow.parquet as pq, tempfile, os
        >>> d = tempfile.mkdtemp(); pq.write_table(pa.table({"x": [1, 2, 3]}), os.path.join(d, "a.parquet"))
        >>> ds = sd.read_parquet(d)
        >>> ds.count(), ds.filter(expr=sd.col("x") > 1).take_all()
        (3, [{'x': 2}, {'x': 3}])
    """
    from streamdata.io.parquet import ParquetDatasource

    _no_extra("read_parquet", kwargs)
    if include_row_hash:
        raise NotImplementedError("read_parquet(include_row_hash=True) is not supported by streamdata")
    if catalog is not None:
        from streamdata.catalog import ReaderFormat, resolve_table

        resolved = resolve_table(catalog, paths, ReaderFormat.PARQUET)
        paths, filesystem = resolved.path, resolved.filesystem or filesystem
    partition_filter = _skipping(partition_filter, skip_paths)
    src = ParquetDatasource(paths, **_file_opts("read_parquet", ignore_missing_paths, partition_filter, shuffle), schema=schema, filter=filter, batch_size=batch_size,
                            **_file_args(filesystem, columns, include_paths, partitioning, file_extensions))
    if _block_udf is not None and not callable(_block_udf):
        raise PlanError(f"read_parquet: _block_udf must be a function of a pyarrow.Table, got {_block_udf!r}")
    ds = _task_read(src, locals())
    if _block_udf is not None:  # fused into the read task by the optimizer
        ds = ds.map_batches(_block_udf, batch_format="pyarrow", batch_size=None, zero_copy_batch=True)
    return ds if tensor_column_schema is None else _decode_tensors(ds, tensor_column_schema)


def _skipping(partition_filter: Any, skip_paths: Any) -> Any:
    """``partition_filter`` that also drops the files of ``skip_paths`` (Ray's read_parquet)."""
    if skip_paths is None:
        return partition_filter
    skip = [skip_paths] if isinstance(skip_paths, str) else skip_paths
    if not isinstance(skip, (list, tuple)) or not all(isinstance(p, str) for p in skip):
        raise PlanError(f"read_parquet: skip_paths must be a path or a list of paths, got {skip_paths!r}")
    from fsspec.core import strip_protocol

    dropped = {strip_protocol(p).rstrip("/") for p in skip}

    def keep(paths: list[str]) -> list[str]:
        kept = [p for p in paths if strip_protocol(p).rstrip("/") not in dropped]
        return partition_filter(kept) if partition_filter is not None else kept
    return keep


def _decode_tensors(ds: "Dataset", schema: Any) -> "Dataset":
    """Ray's ``tensor_column_schema``: binary columns holding raw tensor bytes become
    ndarrays of ``(dtype, shape)`` per row."""
    import numpy as np

    if not isinstance(schema, dict) or not all(
            isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], tuple) for v in schema.values()):
        raise PlanError(f"read_parquet: tensor_column_schema must map column -> (dtype, shape), got {schema!r}")
    specs = {c: (np.dtype(d), tuple(shape)) for c, (d, shape) in schema.items()}

    def decode(batch: dict[str, Any]) -> dict[str, Any]:
        for col, (dtype, shape) in specs.items():
            if col not in batch:
                raise PlanError(f"read_parquet: tensor_column_schema names column {col!r}, "
                                f"not in the file's columns {sorted(batch)}")
            batch[col] = np.stack([np.frombuffer(v, dtype=dtype).reshape(shape) for v in batch[col]]) \
                if len(batch[col]) else np.empty((0, *shape), dtype)
        return batch
    return ds.map_batches(decode, batch_format="numpy")


def read_csv(paths: Any, *, filesystem: Any = None, columns: Sequence[str] | None = None,
             include_paths: bool = False, partitioning: Any = _HIVE, override_num_blocks: int | None = None,
             file_extensions: Sequence[str] | None = None, read_options: Any = None, parse_options: Any = None,
             convert_options: Any = None, concurrency: int | None = None,
             ray_remote_args: dict[str, Any] | None = None, parallelism: int | None = None,
             num_cpus: float | None = None, num_gpus: float | None = None, memory: float | None = None,
    resources: dict[str, float] | None = None, accelerator_type: str | None = None,
    runtime_env: dict[str, Any] | None = None, max_calls: int | None = None,
    label_selector: dict[str, str] | None = None, fallback_strategy: list[dict[str, Any]] | None = None,
    ray_remote_args_fn: Any = None, partition_filter: Any = None, shuffle: Any = None, ignore_missing_paths: bool = False,
    arrow_open_stream_args: dict[str, Any] | None = None, **kwargs: Any) -> "Dataset":
    """Read CSV files with ``pyarrow.csv`` (options pass through; ``.gz`` etc. decompressed).

    A ragged row fails with an error naming the file and the line. As Ray, ``partitioning``
    defaults to ``"hive"``: a path like ``year=2022/month=09/sales.csv`` adds the string
    columns ``year`` and ``month`` (``'2022'``, ``'09'``); paths without ``key=value``
    directories add nothing.

    Example:
        >>> import streamdata as sd, tempfile, os
        >>> d = tempfile.mkdtemp(); _ = open(os.path.join(d, "a.csv"), "w").write("x,y\\n1,a\\n")
        >>> sd.read_csv(d).take_all()
        [{'x': 1, 'y': 'a'}]
    """
    from streamdata.io.csv import CSVDatasource

    _no_extra("read_csv", kwargs)
    src = CSVDatasource(paths, **_file_opts("read_csv", ignore_missing_paths, partition_filter, shuffle, arrow_open_stream_args, "arrow_open_stream_args"), read_options=read_options, parse_options=parse_options,
                        convert_options=convert_options,
                        **_file_args(filesystem, columns, include_paths, partitioning, file_extensions))
    return _task_read(src, locals())


def read_json(paths: Any, *, filesystem: Any = None, columns: Sequence[str] | None = None,
              include_paths: bool = False, partitioning: Any = _HIVE, override_num_blocks: int | None = None,
              file_extensions: Sequence[str] | None = None, read_options: Any = None, parse_options: Any = None,
              concurrency: int | None = None, ray_remote_args: dict[str, Any] | None = None,
              parallelism: int | None = None, num_cpus: float | None = None, num_gpus: float | None = None, memory: float | None = None,
    resources: dict[str, float] | None = None, accelerator_type: str | None = None,
    runtime_env: dict[str, Any] | None = None, max_calls: int | None = None,
    label_selector: dict[str, str] | None = None, fallback_strategy: list[dict[str, Any]] | None = None,
    ray_remote_args_fn: Any = None, partition_filter: Any = None, shuffle: Any = None, ignore_missing_paths: bool = False,
    arrow_open_stream_args: dict[str, Any] | None = None, lines: bool = False, **kwargs: Any) -> "Dataset":
    """Read JSON-lines files and JSON-array files (detected per file).

    A malformed line fails with an error naming the file and the line. As Ray,
    ``partitioning`` defaults to ``"hive"`` (``key=value`` directories add string columns).

    Example:
        >>> import streamdata as sd, tempfile, os
        >>> d = tempfile.mkdtemp(); _ = open(os.path.join(d, "a.json"), "w").write('[{"x": 1}]')
        >>> sd.read_json(d).take_all()
        [{'x': 1}]
    """
    from streamdata.io.json import JSONDatasource

    _no_extra("read_json", kwargs)
    if not isinstance(lines, bool):
        raise PlanError(f"read_json: lines must be a bool, got {lines!r}")
    src = JSONDatasource(paths, **_file_opts("read_json", ignore_missing_paths, partition_filter, shuffle, arrow_open_stream_args, "arrow_open_stream_args"), read_options=read_options, parse_options=parse_options,
                         **_file_args(filesystem, columns, include_paths, partitioning, file_extensions))
    return _task_read(src, locals())


def read_text(paths: Any, *, encoding: str = "utf-8", drop_empty_lines: bool = True, filesystem: Any = None,
              include_paths: bool = False, partitioning: Any = None, override_num_blocks: int | None = None,
              file_extensions: Sequence[str] | None = None, concurrency: int | None = None,
              ray_remote_args: dict[str, Any] | None = None, parallelism: int | None = None,
              num_cpus: float | None = None, num_gpus: float | None = None, memory: float | None = None,
    resources: dict[str, float] | None = None, accelerator_type: str | None = None,
    runtime_env: dict[str, Any] | None = None, max_calls: int | None = None,
    label_selector: dict[str, str] | None = None, fallback_strategy: list[dict[str, Any]] | None = None,
    ray_remote_args_fn: Any = None, partition_filter: Any = None, shuffle: Any = None, ignore_missing_paths: bool = False,
    arrow_open_stream_args: dict[str, Any] | None = None, **kwargs: Any) -> "Dataset":
    """Read text files, one row per line in column ``text``.

    Example:
        >>> import streamdata as sd, tempfile, os
        >>> d = tempfile.mkdtemp(); _ = open(os.path.join(d, "a.txt"), "w").write("hi\\nthere\\n")
        >>> sd.read_text(d).take_all()
        [{'text': 'hi'}, {'text': 'there'}]
    """
    from streamdata.io.text import TextDatasource

    _no_extra("read_text", kwargs)
    src = TextDatasource(paths, **_file_opts("read_text", ignore_missing_paths, partition_filter, shuffle, arrow_open_stream_args, "arrow_open_stream_args"), encoding=encoding, drop_empty_lines=drop_empty_lines,
                         **_file_args(filesystem, None, include_paths, partitioning, file_extensions))
    return _task_read(src, locals())


def read_binary_files(paths: Any, *, include_paths: bool = False, filesystem: Any = None,
                      partitioning: Any = None, override_num_blocks: int | None = None,
                      file_extensions: Sequence[str] | None = None, concurrency: int | None = None,
                      ray_remote_args: dict[str, Any] | None = None, parallelism: int | None = None,
                      num_cpus: float | None = None, num_gpus: float | None = None, memory: float | None = None,
    resources: dict[str, float] | None = None, accelerator_type: str | None = None,
    runtime_env: dict[str, Any] | None = None, max_calls: int | None = None,
    label_selector: dict[str, str] | None = None, fallback_strategy: list[dict[str, Any]] | None = None,
    ray_remote_args_fn: Any = None, partition_filter: Any = None, shuffle: Any = None, ignore_missing_paths: bool = False,
    arrow_open_stream_args: dict[str, Any] | None = None, **kwargs: Any) -> "Dataset":
    """Read whole files as bytes: column ``bytes`` (and ``path`` with ``include_paths=True``).

    Example:
        >>> import streamdata as sd, tempfile, os
        >>> d = tempfile.mkdtemp(); _ = open(os.path.join(d, "a.bin"), "wb").write(b"\\x01")
        >>> sd.read_binary_files(d).take_all()
        [{'bytes': b'\\x01'}]
    """
    from streamdata.io.binary import BinaryDatasource

    _no_extra("read_binary_files", kwargs)
    src = BinaryDatasource(paths, **_file_opts("read_binary_files", ignore_missing_paths, partition_filter, shuffle, arrow_open_stream_args, "arrow_open_stream_args"), **_file_args(filesystem, None, include_paths, partitioning, file_extensions))
    return _task_read(src, locals())


def read_images(paths: Any, *, size: tuple[int, int] | None = None, mode: str | None = None,
                include_paths: bool = False, filesystem: Any = None, partitioning: Any = None,
                override_num_blocks: int | None = None, file_extensions: Sequence[str] | None = None,
                concurrency: int | None = None, ray_remote_args: dict[str, Any] | None = None,
                parallelism: int | None = None, num_cpus: float | None = None, num_gpus: float | None = None, memory: float | None = None,
    resources: dict[str, float] | None = None, accelerator_type: str | None = None,
    runtime_env: dict[str, Any] | None = None, max_calls: int | None = None,
    label_selector: dict[str, str] | None = None, fallback_strategy: list[dict[str, Any]] | None = None,
    ray_remote_args_fn: Any = None, partition_filter: Any = None, shuffle: Any = None, ignore_missing_paths: bool = False,
    arrow_open_file_args: dict[str, Any] | None = None, **kwargs: Any) -> "Dataset":
    """Read images with Pillow (``pip install 'streamdata[images]'``): column ``image``, a
    ``(height, width[, channels])`` tensor; ``size=(height, width)`` resizes, ``mode=`` converts.

    Example:
        >>> import streamdata as sd, tempfile, os
        >>> from PIL import Image
        >>> d = tempfile.mkdtemp(); Image.new("RGB", (4, 2)).save(os.path.join(d, "a.png"))
        >>> sd.read_images(d).take_all()[0]["image"].shape
        (2, 4, 3)
    """
    from streamdata.io.images import ImageDatasource

    _no_extra("read_images", kwargs)
    src = ImageDatasource(paths, **_file_opts("read_images", ignore_missing_paths, partition_filter, shuffle, arrow_open_file_args, "arrow_open_file_args"), size=size, mode=mode,
                          **_file_args(filesystem, None, include_paths, partitioning, file_extensions,
                                       default_extensions=True))
    return _task_read(src, locals())


def read_numpy(paths: Any, *, include_paths: bool = False, filesystem: Any = None, partitioning: Any = None,
               override_num_blocks: int | None = None, file_extensions: Sequence[str] | None = None,
               concurrency: int | None = None, ray_remote_args: dict[str, Any] | None = None,
               parallelism: int | None = None, num_cpus: float | None = None, num_gpus: float | None = None, memory: float | None = None,
    resources: dict[str, float] | None = None, accelerator_type: str | None = None,
    runtime_env: dict[str, Any] | None = None, max_calls: int | None = None,
    label_selector: dict[str, str] | None = None, fallback_strategy: list[dict[str, Any]] | None = None,
    ray_remote_args_fn: Any = None, partition_filter: Any = None, shuffle: Any = None, ignore_missing_paths: bool = False,
    arrow_open_stream_args: dict[str, Any] | None = None, allow_pickle: bool = False, **kwargs: Any) -> "Dataset":
    """Read ``.npy`` files: the rows of each array in column ``data``.

    Example:
        >>> import streamdata as sd, numpy as np, tempfile, os
        >>> d = tempfile.mkdtemp(); np.save(os.path.join(d, "a.npy"), np.arange(3))
        >>> sd.read_numpy(d).take_all()
        [{'data': 0}, {'data': 1}, {'data': 2}]
    """
    from streamdata.io.numpy import NumpyDatasource

    _no_extra("read_numpy", kwargs)
    if not isinstance(allow_pickle, bool):
        raise PlanError(f"read_numpy: allow_pickle must be a bool, got {allow_pickle!r}")
    src = NumpyDatasource(paths, allow_pickle=allow_pickle, **_file_opts("read_numpy", ignore_missing_paths, partition_filter, shuffle, arrow_open_stream_args, "arrow_open_stream_args"), **_file_args(filesystem, None, include_paths, partitioning, file_extensions,
                                              default_extensions=True))
    return _task_read(src, locals())


def range(n: int, *, parallelism: int | None = None, concurrency: int | None = None,  # noqa: A001
          override_num_blocks: int | None = None) -> "Dataset":
    """Rows ``0 .. n-1`` in column ``id`` (int64).

    Example:
        >>> import streamdata as sd
        >>> sd.range(3).take_all()
        [{'id': 0}, {'id': 1}, {'id': 2}]
    """
    from streamdata.io.memory import RangeDatasource

    return read_datasource(RangeDatasource(n), override_num_blocks=override_num_blocks,
                           parallelism=parallelism, concurrency=concurrency)


def range_tensor(n: int, *, shape: Sequence[int] = (1,), override_num_blocks: int | None = None,
                 parallelism: int | None = None, concurrency: int | None = None) -> "Dataset":
    """Rows ``0 .. n-1`` as int64 tensors of ``shape`` filled with the row number, in column ``data``.

    Example:
        >>> import streamdata as sd
        >>> sd.range_tensor(2, shape=(2,)).take_all()[1]["data"].tolist()
        [1, 1]
    """
    from streamdata.io.memory import RangeDatasource

    return read_datasource(RangeDatasource(n, tensor_shape=tuple(shape)),
                           override_num_blocks=override_num_blocks, parallelism=parallelism,
                           concurrency=concurrency)


def from_items(items: Sequence[Any], *, override_num_blocks: int | None = None,
               parallelism: int | None = None) -> "Dataset":
    """A Dataset of Python items: dicts are rows; anything else goes into column ``item``.

    Example:
        >>> import streamdata as sd
        >>> sd.from_items([1, 2]).take_all()
        [{'item': 1}, {'item': 2}]
    """
    from streamdata.io.memory import from_items_source

    src = from_items_source(items)
    return read_datasource(src, override_num_blocks=override_num_blocks, parallelism=parallelism)


def _count_inputs(value: Any) -> int:
    return len(value) if isinstance(value, (list, tuple)) else 1


def from_pandas(dfs: "pd.DataFrame | list[pd.DataFrame]", *,
                override_num_blocks: int | None = None) -> "Dataset":
    """A Dataset of one or more pandas DataFrames (one block each unless told otherwise).

    Example:
        >>> import streamdata as sd, pandas as pd
        >>> sd.from_pandas(pd.DataFrame({"a": [1, 2]})).take_all()
        [{'a': 1}, {'a': 2}]
    """
    from streamdata.io.memory import from_pandas_source

    src = from_pandas_source(dfs)
    return read_datasource(src, override_num_blocks=override_num_blocks or _count_inputs(dfs))


def from_arrow(tables: "pa.Table | list[pa.Table]", *, override_num_blocks: int | None = None) -> "Dataset":
    """A Dataset of one or more Arrow tables (one block each unless told otherwise).

    Example:
        >>> import streamdata as sd, pyarrow as pa
        >>> sd.from_arrow(pa.table({"a": [1]})).take_all()
        [{'a': 1}]
    """
    from streamdata.io.memory import from_arrow_source

    src = from_arrow_source(tables)
    return read_datasource(src, override_num_blocks=override_num_blocks or _count_inputs(tables))


def from_numpy(ndarrays: "np.ndarray | list[np.ndarray]", *, override_num_blocks: int | None = None) -> "Dataset":
    """A Dataset of one or more NumPy arrays (rows along the first axis), column ``data``.

    Example:
        >>> import streamdata as sd, numpy as np
        >>> sd.from_numpy(np.arange(2)).take_all()
        [{'data': 0}, {'data': 1}]
    """
    from streamdata.io.memory import from_numpy_source

    src = from_numpy_source(ndarrays)
    return read_datasource(src, override_num_blocks=override_num_blocks or _count_inputs(ndarrays))

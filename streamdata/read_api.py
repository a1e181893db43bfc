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
            ``max_calls``, ``accelerator_type``, ``runtime_env`` only mean something on a Ray
            cluster and are ignored here. ``compute`` and ``**read_args`` are not supported.

    Example:
        >>> import streamdata as sd
        >>> from streamdata.io.memory import RangeDatasource
        >>> sd.read_datasource(RangeDatasource(3), override_num_blocks=2).take_all()
        [{'id': 0}, {'id': 1}, {'id': 2}]
    """
    from streamdata.dataset import Dataset
    from streamdata.plan.logical import LogicalPlan, Read

    if override_num_blocks is None and parallelism is not None and parallelism > 0:
        override_num_blocks = parallelism
    if compute is not None or read_args:  # Ray's older arguments: say so rather than ignore them
        raise PlanError(f"read_datasource: compute= and extra read arguments {sorted(read_args)} are not "
                        f"supported; pass the options to the Datasource itself")
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


def _no_extra(fn: str, extra: dict[str, Any]) -> None:
    ignored = {"meta_provider", "shuffle", "tensor_column_schema", "ignore_missing_paths"}
    unknown = sorted(k for k in extra if k not in ignored)
    if unknown:
        raise PlanError(f"{fn}() got unexpected keyword arguments {unknown}")


def read_parquet(paths: Any, *, filesystem: Any = None, columns: Sequence[str] | None = None,
                 include_paths: bool = False, partitioning: Any = _HIVE, override_num_blocks: int | None = None,
                 file_extensions: Sequence[str] | None = None, schema: "pa.Schema | None" = None,
                 filter: "pc.Expression | None" = None, batch_size: int = 65536, concurrency: int | None = None,
                 ray_remote_args: dict[str, Any] | None = None, parallelism: int | None = None,
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
        partitioning: ``"hive"`` (default) or None.
        override_num_blocks: number of read tasks.
        file_extensions: only files with these extensions (when listing directories).
        schema: read every file into this schema (else the first file's).
        filter: a ``pyarrow.compute.Expression`` applied while reading.
        batch_size: rows decoded at a time.

    Example:
        >>> import streamdata as sd, pyarrow as pa, pyarrow.parquet as pq, tempfile, os
        >>> d = tempfile.mkdtemp(); pq.write_table(pa.table({"x": [1, 2, 3]}), os.path.join(d, "a.parquet"))
        >>> ds = sd.read_parquet(d)
        >>> ds.count(), ds.filter(expr=sd.col("x") > 1).take_all()
        (3, [{'x': 2}, {'x': 3}])
    """
    from streamdata.io.parquet import ParquetDatasource

    _no_extra("read_parquet", kwargs)
    src = ParquetDatasource(paths, schema=schema, filter=filter, batch_size=batch_size,
                            **_file_args(filesystem, columns, include_paths, partitioning, file_extensions))
    return read_datasource(src, override_num_blocks=override_num_blocks, concurrency=concurrency,
                           ray_remote_args=ray_remote_args, parallelism=parallelism)


def read_csv(paths: Any, *, filesystem: Any = None, columns: Sequence[str] | None = None,
             include_paths: bool = False, partitioning: Any = None, override_num_blocks: int | None = None,
             file_extensions: Sequence[str] | None = None, read_options: Any = None, parse_options: Any = None,
             convert_options: Any = None, concurrency: int | None = None,
             ray_remote_args: dict[str, Any] | None = None, parallelism: int | None = None,
             **kwargs: Any) -> "Dataset":
    """Read CSV files with ``pyarrow.csv`` (options pass through; ``.gz`` etc. decompressed).

    A ragged row fails with an error naming the file and the line.

    Example:
        >>> import streamdata as sd, tempfile, os
        >>> d = tempfile.mkdtemp(); _ = open(os.path.join(d, "a.csv"), "w").write("x,y\\n1,a\\n")
        >>> sd.read_csv(d).take_all()
        [{'x': 1, 'y': 'a'}]
    """
    from streamdata.io.csv import CSVDatasource

    _no_extra("read_csv", kwargs)
    src = CSVDatasource(paths, read_options=read_options, parse_options=parse_options,
                        convert_options=convert_options,
                        **_file_args(filesystem, columns, include_paths, partitioning, file_extensions))
    return read_datasource(src, override_num_blocks=override_num_blocks, concurrency=concurrency,
                           ray_remote_args=ray_remote_args, parallelism=parallelism)


def read_json(paths: Any, *, filesystem: Any = None, columns: Sequence[str] | None = None,
              include_paths: bool = False, partitioning: Any = None, override_num_blocks: int | None = None,
              file_extensions: Sequence[str] | None = None, read_options: Any = None, parse_options: Any = None,
              concurrency: int | None = None, ray_remote_args: dict[str, Any] | None = None,
              parallelism: int | None = None, **kwargs: Any) -> "Dataset":
    """Read JSON-lines files and JSON-array files (detected per file).

    A malformed line fails with an error naming the file and the line.

    Example:
        >>> import streamdata as sd, tempfile, os
        >>> d = tempfile.mkdtemp(); _ = open(os.path.join(d, "a.json"), "w").write('[{"x": 1}]')
        >>> sd.read_json(d).take_all()
        [{'x': 1}]
    """
    from streamdata.io.json import JSONDatasource

    _no_extra("read_json", {k: v for k, v in kwargs.items() if k != "lines"})
    src = JSONDatasource(paths, read_options=read_options, parse_options=parse_options,
                         **_file_args(filesystem, columns, include_paths, partitioning, file_extensions))
    return read_datasource(src, override_num_blocks=override_num_blocks, concurrency=concurrency,
                           ray_remote_args=ray_remote_args, parallelism=parallelism)


def read_text(paths: Any, *, encoding: str = "utf-8", drop_empty_lines: bool = True, filesystem: Any = None,
              include_paths: bool = False, partitioning: Any = None, override_num_blocks: int | None = None,
              file_extensions: Sequence[str] | None = None, concurrency: int | None = None,
              ray_remote_args: dict[str, Any] | None = None, parallelism: int | None = None,
              **kwargs: Any) -> "Dataset":
    """Read text files, one row per line in column ``text``.

    Example:
        >>> import streamdata as sd, tempfile, os
        >>> d = tempfile.mkdtemp(); _ = open(os.path.join(d, "a.txt"), "w").write("hi\\nthere\\n")
        >>> sd.read_text(d).take_all()
        [{'text': 'hi'}, {'text': 'there'}]
    """
    from streamdata.io.text import TextDatasource

    _no_extra("read_text", kwargs)
    src = TextDatasource(paths, encoding=encoding, drop_empty_lines=drop_empty_lines,
                         **_file_args(filesystem, None, include_paths, partitioning, file_extensions))
    return read_datasource(src, override_num_blocks=override_num_blocks, concurrency=concurrency,
                           ray_remote_args=ray_remote_args, parallelism=parallelism)


def read_binary_files(paths: Any, *, include_paths: bool = False, filesystem: Any = None,
                      partitioning: Any = None, override_num_blocks: int | None = None,
                      file_extensions: Sequence[str] | None = None, concurrency: int | None = None,
                      ray_remote_args: dict[str, Any] | None = None, parallelism: int | None = None,
                      **kwargs: Any) -> "Dataset":
    """Read whole files as bytes: column ``bytes`` (and ``path`` with ``include_paths=True``).

    Example:
        >>> import streamdata as sd, tempfile, os
        >>> d = tempfile.mkdtemp(); _ = open(os.path.join(d, "a.bin"), "wb").write(b"\\x01")
        >>> sd.read_binary_files(d).take_all()
        [{'bytes': b'\\x01'}]
    """
    from streamdata.io.binary import BinaryDatasource

    _no_extra("read_binary_files", kwargs)
    src = BinaryDatasource(paths, **_file_args(filesystem, None, include_paths, partitioning, file_extensions))
    return read_datasource(src, override_num_blocks=override_num_blocks, concurrency=concurrency,
                           ray_remote_args=ray_remote_args, parallelism=parallelism)


def read_images(paths: Any, *, size: tuple[int, int] | None = None, mode: str | None = None,
                include_paths: bool = False, filesystem: Any = None, partitioning: Any = None,
                override_num_blocks: int | None = None, file_extensions: Sequence[str] | None = None,
                concurrency: int | None = None, ray_remote_args: dict[str, Any] | None = None,
                parallelism: int | None = None, **kwargs: Any) -> "Dataset":
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
    src = ImageDatasource(paths, size=size, mode=mode,
                          **_file_args(filesystem, None, include_paths, partitioning, file_extensions,
                                       default_extensions=True))
    return read_datasource(src, override_num_blocks=override_num_blocks, concurrency=concurrency,
                           ray_remote_args=ray_remote_args, parallelism=parallelism)


def read_numpy(paths: Any, *, include_paths: bool = False, filesystem: Any = None, partitioning: Any = None,
               override_num_blocks: int | None = None, file_extensions: Sequence[str] | None = None,
               concurrency: int | None = None, ray_remote_args: dict[str, Any] | None = None,
               parallelism: int | None = None, **kwargs: Any) -> "Dataset":
    """Read ``.npy`` files: the rows of each array in column ``data``.

    Example:
        >>> import streamdata as sd, numpy as np, tempfile, os
        >>> d = tempfile.mkdtemp(); np.save(os.path.join(d, "a.npy"), np.arange(3))
        >>> sd.read_numpy(d).take_all()
        [{'data': 0}, {'data': 1}, {'data': 2}]
    """
    from streamdata.io.numpy import NumpyDatasource

    _no_extra("read_numpy", kwargs)
    src = NumpyDatasource(paths, **_file_args(filesystem, None, include_paths, partitioning, file_extensions,
                                              default_extensions=True))
    return read_datasource(src, override_num_blocks=override_num_blocks, concurrency=concurrency,
                           ray_remote_args=ray_remote_args, parallelism=parallelism)


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

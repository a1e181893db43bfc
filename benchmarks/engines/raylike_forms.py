"""The forms Ray Data users write (issue 14), for Ray Data and streamdata: one code, two imports.

Each function takes the :class:`engines.raylike.RayLike` handle (``api.rd`` is ``ray.data``
or ``streamdata``, ``api.agg`` its ``aggregate`` module, ``api.col`` the expression
constructor) and is the same text for both engines. The pipelines are those of the core
workloads, written the other ways users write them: ``batch_format="pandas"`` and
``"pyarrow"`` UDFs, a callable class on an actor pool, row ``map`` and ``flat_map``,
``with_column`` expressions, a join, and ``iter_batches`` / ``iter_torch_batches`` in
every format.
"""

from __future__ import annotations

from typing import Any

from workloads import Params

from engines.common import (
    Workload,
    AddCPandas,
    add_c_arrow,
    add_c_pandas,
    add_c_row,
    iter_check_any,
    sig,
    subset_files,
    two_rows,
    workload_table,
)


def map_batches_pandas_write(api: Any, p: Params) -> dict[str, Any]:
    ds = api.rd.read_parquet(p.parquet_dir)
    ds.map_batches(add_c_pandas, batch_format="pandas").write_parquet(p.out_dir)
    return {}


def map_batches_actor_write(api: Any, p: Params) -> dict[str, Any]:
    ds = api.rd.read_parquet(p.parquet_dir)
    # one CPU left to the write tasks: Ray never runs a task while actors hold every CPU
    ds.map_batches(AddCPandas, batch_format="pandas", concurrency=max(1, p.num_cpus - 1),
                   fn_constructor_kwargs={"factor": 2.0}).write_parquet(p.out_dir)
    return {}


def map_batches_arrow_write(api: Any, p: Params) -> dict[str, Any]:
    ds = api.rd.read_parquet(p.parquet_dir)
    ds.map_batches(add_c_arrow, batch_format="pyarrow").write_parquet(p.out_dir)
    return {}


def with_column_write(api: Any, p: Params) -> dict[str, Any]:
    col = api.col
    ds = api.rd.read_parquet(p.parquet_dir)
    ds.with_column("c", col("a") * 2 + col("b")).write_parquet(p.out_dir)
    return {}


def read_csv_pandas_count(api: Any, p: Params) -> dict[str, Any]:
    ds = api.rd.read_csv(p.csv_dir)
    return {"rows": ds.map_batches(add_c_pandas, batch_format="pandas").count()}


def map_rows_sum(api: Any, p: Params) -> dict[str, Any]:
    ds = api.rd.read_parquet(subset_files(p.parquet_dir, p.row_udf_files), columns=["id", "a", "b"])
    out = ds.map(add_c_row).aggregate(api.agg.Count(), api.agg.Sum("c"))
    return {"rows": int(out["count()"]), "sum_c": sig(out["sum(c)"])}


def flat_map_count(api: Any, p: Params) -> dict[str, Any]:
    ds = api.rd.read_parquet(subset_files(p.parquet_dir, p.row_udf_files), columns=["id", "a"])
    return {"rows": ds.flat_map(two_rows).count()}


def join_sum(api: Any, p: Params) -> dict[str, Any]:
    left = api.rd.read_parquet(p.parquet_dir, columns=["id", "key", "a"])
    right = api.rd.read_parquet(subset_files(p.parquet_dir, p.row_udf_files), columns=["id", "b"])
    joined = left.join(right, join_type="inner", num_partitions=p.join_partitions, on=("id",))
    out = joined.aggregate(api.agg.Count(), api.agg.Sum("b"))
    return {"rows": int(out["count()"]), "sum_b": sig(out["sum(b)"])}


def _iter(api: Any, p: Params, batch_format: str) -> dict[str, Any]:
    ds = api.rd.read_parquet(p.parquet_dir)
    return iter_check_any(ds.iter_batches(batch_size=p.batch_size, batch_format=batch_format))


def iter_batches_pandas(api: Any, p: Params) -> dict[str, Any]:
    return _iter(api, p, "pandas")


def iter_batches_arrow(api: Any, p: Params) -> dict[str, Any]:
    return _iter(api, p, "pyarrow")


def iter_torch_batches(api: Any, p: Params) -> dict[str, Any]:
    ds = api.rd.read_parquet(p.parquet_dir, columns=["id", "key", "a", "b"])
    return iter_check_any(ds.iter_torch_batches(batch_size=p.batch_size))


WORKLOADS: dict[str, Workload] = workload_table(
    map_batches_pandas_write, map_batches_actor_write, map_batches_arrow_write, with_column_write,
    read_csv_pandas_count, map_rows_sum, flat_map_count, join_sum, iter_batches_pandas,
    iter_batches_arrow, iter_torch_batches)

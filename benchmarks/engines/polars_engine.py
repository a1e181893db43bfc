"""Polars (lazy frames; streaming engine for sinks and batches)."""

from __future__ import annotations

import os
from typing import Any

from workloads import Params

from engines.common import a_is_large, file_glob, groups_check, iter_check
from engines.common import Workload, iter_check_any, native_forms, rebatch_as, sig
from engines.common import subset_files, workload_table


def import_engine(engine: str) -> Any:
    import polars as pl
    return pl


def start(pl: Any, params: Params, workload: str) -> Any:
    # POLARS_MAX_THREADS must be set before the import; the harness sets it.
    return pl


def stop(pl: Any) -> None:
    return None


def _scan(pl: Any, directory: str) -> Any:
    return pl.scan_parquet(file_glob(directory, "parquet"))


def count_parquet(pl: Any, p: Params) -> dict[str, Any]:
    return {"rows": _scan(pl, p.parquet_dir).select(pl.len()).collect().item()}


def _map_write(pl: Any, p: Params, directory: str) -> dict[str, Any]:
    lf = _scan(pl, directory).with_columns(c=pl.col("a") * 2 + pl.col("b"))
    lf.sink_parquet(os.path.join(p.out_dir, "part-0.parquet"), mkdir=True)
    return {}


def map_batches_write(pl: Any, p: Params) -> dict[str, Any]:
    return _map_write(pl, p, p.parquet_dir)


def _mean_check(df: Any) -> dict[str, Any]:
    return groups_check(df.height, df["b"].to_numpy())


def filter_groupby_expr(pl: Any, p: Params) -> dict[str, Any]:
    lf = _scan(pl, p.parquet_dir).filter(pl.col("a") > 0.5)
    return _mean_check(lf.group_by("key").agg(pl.col("b").mean()).collect())


def filter_groupby_udf(pl: Any, p: Params) -> dict[str, Any]:
    large = pl.col("a").map_elements(lambda a: a_is_large({"a": a}), return_dtype=pl.Boolean)
    lf = _scan(pl, p.parquet_dir).filter(large)
    return _mean_check(lf.group_by("key").agg(pl.col("b").mean()).collect())


def groupby_sum_cols(pl: Any, p: Params) -> dict[str, Any]:
    lf = _scan(pl, p.parquet_dir).select("key", "b")
    return _mean_check(lf.group_by("key").agg(pl.col("b").sum()).collect())


def sort(pl: Any, p: Params) -> dict[str, Any]:
    df = _scan(pl, p.parquet_dir).select("id", "a").sort("a").collect()
    return {"rows": df.height, "first_id": int(df["id"][0])}


def iter_batches(pl: Any, p: Params) -> dict[str, Any]:
    lf = _scan(pl, p.parquet_dir)
    batches = ({name: frame[name].to_numpy() for name in frame.columns}
               for frame in lf.collect_batches(chunk_size=p.batch_size))
    return iter_check(batches)


def read_csv_count(pl: Any, p: Params) -> dict[str, Any]:
    lf = pl.scan_csv(file_glob(p.csv_dir, "csv")).with_columns(c=pl.col("a") * 2 + pl.col("b"))
    return {"rows": lf.select(pl.len()).collect().item()}


def larger_than_memory(pl: Any, p: Params) -> dict[str, Any]:
    return _map_write(pl, p, p.ltm_dir)


def join_sum(pl: Any, p: Params) -> dict[str, Any]:
    left = _scan(pl, p.parquet_dir).select("id", "key", "a")
    right = pl.scan_parquet(subset_files(p.parquet_dir, p.row_udf_files)).select("id", "b")
    out = left.join(right, on="id").select(pl.len().alias("n"), pl.col("b").sum().alias("s"))
    row = out.collect().row(0)
    return {"rows": int(row[0]), "sum_b": sig(row[1])}


def _iter_form(pl: Any, p: Params, batch_format: str) -> dict[str, Any]:
    batches = (df.to_arrow() for df in _scan(pl, p.parquet_dir).collect_batches(
        chunk_size=p.batch_size))
    return iter_check_any(rebatch_as(batches, p.batch_size, batch_format))


WORKLOADS: dict[str, Workload] = {
    **workload_table(count_parquet, map_batches_write, filter_groupby_expr, filter_groupby_udf,
                     groupby_sum_cols, sort, iter_batches, read_csv_count, larger_than_memory),
    **native_forms(map_batches_write, read_csv_count, join_sum, _iter_form),
}

FORMS: dict[str, str] = {
    "map_batches_pandas_write": "with_columns expression, sink_parquet",
    "map_batches_actor_write": "with_columns expression, sink_parquet",
    "map_batches_arrow_write": "with_columns expression, sink_parquet",
    "read_csv_pandas_count": "scan_csv + with_columns, select(len)",
    "iter_batches_pandas": "collect_batches → to_arrow, re-batched, to_pandas",
    "iter_batches_arrow": "collect_batches → to_arrow, re-batched",
    "map_batches_write": "with_columns expression, sink_parquet (streaming, one file)",
    "filter_groupby_udf": "map_elements row UDF",
    "read_csv_count": "scan_csv + with_columns, select(len) (projection may prune c)",
    "iter_batches": "collect_batches(chunk_size)",
}

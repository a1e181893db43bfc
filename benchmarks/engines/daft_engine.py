"""Daft (native runner): each workload as a Daft user writes it (expressions first)."""

from __future__ import annotations

from typing import Any

from workloads import Params

from engines.common import a_is_large, file_glob, groups_check, iter_check, rebatch_to_numpy
from engines.common import Workload, iter_check_any, native_forms, rebatch_as, sig
from engines.common import subset_files, workload_table


def import_engine(engine: str) -> Any:
    import daft
    return daft


def start(daft: Any, params: Params, workload: str) -> Any:
    try:
        daft.set_runner_native()
    except Exception as exc:  # a second start in one process: the runner is already native
        if "more than once" not in str(exc):
            raise
    return daft


def stop(daft: Any) -> None:
    return None


def _parquet(daft: Any, p: Params, directory: str | None = None) -> Any:
    return daft.read_parquet(file_glob(directory or p.parquet_dir, "parquet"))


def count_parquet(daft: Any, p: Params) -> dict[str, Any]:
    return {"rows": _parquet(daft, p).count_rows()}


def _map_write(daft: Any, p: Params, directory: str) -> dict[str, Any]:
    col = daft.col
    _parquet(daft, p, directory).with_column("c", col("a") * 2 + col("b")).write_parquet(p.out_dir)
    return {}


def map_batches_write(daft: Any, p: Params) -> dict[str, Any]:
    return _map_write(daft, p, p.parquet_dir)


def _mean_check(table: Any) -> dict[str, Any]:
    return groups_check(table.num_rows, table.column("b").to_numpy())


def filter_groupby_expr(daft: Any, p: Params) -> dict[str, Any]:
    col = daft.col
    df = _parquet(daft, p).where(col("a") > 0.5).groupby("key").agg(col("b").mean())
    return _mean_check(df.to_arrow())


def filter_groupby_udf(daft: Any, p: Params) -> dict[str, Any]:
    col = daft.col

    @daft.func(return_dtype=daft.DataType.bool())
    def large(a: float) -> bool:
        return a_is_large({"a": a})

    df = _parquet(daft, p).where(large(col("a"))).groupby("key").agg(col("b").mean())
    return _mean_check(df.to_arrow())


def groupby_sum_cols(daft: Any, p: Params) -> dict[str, Any]:
    col = daft.col
    df = _parquet(daft, p).select("key", "b").groupby("key").agg(col("b").sum())
    return _mean_check(df.to_arrow())


def sort(daft: Any, p: Params) -> dict[str, Any]:
    table = _parquet(daft, p).select("id", "a").sort("a").to_arrow()
    return {"rows": table.num_rows, "first_id": int(table.column("id")[0].as_py())}


def iter_batches(daft: Any, p: Params) -> dict[str, Any]:
    return iter_check(rebatch_to_numpy(_parquet(daft, p).to_arrow_iter(), p.batch_size))


def read_csv_count(daft: Any, p: Params) -> dict[str, Any]:
    col = daft.col
    df = daft.read_csv(file_glob(p.csv_dir, "csv")).with_column("c", col("a") * 2 + col("b"))
    return {"rows": df.count_rows()}


def larger_than_memory(daft: Any, p: Params) -> dict[str, Any]:
    return _map_write(daft, p, p.ltm_dir)


def join_sum(daft: Any, p: Params) -> dict[str, Any]:
    col = daft.col
    left = _parquet(daft, p).select("id", "key", "a")
    right = daft.read_parquet(subset_files(p.parquet_dir, p.row_udf_files)).select("id", "b")
    out = left.join(right, on="id").agg(col("id").count().alias("n"), col("b").sum().alias("s"))
    row = out.to_pydict()
    return {"rows": int(row["n"][0]), "sum_b": sig(row["s"][0])}


def _iter_form(daft: Any, p: Params, batch_format: str) -> dict[str, Any]:
    return iter_check_any(rebatch_as(_parquet(daft, p).to_arrow_iter(), p.batch_size,
                                     batch_format))


WORKLOADS: dict[str, Workload] = {
    **workload_table(count_parquet, map_batches_write, filter_groupby_expr, filter_groupby_udf,
                     groupby_sum_cols, sort, iter_batches, read_csv_count, larger_than_memory),
    **native_forms(map_batches_write, read_csv_count, join_sum, _iter_form),
}

FORMS: dict[str, str] = {
    "map_batches_pandas_write": "with_column expression (native)",
    "map_batches_actor_write": "with_column expression (native)",
    "map_batches_arrow_write": "with_column expression (native)",
    "read_csv_pandas_count": "with_column expression, count_rows",
    "iter_batches_pandas": "to_arrow_iter, re-batched, to_pandas",
    "iter_batches_arrow": "to_arrow_iter, re-batched",
    "map_batches_write": "with_column expression (native)",
    "filter_groupby_udf": "@daft.func row UDF",
    "read_csv_count": "with_column expression, count_rows",
    "iter_batches": "to_arrow_iter, re-batched to numpy",
}

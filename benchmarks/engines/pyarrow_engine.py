"""Plain pyarrow: hand-written loops, the single-node floor for Arrow-native work.

Arrow-native workloads use pyarrow's own multithreaded kernels in this process.
Python-UDF workloads (``map_batches_write``, ``filter_groupby_udf``, ``read_csv_count``,
``larger_than_memory``) run the same UDF as the other engines, file by file, on a
process pool of ``num_cpus`` processes started (and warmed) before the clock starts:
the "hand-written pyarrow loop on the same number of processes" of BENCHMARKS.md.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from workloads import Params

from engines.common import (
    Workload,
    a_is_large,
    add_c,
    add_c_arrow,
    add_c_pandas,
    add_c_row,
    files,
    groups_check,
    iter_check,
    iter_check_any,
    rebatch_as,
    rebatch_to_numpy,
    sig,
    subset_files,
    two_rows,
    workload_table,
)


@dataclass
class Ctx:
    pool: ProcessPoolExecutor


def import_engine(engine: str) -> Any:
    import pyarrow
    import pyarrow.dataset
    import pyarrow.parquet
    return pyarrow


def _noop(i: int) -> int:
    return i


def start(pa: Any, params: Params, workload: str) -> Ctx:
    pa.set_cpu_count(params.num_cpus)
    pool = ProcessPoolExecutor(max_workers=params.num_cpus)
    list(pool.map(_noop, range(params.num_cpus * 4)))
    return Ctx(pool)


def stop(ctx: Ctx) -> None:
    ctx.pool.shutdown()


# ------------------------------------------------------------------ per-file pool jobs


def _map_write_file(path: str, out_dir: str, index: int) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    batch = {name: table.column(name).to_numpy() for name in table.column_names}
    result = pa.table(add_c(batch))
    pq.write_table(result, os.path.join(out_dir, f"part-{index:05d}.parquet"))
    return result.num_rows


def _map_write_file_form(path: str, out_dir: str, index: int, form: str) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    if form == "pandas":
        result = pa.Table.from_pandas(add_c_pandas(table.to_pandas()), preserve_index=False)
    else:
        result = add_c_arrow(table)
    pq.write_table(result, os.path.join(out_dir, f"part-{index:05d}.parquet"))
    return result.num_rows


def _csv_pandas_count(path: str) -> int:
    import pyarrow.csv as pcsv

    return len(add_c_pandas(pcsv.read_csv(path).to_pandas()))


def _rows_partial(path: str, flat: bool) -> tuple[int, float]:
    import pyarrow.parquet as pq

    if flat:
        table = pq.read_table(path, columns=["id", "a"])
        out = [r for row in table.to_pylist() for r in two_rows(row)]
        return len(out), 0.0
    table = pq.read_table(path, columns=["id", "a", "b"])
    rows = [add_c_row(row) for row in table.to_pylist()]
    return len(rows), sum(r["c"] for r in rows)


def _udf_filter_partial(path: str) -> dict[int, tuple[float, int]]:
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["key", "a", "b"])
    mask = [a_is_large(row) for row in table.to_pylist()]
    kept = table.filter(mask)
    grouped = kept.group_by("key").aggregate([("b", "sum"), ("b", "count")])
    return {k: (s, c) for k, s, c in zip(grouped["key"].to_pylist(), grouped["b_sum"].to_pylist(),
                                         grouped["b_count"].to_pylist())}


def _csv_map_count(path: str) -> int:
    import pyarrow.csv as pcsv

    table = pcsv.read_csv(path)
    batch = add_c({name: table.column(name).to_numpy() for name in table.column_names})
    return len(batch["c"])


# ----------------------------------------------------------------------------- workloads


def count_parquet(ctx: Ctx, p: Params) -> dict[str, Any]:
    import pyarrow.dataset as pads
    return {"rows": pads.dataset(p.parquet_dir, format="parquet").count_rows()}


def _map_write(ctx: Ctx, p: Params, directory: str) -> dict[str, Any]:
    paths = files(directory, "parquet")
    list(ctx.pool.map(_map_write_file, paths, [p.out_dir] * len(paths), range(len(paths))))
    return {}


def map_batches_write(ctx: Ctx, p: Params) -> dict[str, Any]:
    return _map_write(ctx, p, p.parquet_dir)


def filter_groupby_expr(ctx: Ctx, p: Params) -> dict[str, Any]:
    import pyarrow.dataset as pads

    table = pads.dataset(p.parquet_dir, format="parquet").to_table(
        columns=["key", "b"], filter=pads.field("a") > 0.5)
    result = table.group_by("key").aggregate([("b", "mean")])
    return groups_check(result.num_rows, result["b_mean"].to_numpy())


def filter_groupby_udf(ctx: Ctx, p: Params) -> dict[str, Any]:
    totals: dict[int, list[float]] = {}
    for partial in ctx.pool.map(_udf_filter_partial, files(p.parquet_dir, "parquet")):
        for key, (s, c) in partial.items():
            acc = totals.setdefault(key, [0.0, 0])
            acc[0] += s
            acc[1] += c
    return groups_check(len(totals), [s / c for s, c in totals.values()])


def groupby_sum_cols(ctx: Ctx, p: Params) -> dict[str, Any]:
    import pyarrow.dataset as pads

    table = pads.dataset(p.parquet_dir, format="parquet").to_table(columns=["key", "b"])
    result = table.group_by("key").aggregate([("b", "sum")])
    return groups_check(result.num_rows, result["b_sum"].to_numpy())


def sort(ctx: Ctx, p: Params) -> dict[str, Any]:
    import pyarrow.dataset as pads

    table = pads.dataset(p.parquet_dir, format="parquet").to_table(columns=["id", "a"])
    table = table.sort_by("a")
    return {"rows": table.num_rows, "first_id": int(table.column("id")[0].as_py())}


def iter_batches(ctx: Ctx, p: Params) -> dict[str, Any]:
    import pyarrow.dataset as pads

    dataset = pads.dataset(p.parquet_dir, format="parquet")
    return iter_check(rebatch_to_numpy(dataset.to_batches(batch_size=p.batch_size), p.batch_size))


def read_csv_count(ctx: Ctx, p: Params) -> dict[str, Any]:
    return {"rows": sum(ctx.pool.map(_csv_map_count, files(p.csv_dir, "csv")))}


def larger_than_memory(ctx: Ctx, p: Params) -> dict[str, Any]:
    return _map_write(ctx, p, p.ltm_dir)


def _map_write_form(ctx: Ctx, p: Params, form: str) -> dict[str, Any]:
    paths = files(p.parquet_dir, "parquet")
    n = len(paths)
    list(ctx.pool.map(_map_write_file_form, paths, [p.out_dir] * n, range(n), [form] * n))
    return {}


def map_batches_pandas_write(ctx: Ctx, p: Params) -> dict[str, Any]:
    return _map_write_form(ctx, p, "pandas")


def map_batches_arrow_write(ctx: Ctx, p: Params) -> dict[str, Any]:
    return _map_write_form(ctx, p, "arrow")


def read_csv_pandas_count(ctx: Ctx, p: Params) -> dict[str, Any]:
    return {"rows": sum(ctx.pool.map(_csv_pandas_count, files(p.csv_dir, "csv")))}


def map_rows_sum(ctx: Ctx, p: Params) -> dict[str, Any]:
    paths = subset_files(p.parquet_dir, p.row_udf_files)
    parts = list(ctx.pool.map(_rows_partial, paths, [False] * len(paths)))
    return {"rows": sum(n for n, _ in parts), "sum_c": sig(sum(s for _, s in parts))}


def flat_map_count(ctx: Ctx, p: Params) -> dict[str, Any]:
    paths = subset_files(p.parquet_dir, p.row_udf_files)
    return {"rows": sum(n for n, _ in ctx.pool.map(_rows_partial, paths, [True] * len(paths)))}


def join_sum(ctx: Ctx, p: Params) -> dict[str, Any]:
    import pyarrow.compute as pc
    import pyarrow.dataset as pads

    left = pads.dataset(p.parquet_dir, format="parquet").to_table(columns=["id", "key", "a"])
    right = pads.dataset(subset_files(p.parquet_dir, p.row_udf_files),
                         format="parquet").to_table(columns=["id", "b"])
    joined = left.join(right, keys="id", join_type="inner")
    return {"rows": joined.num_rows, "sum_b": sig(pc.sum(joined["b"]).as_py())}


def _iter_form(p: Params, batch_format: str, columns: list[str] | None = None) -> Any:
    import pyarrow.dataset as pads

    dataset = pads.dataset(p.parquet_dir, format="parquet")
    return rebatch_as(dataset.to_batches(batch_size=p.batch_size, columns=columns),
                      p.batch_size, batch_format)


def iter_batches_pandas(ctx: Ctx, p: Params) -> dict[str, Any]:
    return iter_check_any(_iter_form(p, "pandas"))


def iter_batches_arrow(ctx: Ctx, p: Params) -> dict[str, Any]:
    return iter_check_any(_iter_form(p, "pyarrow"))


def iter_torch_batches(ctx: Ctx, p: Params) -> dict[str, Any]:
    import warnings

    import torch

    batches = ({name: torch.as_tensor(array) for name, array in batch.items()}
               for batch in _iter_form(p, "numpy", ["id", "key", "a", "b"]))
    with warnings.catch_warnings():  # read-only Arrow buffers: torch warns, shares them anyway
        warnings.simplefilter("ignore", UserWarning)
        return iter_check_any(batches)


WORKLOADS: dict[str, Workload] = {
    **workload_table(count_parquet, map_batches_write, filter_groupby_expr, filter_groupby_udf,
                     groupby_sum_cols, sort, iter_batches, read_csv_count, larger_than_memory,
                     map_batches_pandas_write, map_batches_arrow_write, read_csv_pandas_count,
                     map_rows_sum, flat_map_count, join_sum, iter_batches_pandas,
                     iter_batches_arrow, iter_torch_batches),
    "map_batches_actor_write": map_batches_pandas_write,
    "with_column_write": map_batches_arrow_write,
}

FORMS: dict[str, str] = {
    "map_batches_write": "same numpy UDF, file per task on a process pool of num_cpus",
    "filter_groupby_udf": "same row predicate over to_pylist(), process pool",
    "read_csv_count": "csv.read_csv + same UDF, process pool",
    "count_parquet": "dataset.count_rows (metadata)",
    "map_batches_pandas_write": "to_pandas + same pandas UDF, file per task, process pool",
    "map_batches_actor_write": "as map_batches_pandas_write (a pool process is an actor)",
    "with_column_write": "pyarrow.compute a*2+b, file per task, process pool",
    "map_rows_sum": "same row UDF over to_pylist(), process pool",
    "flat_map_count": "same row UDF over to_pylist(), process pool",
    "join_sum": "Table.join (Acero hash join, multithreaded)",
}

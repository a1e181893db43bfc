"""Plain pyarrow: hand-written loops, the single-node floor for Arrow-native work.

Arrow-native workloads use pyarrow's own multithreaded kernels in this process.
Python-UDF workloads (``map_batches_write``, ``filter_groupby_udf``, ``read_csv_count``,
``larger_than_memory``) run the same UDF as the other engines, file by file, on a
process pool of ``num_cpus`` processes started (and warmed) before the clock starts:
the "hand-written pyarrow loop on the same number of processes" of BENCHMARKS.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from workloads import Params

from engines.common import a_is_large, add_c, files, groups_check, iter_check, rebatch_to_numpy


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


WORKLOADS: dict[str, Callable[[Ctx, Params], dict[str, Any]]] = {
    "count_parquet": count_parquet,
    "map_batches_write": map_batches_write,
    "filter_groupby_expr": filter_groupby_expr,
    "filter_groupby_udf": filter_groupby_udf,
    "groupby_sum_cols": groupby_sum_cols,
    "sort": sort,
    "iter_batches": iter_batches,
    "read_csv_count": read_csv_count,
    "larger_than_memory": larger_than_memory,
}

FORMS: dict[str, str] = {
    "map_batches_write": "same numpy UDF, file per task on a process pool of num_cpus",
    "filter_groupby_udf": "same row predicate over to_pylist(), process pool",
    "read_csv_count": "csv.read_csv + same UDF, process pool",
    "count_parquet": "dataset.count_rows (metadata)",
}

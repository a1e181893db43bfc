"""DuckDB: each workload as one SQL statement over ``read_parquet`` / ``read_csv``."""

from __future__ import annotations

from typing import Any

from workloads import Params

from engines.common import a_is_large, file_glob, groups_check, iter_check, rebatch_to_numpy
from engines.common import Workload, iter_check_any, native_forms, rebatch_as, sig
from engines.common import subset_files, workload_table


def import_engine(engine: str) -> Any:
    import duckdb
    return duckdb


def start(duckdb: Any, params: Params, workload: str) -> Any:
    con = duckdb.connect()
    con.execute(f"SET threads = {int(params.num_cpus)}")
    if workload == "larger_than_memory":
        con.execute(f"SET memory_limit = '{params.ltm_budget_bytes // 2**20}MiB'")
    return con


def stop(con: Any) -> None:
    con.close()


_UDF_REGISTERED: set[int] = set()


def _src(directory: str) -> str:
    return f"read_parquet('{file_glob(directory, 'parquet')}')"


def count_parquet(con: Any, p: Params) -> dict[str, Any]:
    return {"rows": con.execute(f"SELECT count(*) FROM {_src(p.parquet_dir)}").fetchone()[0]}


def _map_write(con: Any, p: Params, directory: str) -> dict[str, Any]:
    con.execute(f"COPY (SELECT *, a * 2 + b AS c FROM {_src(directory)}) TO '{p.out_dir}' "
                "(FORMAT parquet, PER_THREAD_OUTPUT true, OVERWRITE_OR_IGNORE true)")
    return {}


def map_batches_write(con: Any, p: Params) -> dict[str, Any]:
    return _map_write(con, p, p.parquet_dir)


def _mean_check(rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    return groups_check(len(rows), [r[1] for r in rows])


def filter_groupby_expr(con: Any, p: Params) -> dict[str, Any]:
    rows = con.execute(f"SELECT key, avg(b) FROM {_src(p.parquet_dir)} WHERE a > 0.5 "
                       "GROUP BY key").fetchall()
    return _mean_check(rows)


def filter_groupby_udf(con: Any, p: Params) -> dict[str, Any]:
    from duckdb.sqltypes import BOOLEAN, DOUBLE

    if id(con) not in _UDF_REGISTERED:  # once per connection (repetitions reuse it)
        con.create_function("a_is_large", lambda a: a_is_large({"a": a}), [DOUBLE], BOOLEAN)
        _UDF_REGISTERED.add(id(con))
    rows = con.execute(f"SELECT key, avg(b) FROM {_src(p.parquet_dir)} WHERE a_is_large(a) "
                       "GROUP BY key").fetchall()
    return _mean_check(rows)


def groupby_sum_cols(con: Any, p: Params) -> dict[str, Any]:
    rows = con.execute(f"SELECT key, sum(b) FROM {_src(p.parquet_dir)} GROUP BY key").fetchall()
    return _mean_check(rows)


def sort(con: Any, p: Params) -> dict[str, Any]:
    table = con.sql(f"SELECT id, a FROM {_src(p.parquet_dir)} ORDER BY a").to_arrow_table()
    return {"rows": table.num_rows, "first_id": int(table.column("id")[0].as_py())}


def iter_batches(con: Any, p: Params) -> dict[str, Any]:
    reader = con.sql(f"SELECT * FROM {_src(p.parquet_dir)}").to_arrow_reader(p.batch_size)
    return iter_check(rebatch_to_numpy(reader, p.batch_size))


def read_csv_count(con: Any, p: Params) -> dict[str, Any]:
    src = f"read_csv('{file_glob(p.csv_dir, 'csv')}')"
    row = con.execute(f"SELECT count(*) FROM (SELECT *, a * 2 + b AS c FROM {src})").fetchone()
    return {"rows": row[0]}


def larger_than_memory(con: Any, p: Params) -> dict[str, Any]:
    return _map_write(con, p, p.ltm_dir)


def join_sum(con: Any, p: Params) -> dict[str, Any]:
    right = ", ".join(f"'{f}'" for f in subset_files(p.parquet_dir, p.row_udf_files))
    row = con.execute(f"SELECT count(*), sum(r.b) FROM (SELECT id, key, a FROM "
                      f"{_src(p.parquet_dir)}) l JOIN (SELECT id, b FROM "
                      f"read_parquet([{right}])) r USING (id)").fetchone()
    return {"rows": int(row[0]), "sum_b": sig(row[1])}


def _iter_form(con: Any, p: Params, batch_format: str) -> dict[str, Any]:
    reader = con.sql(f"SELECT * FROM {_src(p.parquet_dir)}").to_arrow_reader(p.batch_size)
    return iter_check_any(rebatch_as(reader, p.batch_size, batch_format))


WORKLOADS: dict[str, Workload] = {
    **workload_table(count_parquet, map_batches_write, filter_groupby_expr, filter_groupby_udf,
                     groupby_sum_cols, sort, iter_batches, read_csv_count, larger_than_memory),
    **native_forms(map_batches_write, read_csv_count, join_sum, _iter_form),
}

FORMS: dict[str, str] = {
    "map_batches_pandas_write": "COPY (SELECT *, a*2+b) (SQL expression)",
    "map_batches_actor_write": "COPY (SELECT *, a*2+b) (SQL expression)",
    "map_batches_arrow_write": "COPY (SELECT *, a*2+b) (SQL expression)",
    "iter_batches_pandas": "to_arrow_reader, re-batched, to_pandas",
    "iter_batches_arrow": "to_arrow_reader, re-batched",
    "map_batches_write": "COPY (SELECT *, a*2+b) TO dir (SQL expression)",
    "filter_groupby_udf": "Python scalar UDF (create_function)",
    "iter_batches": "to_arrow_reader(batch_size), re-batched to numpy",
    "larger_than_memory": "COPY with memory_limit = the budget",
}

"""The workload catalogue of BENCHMARKS.md and the parameters every run shares.

Each workload is one row of the results table. ``filter_groupby`` comes in two
forms (``filter_groupby_expr``: an expression filter; ``filter_groupby_udf``: a
Python function filter); naming the group selects both.

Example:
    >>> resolve_workloads("count_parquet,filter_groupby")
    ['count_parquet', 'filter_groupby_expr', 'filter_groupby_udf']
    >>> resolve_workloads(None) == list(WORKLOADS)
    True
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Workload:
    """One row of the results table.

    Attributes:
        name: the row name.
        what: the pipeline, as BENCHMARKS.md writes it.
        datasets: the generated datasets it reads (``parquet``, ``csv``, ``ltm``).
        writes: whether it writes Parquet to a scratch directory (verified afterwards).
        engines: the engines it runs on (None: all).
    """

    name: str
    what: str
    datasets: tuple[str, ...] = ("parquet",)
    writes: bool = False
    engines: tuple[str, ...] | None = None


ENGINES: tuple[str, ...] = ("streamdata", "ray", "daft", "polars", "duckdb", "pyarrow")
"""Every engine, in table order; streamdata first (the ratios are streamdata ÷ peer)."""

RAY_LIKE: tuple[str, ...] = ("streamdata", "ray")
ROW_UDF: tuple[str, ...] = ("streamdata", "ray", "pyarrow")
"""Row-UDF forms: the peers that run the same Python function per row (the others have none)."""

WORKLOADS: dict[str, Workload] = {w.name: w for w in (
    Workload(name="count_parquet", what="read_parquet(dir).count()"),
    Workload(name="map_batches_write",
             what="read_parquet → map_batches(c = a*2 + b) → write_parquet", writes=True),
    Workload(name="filter_groupby_expr",
             what="read_parquet → filter(expr: a > 0.5) → groupby(key).mean(b)"),
    Workload(name="filter_groupby_udf",
             what="read_parquet → filter(Python fn: row['a'] > 0.5) → groupby(key).mean(b)"),
    Workload(name="groupby_sum_cols",
             what="read_parquet(columns=[key, b]) → groupby(key).sum(b)"),
    Workload(name="sort", what="read_parquet(columns=[id, a]) → sort(a) → materialize"),
    Workload(name="iter_batches",
             what="iter_batches(batch_size=4096, batch_format='numpy') over the whole table"),
    Workload(name="read_csv_count", what="read_csv → map_batches(c = a*2 + b) → count",
             datasets=("csv",)),
    Workload(name="cpu_to_gpu_pipeline",
             what="range → map_batches(decode, CPU) → map_batches(SlowModel, num_gpus=1, "
                  "concurrency=1; sleeps per batch) → iter_batches in the driver",
             datasets=(), engines=RAY_LIKE),
    Workload(name="larger_than_memory",
             what="read_parquet → map_batches(c = a*2 + b) → write_parquet over 10× the "
                  "object-store budget", datasets=("ltm",), writes=True),
    # ---- user_forms (issue 14): the pipelines above as Ray users write them
    Workload(name="map_batches_pandas_write",
             what="read_parquet → map_batches(pandas UDF c = a*2 + b, batch_format='pandas') "
                  "→ write_parquet", writes=True),
    Workload(name="map_batches_actor_write",
             what="read_parquet → map_batches(callable class, batch_format='pandas', "
                  "concurrency=num_cpus - 1) → write_parquet", writes=True),
    Workload(name="map_batches_arrow_write",
             what="read_parquet → map_batches(Arrow-compute UDF, batch_format='pyarrow') "
                  "→ write_parquet", writes=True),
    Workload(name="with_column_write",
             what="read_parquet → with_column('c', col('a') * 2 + col('b')) → write_parquet",
             writes=True),
    Workload(name="read_csv_pandas_count",
             what="read_csv → map_batches(pandas UDF, batch_format='pandas') → count",
             datasets=("csv",)),
    Workload(name="map_rows_sum",
             what="read_parquet(first row_udf_files files) → map(row UDF c = a*2 + b) → "
                  "aggregate(Count, Sum(c))", engines=ROW_UDF),
    Workload(name="flat_map_count",
             what="read_parquet(first row_udf_files files) → flat_map(row → 2 rows) → count",
             engines=ROW_UDF),
    Workload(name="join_sum",
             what="read_parquet(id, key, a) ⋈ read_parquet(first row_udf_files files; id, b) "
                  "on id (inner, join_partitions) → aggregate(Count, Sum(b))"),
    Workload(name="iter_batches_pandas",
             what="iter_batches(batch_size=4096, batch_format='pandas') over the whole table"),
    Workload(name="iter_batches_arrow",
             what="iter_batches(batch_size=4096, batch_format='pyarrow') over the whole table"),
    Workload(name="iter_torch_batches",
             what="read_parquet(id, key, a, b) → iter_torch_batches(batch_size=4096)",
             engines=ROW_UDF),
)}

GROUPS: dict[str, tuple[str, ...]] = {
    "filter_groupby": ("filter_groupby_expr", "filter_groupby_udf"),
    "user_forms": ("map_batches_pandas_write", "map_batches_actor_write",
                   "map_batches_arrow_write", "with_column_write", "read_csv_pandas_count",
                   "map_rows_sum", "flat_map_count", "join_sum", "iter_batches_pandas",
                   "iter_batches_arrow", "iter_torch_batches"),
}


def resolve_workloads(only: str | None) -> list[str]:
    """Workload names from a comma list (groups expanded, catalogue order kept).

    Raises:
        ValueError: an unknown name, listing the valid ones.
    """
    if not only:
        return list(WORKLOADS)
    wanted: set[str] = set()
    for raw in only.split(","):
        name = raw.strip()
        if not name:
            continue
        if name in GROUPS:
            wanted.update(GROUPS[name])
        elif name in WORKLOADS:
            wanted.add(name)
        else:
            valid = sorted([*WORKLOADS, *GROUPS])
            raise ValueError(f"unknown workload {name!r}; valid: {valid}")
    return [name for name in WORKLOADS if name in wanted]


def resolve_engines(engines: str | None) -> list[str]:
    """Engine names from a comma list, in table order.

    Example:
        >>> resolve_engines("pyarrow,ray")
        ['ray', 'pyarrow']

    Raises:
        ValueError: an unknown engine, listing the valid ones.
    """
    if not engines:
        return list(ENGINES)
    wanted = {e.strip() for e in engines.split(",") if e.strip()}
    unknown = sorted(wanted - set(ENGINES))
    if unknown:
        raise ValueError(f"unknown engine(s) {unknown}; valid: {list(ENGINES)}")
    return [e for e in ENGINES if e in wanted]


def supports(workload: str, engine: str) -> bool:
    """Whether ``engine`` has an implementation of ``workload``.

    Example:
        >>> supports("cpu_to_gpu_pipeline", "polars"), supports("sort", "polars")
        (False, True)
    """
    allowed = WORKLOADS[workload].engines
    return allowed is None or engine in allowed


@dataclass(slots=True, kw_only=True)
class Params:
    """Everything a worker process needs to run one workload (JSON-serialisable).

    Attributes:
        parquet_dir / csv_dir / ltm_dir: the generated datasets.
        out_dir: a scratch directory for written output (emptied before each repetition).
        reps: repetitions inside the worker process.
        num_cpus: CPUs given to every engine (``ray.init(num_cpus=...)``, thread counts).
        batch_size: ``iter_batches`` batch size.
        ltm_budget_bytes: object-store budget of ``larger_than_memory``.
        gpu_*: the ``cpu_to_gpu_pipeline`` shape: batches, rows per batch, seconds the
            slow stage sleeps per batch, features per row, object-store budget.
        row_udf_files: how many Parquet files the row-UDF forms (``map``, ``flat_map``) read.
        join_partitions: ``num_partitions`` of ``join_sum``.
    """

    parquet_dir: str = ""
    csv_dir: str = ""
    ltm_dir: str = ""
    out_dir: str = ""
    reps: int = 3
    num_cpus: int = 2
    batch_size: int = 4096
    ltm_budget_bytes: int = 256 * 2**20
    gpu_batches: int = 200
    gpu_batch_size: int = 1024
    gpu_sleep_s: float = 0.05
    gpu_feature_dim: int = 256
    gpu_budget_bytes: int = 512 * 2**20
    row_udf_files: int = 4
    join_partitions: int = 4
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Params:
        return cls(**json.loads(text))

    @classmethod
    def from_file(cls, path: str | Path) -> Params:
        return cls.from_json(Path(path).read_text())

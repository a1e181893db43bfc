"""Ray Data and streamdata: ONE workload code, two imports.

A Ray Data user writes ``import ray`` and calls ``ray.init`` / ``ray.data.read_parquet``;
a streamdata user writes ``import streamdata as sd`` and calls ``sd.init`` /
``sd.read_parquet``. Here ``rt`` is the runtime module (``ray`` or ``streamdata``) and
``rd`` the data module (``ray.data`` or ``streamdata``): the workload functions below
are the same text for both engines, which is the point of the comparison. The only
engine-specific lines are the imports in :func:`import_engine` and Ray's
``include_dashboard=False`` in :func:`start` (BENCHMARKS.md: dashboard off).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from workloads import Params

from engines.common import Workload, a_is_large, add_c, groups_check, workload_table
from engines.raylike_forms import WORKLOADS as FORM_WORKLOADS


@dataclass(frozen=True, slots=True)
class RayLike:
    """The two modules a workload uses, and where ``col`` comes from."""

    engine: str
    rt: ModuleType
    rd: ModuleType
    col: Callable[[str], Any]
    agg: ModuleType | None = None


def import_engine(engine: str) -> RayLike:
    """Import Ray (``engine="ray"``) or streamdata; this is the timed import."""
    if engine == "ray":
        import ray
        import ray.data
        import ray.data.aggregate
        from ray.data.expressions import col
        return RayLike("ray", ray, ray.data, col, ray.data.aggregate)
    if engine == "streamdata":
        import streamdata as sd
        import streamdata.aggregate
        return RayLike("streamdata", sd, sd, lambda name: sd.col(name), streamdata.aggregate)
    raise ValueError(f"not a Ray-like engine: {engine!r}")


def start(api: RayLike, params: Params, workload: str) -> RayLike:
    """``init`` with the CPUs (and, per workload, a GPU or an object-store budget)."""
    kwargs: dict[str, Any] = {"num_cpus": params.num_cpus}
    if workload == "cpu_to_gpu_pipeline":
        kwargs["num_gpus"] = 1
        kwargs["object_store_memory"] = params.gpu_budget_bytes
    elif workload == "larger_than_memory":
        kwargs["object_store_memory"] = params.ltm_budget_bytes
    if api.engine == "ray":
        kwargs["include_dashboard"] = False
    api.rt.init(**kwargs)
    api.rd.DataContext.get_current().enable_progress_bars = False
    return api


def stop(api: RayLike) -> None:
    api.rt.shutdown()


# ----------------------------------------------------------------------------- workloads
# Everything below uses only `api.rt`, `api.rd` and `api.col`: identical for both engines.


def count_parquet(api: RayLike, p: Params) -> dict[str, Any]:
    return {"rows": api.rd.read_parquet(p.parquet_dir).count()}


def map_batches_write(api: RayLike, p: Params) -> dict[str, Any]:
    api.rd.read_parquet(p.parquet_dir).map_batches(add_c).write_parquet(p.out_dir)
    return {}


def _mean_check(df: Any) -> dict[str, Any]:
    value_column = next(c for c in df.columns if c != "key")
    return groups_check(len(df), df[value_column])


def filter_groupby_expr(api: RayLike, p: Params) -> dict[str, Any]:
    ds = api.rd.read_parquet(p.parquet_dir)
    df = ds.filter(expr=api.col("a") > 0.5).groupby("key").mean("b").to_pandas()
    return _mean_check(df)


def filter_groupby_udf(api: RayLike, p: Params) -> dict[str, Any]:
    ds = api.rd.read_parquet(p.parquet_dir)
    df = ds.filter(a_is_large).groupby("key").mean("b").to_pandas()
    return _mean_check(df)


def groupby_sum_cols(api: RayLike, p: Params) -> dict[str, Any]:
    ds = api.rd.read_parquet(p.parquet_dir, columns=["key", "b"])
    df = ds.groupby("key").sum("b").to_pandas()
    return _mean_check(df)


def sort(api: RayLike, p: Params) -> dict[str, Any]:
    ds = api.rd.read_parquet(p.parquet_dir, columns=["id", "a"]).sort("a").materialize()
    return {"rows": ds.count(), "first_id": int(ds.take(1)[0]["id"])}


def iter_batches(api: RayLike, p: Params) -> dict[str, Any]:
    rows = 0
    id_sum = 0
    ds = api.rd.read_parquet(p.parquet_dir)
    for batch in ds.iter_batches(batch_size=p.batch_size, batch_format="numpy"):
        rows += len(batch["id"])
        id_sum += int(batch["id"].sum())
    return {"rows": rows, "id_sum": id_sum}


def read_csv_count(api: RayLike, p: Params) -> dict[str, Any]:
    return {"rows": api.rd.read_csv(p.csv_dir).map_batches(add_c).count()}


def larger_than_memory(api: RayLike, p: Params) -> dict[str, Any]:
    api.rd.read_parquet(p.ltm_dir).map_batches(add_c).write_parquet(p.out_dir)
    return {}


def decode(batch: dict[str, np.ndarray], feature_dim: int) -> dict[str, np.ndarray]:
    """The fast CPU stage: 'decodes' each row into ``feature_dim`` float32 features."""
    ids = batch["id"]
    rng = np.random.default_rng(int(ids[0]) if len(ids) else 0)
    batch["x"] = rng.random((len(ids), feature_dim), dtype=np.float32)
    return batch


class SlowModel:
    """The slow stage, declared ``num_gpus=1``: sleeps per batch where a model would run.

    Each output row carries the wall-clock start and end of the call that made it,
    from which the driver computes how busy the stage was.
    """

    def __init__(self, sleep_s: float) -> None:
        self.sleep_s = sleep_s

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        t0 = time.time()
        time.sleep(self.sleep_s)
        score = batch["x"].mean(axis=1)
        t1 = time.time()
        n = len(score)
        return {"id": batch["id"], "score": score,
                "t0": np.full(n, t0), "t1": np.full(n, t1)}


def busy_stats(t0: np.ndarray, t1: np.ndarray, started: float, ended: float) -> dict[str, Any]:
    """How busy the slow stage was, from the per-call (t0, t1) stamps of its output rows.

    ``busy_pct``: busy time over the window from its first call's start to its last call's
    end (starvation while it runs); ``busy_pct_e2e``: over the whole execution, start-up
    of the pipeline included.

    Example:
        >>> busy_stats(np.array([0., 0., 2.]), np.array([1., 1., 3.]), 0.0, 4.0)
        {'calls': 2, 'busy_s': 2.0, 'busy_pct': 66.7, 'busy_pct_e2e': 50.0}
    """
    if len(t0) == 0:
        return {"calls": 0, "busy_s": 0.0, "busy_pct": 0.0, "busy_pct_e2e": 0.0}
    starts, index = np.unique(t0, return_index=True)
    ends = t1[index]
    busy = float(np.sum(ends - starts))
    window = float(ends.max() - starts.min())
    return {"calls": len(starts), "busy_s": round(busy, 3),
            "busy_pct": round(100.0 * busy / window, 1) if window > 0 else 0.0,
            "busy_pct_e2e": round(100.0 * busy / (ended - started), 1) if ended > started else 0.0}


def cpu_to_gpu_pipeline(api: RayLike, p: Params) -> dict[str, Any]:
    rows = p.gpu_batches * p.gpu_batch_size
    ds = (api.rd.range(rows)
          .map_batches(decode, batch_size=p.gpu_batch_size,
                       fn_kwargs={"feature_dim": p.gpu_feature_dim})
          .map_batches(SlowModel, fn_constructor_kwargs={"sleep_s": p.gpu_sleep_s},
                       batch_size=p.gpu_batch_size, num_gpus=1, concurrency=1))
    started = time.time()
    t0s: list[np.ndarray] = []
    t1s: list[np.ndarray] = []
    count = 0
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        count += len(batch["id"])
        t0s.append(batch["t0"])
        t1s.append(batch["t1"])
    ended = time.time()
    stats = busy_stats(np.concatenate(t0s) if t0s else np.array([]),
                       np.concatenate(t1s) if t1s else np.array([]), started, ended)
    stats["ideal_s"] = round(p.gpu_batches * p.gpu_sleep_s, 3)
    return {"rows": count, "metrics": stats}


WORKLOADS: dict[str, Workload] = {
    **workload_table(count_parquet, map_batches_write, filter_groupby_expr, filter_groupby_udf,
                     groupby_sum_cols, sort, iter_batches, read_csv_count, cpu_to_gpu_pipeline,
                     larger_than_memory),
    **FORM_WORKLOADS,
}

FORMS: dict[str, str] = {
    "filter_groupby_udf": "filter(fn) with a row predicate",
    "map_batches_write": "map_batches(numpy UDF) as tasks",
    "map_batches_actor_write": "map_batches(callable class, batch_format='pandas', "
                               "concurrency=num_cpus - 1): an actor pool",
}

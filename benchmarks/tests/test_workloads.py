"""Tests of the workload catalogue and the shared pieces of the engines."""

from __future__ import annotations

import inspect
import re

import engines
import numpy as np
import pyarrow as pa
import pytest
from engines import common, raylike
from workloads import (
    ENGINES,
    GROUPS,
    WORKLOADS,
    Params,
    resolve_engines,
    resolve_workloads,
    supports,
)


def test_catalogue_covers_benchmarks_md() -> None:
    assert list(WORKLOADS) == [
        "count_parquet", "map_batches_write", "filter_groupby_expr", "filter_groupby_udf",
        "groupby_sum_cols", "sort", "iter_batches", "read_csv_count", "cpu_to_gpu_pipeline",
        "larger_than_memory", *GROUPS["user_forms"]]
    assert GROUPS["filter_groupby"] == ("filter_groupby_expr", "filter_groupby_udf")
    assert "join_sum" in GROUPS["user_forms"] and "iter_torch_batches" in GROUPS["user_forms"]


def test_resolve_workloads_and_engines() -> None:
    assert resolve_workloads("sort, count_parquet") == ["count_parquet", "sort"]
    assert resolve_workloads("filter_groupby_udf") == ["filter_groupby_udf"]
    with pytest.raises(ValueError, match="valid"):
        resolve_workloads("sortt")
    assert resolve_engines(None) == list(ENGINES)
    assert resolve_engines("duckdb,streamdata") == ["streamdata", "duckdb"]
    with pytest.raises(ValueError, match="spark"):
        resolve_engines("spark")


def test_every_engine_implements_what_it_supports() -> None:
    for engine in ENGINES:
        module = engines.module_for(engine)
        for name in WORKLOADS:
            assert (name in module.WORKLOADS) == supports(name, engine), (engine, name)


def test_params_round_trip() -> None:
    params = Params(parquet_dir="/x", reps=2, gpu_sleep_s=0.01, extra={"k": 1})
    assert Params.from_json(params.to_json()) == params


def test_ray_and_streamdata_share_the_workload_code() -> None:
    """The Ray-like workload bodies never name an engine: only the import differs."""
    engine_names = re.compile(r"\bray\b|\bstreamdata\b|\bsd\.")
    for name, fn in raylike.WORKLOADS.items():
        source = inspect.getsource(fn)
        body = source.split(":", 1)[1]
        assert not engine_names.search(body), f"{name} names an engine"
    assert engines.module_for("ray") is engines.module_for("streamdata")


def test_rebatch_to_numpy_gives_exact_batches() -> None:
    parts = [pa.record_batch({"id": np.arange(i * 7, i * 7 + 7)}) for i in range(5)]
    parts.append(pa.table({"id": np.arange(35, 40)}))
    batches = list(common.rebatch_to_numpy(parts, 4))
    assert [len(b["id"]) for b in batches] == [4] * 10
    assert np.concatenate([b["id"] for b in batches]).tolist() == list(range(40))
    assert common.iter_check(iter(batches)) == {"rows": 40, "id_sum": sum(range(40))}


def test_user_form_udfs_agree_with_the_numpy_udf() -> None:
    import pandas as pd

    a, b = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    expected = common.add_c({"a": a.copy(), "b": b.copy()})["c"].tolist()
    assert common.add_c_pandas(pd.DataFrame({"a": a, "b": b}))["c"].tolist() == expected
    assert common.AddCPandas()(pd.DataFrame({"a": a, "b": b}))["c"].tolist() == expected
    assert common.add_c_arrow(pa.table({"a": a, "b": b}))["c"].to_pylist() == expected
    assert [common.add_c_row({"a": x, "b": y})["c"] for x, y in zip(a, b)] == expected
    assert common.two_rows({"id": 3, "a": 0.5}) == [{"id": 3, "a": 0.5}, {"id": 3, "a": -0.5}]


def test_rebatch_as_every_format() -> None:
    parts = [pa.record_batch({"id": np.arange(i * 5, i * 5 + 5)}) for i in range(3)]
    for fmt in ("numpy", "pandas", "pyarrow"):
        batches = list(common.rebatch_as(parts, 4, fmt))
        assert [len(b["id"]) for b in batches] == [4, 4, 4, 3], fmt
        assert common.iter_check_any(batches) == {"rows": 15, "id_sum": sum(range(15))}


def test_busy_stats_counts_each_call_once() -> None:
    # Two output blocks of the same call carry the same stamps: counted once.
    t0 = np.array([10.0, 10.0, 11.0, 11.0, 12.5])
    t1 = np.array([11.0, 11.0, 12.0, 12.0, 13.0])
    stats = raylike.busy_stats(t0, t1, started=9.0, ended=13.0)
    assert stats["calls"] == 3
    assert stats["busy_s"] == 2.5
    assert stats["busy_pct"] == round(100 * 2.5 / 3.0, 1)
    assert stats["busy_pct_e2e"] == round(100 * 2.5 / 4.0, 1)
    assert raylike.busy_stats(np.array([]), np.array([]), 0.0, 1.0)["calls"] == 0


def test_slow_model_stamps_its_calls() -> None:
    model = raylike.SlowModel(sleep_s=0.0)
    batch = raylike.decode({"id": np.arange(3)}, feature_dim=4)
    assert batch["x"].shape == (3, 4) and batch["x"].dtype == np.float32
    out = model(batch)
    assert set(out) == {"id", "score", "t0", "t1"}
    assert (out["t1"] >= out["t0"]).all() and len(set(out["t0"])) == 1

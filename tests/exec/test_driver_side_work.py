"""Small work the driver does itself instead of a task round trip: the merge of built-in
partial aggregates, and the slice of the block a limit straddles (local runtime)."""

from __future__ import annotations

import pytest

import streamdata as sd
from streamdata.aggregate import AggregateFn, Count, Sum

pytestmark = pytest.mark.usefixtures("data_runtime")


def _tasks_since(name: str, start_us: float) -> int:
    return sum(1 for e in sd.timeline() if e.get("name") == name and e["ts"] >= start_us)


def _reduce_tasks_since(start_us: float) -> int:
    return _tasks_since("reduce_task", start_us)


def _now_us() -> float:
    import time

    return time.time() * 1e6


def test_a_small_builtin_aggregation_merges_on_the_driver():
    ds = sd.range(10_000, override_num_blocks=4).with_column("k", sd.col("id") % 7)
    start = _now_us()
    rows = ds.groupby("k").aggregate(Count(), Sum("id")).take_all()
    assert _reduce_tasks_since(start) == 0
    assert [r["k"] for r in rows] == list(range(7))
    assert sum(r["count()"] for r in rows) == 10_000
    assert sum(r["sum(id)"] for r in rows) == sum(range(10_000))


def test_a_global_aggregate_merges_on_the_driver():
    start = _now_us()
    assert sd.range(1000, override_num_blocks=3).aggregate(Count(), Sum("id")) == {
        "count()": 1000, "sum(id)": 499500}
    assert _reduce_tasks_since(start) == 0


def test_a_user_aggregation_still_merges_in_a_task():
    total = AggregateFn(init=lambda k: 0, accumulate_row=lambda a, r: a + r["id"],
                        merge=lambda a, b: a + b, name="total")
    start = _now_us()
    rows = sd.range(100, override_num_blocks=2).with_column("k", sd.col("id") % 2) \
        .groupby("k").aggregate(total).take_all()
    assert {r["k"]: r["total"] for r in rows} == {0: 2450, 1: 2500}
    assert _reduce_tasks_since(start) >= 1


def test_a_limit_slices_the_block_it_straddles_on_the_driver():
    ds = sd.range(300_000, override_num_blocks=2).materialize()  # blocks in shared memory
    start = _now_us()
    assert [r["id"] for r in ds.take(3)] == [0, 1, 2]
    assert ds.limit(150_001).count() == 150_001
    assert ds.limit(150_001).sum("id") == sum(range(150_001))
    assert _tasks_since("slice_block", start) == 0

"""A small merge of built-in partial aggregates runs on the driver, not as a task."""

from __future__ import annotations

import pytest

import streamdata as sd
from streamdata.aggregate import AggregateFn, Count, Sum

pytestmark = pytest.mark.usefixtures("data_runtime")


def _reduce_tasks_since(start_us: float) -> int:
    return sum(1 for e in sd.timeline() if e.get("name") == "reduce_task" and e["ts"] >= start_us)


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

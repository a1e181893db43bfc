"""A join of two small Parquet reads consumed in this process runs on its threads
(streamdata.execution.driver_join): which plans qualify (no processes), and that what the
consumer sees is what the executor would have given it."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import streamdata as sd
from streamdata.aggregate import Count, Max, Sum
from streamdata.context import DataContext
from streamdata.errors import ColumnNotFoundError
from streamdata.execution import driver_join, driver_read
from streamdata.execution.compiler import optimize
from streamdata.plan.cluster import ClusterInfo

JOIN_TYPES = ("inner", "left_outer", "right_outer", "full_outer", "left_semi", "left_anti", "right_semi",
              "right_anti")


@pytest.fixture
def sides(tmp_path):
    """Two folders of Parquet files: ``left`` (id 0..1199, a string key) and ``right``
    (every third id from 600 on, so some rows match and some do not on either side)."""
    (tmp_path / "left").mkdir()
    (tmp_path / "right").mkdir()
    for i in range(3):
        ids = list(range(i * 400, (i + 1) * 400))
        pq.write_table(pa.table({"id": ids, "k": [f"k{j % 5}" for j in ids], "v": [float(j) for j in ids]}),
                       tmp_path / "left" / f"part-{i}.parquet")
    right_ids = list(range(600, 1500, 3))
    pq.write_table(pa.table({"id": right_ids, "k": [f"k{j % 7}" for j in right_ids],
                             "w": [j * 10 for j in right_ids]}), tmp_path / "right" / "part-0.parquet")
    return str(tmp_path / "left"), str(tmp_path / "right")


def _chosen(ds: sd.Dataset, ctx: DataContext | None = None) -> driver_join.DriverJoin | None:
    ctx = ctx or DataContext()
    plan = optimize(ds._plan, ctx, ClusterInfo(num_cpus=2))
    return driver_join.small_driver_join(plan, ctx, num_cpus=2)


# ---------------------------------------------------------------------------- the policy


def test_a_join_of_two_small_reads_runs_on_the_driver(sides):
    left, right = sd.read_parquet(sides[0]), sd.read_parquet(sides[1])
    chosen = _chosen(left.join(right, on=("id",), left_suffix="_l"))
    assert chosen is not None and chosen.aggregate is None and chosen.join.on == ("id",)
    with_expressions = left.with_column("id2", sd.col("id") * 2).filter(expr=sd.col("v") > 3)
    chosen = _chosen(with_expressions.join(right, on=("id",), left_suffix="_l").groupby("k_l").sum("w"))
    assert chosen.left.maps is not None and chosen.aggregate.keys == ("k_l",)


def test_what_keeps_a_join_on_the_executor(sides, monkeypatch):
    left, right = sd.read_parquet(sides[0]), sd.read_parquet(sides[1])
    assert _chosen(left.map_batches(lambda b: b).join(right, on=("id",), left_suffix="_l")) is None
    assert _chosen(left.join(right.map_batches(lambda b: b), on=("id",), left_suffix="_l")) is None
    assert _chosen(left.join(right, on=("id",), left_suffix="_l",
                             aggregator_ray_remote_args={"num_cpus": 0.5})) is None
    assert _chosen(left.join(right, on=("id",), left_suffix="_l"),
                   DataContext(driver_reads_small_data=False)) is None
    assert _chosen(left.join(right, on=("id",), left_suffix="_l"), DataContext(max_errored_blocks=1)) is None
    # each side alone is small, both together are not
    sizes = [driver_read.small_read_chain(optimize(d._plan, DataContext(), ClusterInfo(num_cpus=2)).root)[1]
             for d in (left, right)]
    monkeypatch.setattr(driver_read, "SMALL_READ_BYTES_PER_CPU", max(sizes) // 2 + 1)
    assert all(size <= driver_read.small_read_limit(2) for size in sizes)
    assert _chosen(left.join(right, on=("id",), left_suffix="_l")) is None


# ---------------------------------------------------------------------------- what the consumer sees


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([(name, "ascending") for name in table.column_names])


def test_every_join_type_gives_the_executors_rows(sides, executor_only):
    left, right = sd.read_parquet(sides[0]), sd.read_parquet(sides[1])
    queries = {f"{how} on {key}": (lambda how=how, key=key: left.join(
        right, join_type=how, on=(key,), left_suffix="_l", right_suffix="_r", num_partitions=3).to_arrow())
        for how in JOIN_TYPES for key in ("id", "k")}
    on_driver = {name: query() for name, query in queries.items()}
    joined = left.join(right, on=("id",), left_suffix="_l")
    joined.take_all()
    assert "joined on the driver" in joined.stats()
    executor_only.driver_reads_small_data = False
    joined.take_all()
    assert "joined on the driver" not in joined.stats()
    for name, query in queries.items():
        expected = query()
        assert on_driver[name].schema.equals(expected.schema), name
        assert _sorted(on_driver[name]).equals(_sorted(expected)), name
    assert on_driver["inner on id"].num_rows == len(range(600, 1200, 3))
    assert on_driver["full_outer on id"].num_rows == 1200 + len(range(1200, 1500, 3))


def test_an_aggregation_of_a_join_is_the_executors(sides, executor_only):
    left, right = sd.read_parquet(sides[0]), sd.read_parquet(sides[1])
    joined = left.join(right, on=("id",), left_suffix="_l", right_suffix="_r")
    queries = {
        "global": lambda: joined.aggregate(Count(), Sum("w"), Max("v")),
        "grouped": lambda: joined.groupby("k_l").aggregate(Count(), Sum("w")).to_arrow(),
        "count": lambda: joined.count(),
        "expressions": lambda: left.filter(expr=sd.col("v") >= 900).join(right, on=("id",), left_suffix="_l")
                                   .aggregate(Count(), Sum("w")),
    }
    on_driver = {name: query() for name, query in queries.items()}
    executor_only.driver_reads_small_data = False
    for name, query in queries.items():
        expected = query()
        assert (on_driver[name].equals(expected) if hasattr(expected, "equals") else on_driver[name] == expected), name
    matched = range(600, 1200, 3)
    assert on_driver["global"] == {"count()": len(matched), "sum(w)": sum(j * 10 for j in matched),
                                   "max(v)": float(max(matched))}


def test_an_empty_side_keeps_the_other_sides_rows_and_every_column(sides, executor_only):
    left, right = sd.read_parquet(sides[0]), sd.read_parquet(sides[1]).filter(expr="id < 0")
    out = left.join(right, join_type="left_outer", on=("id",), left_suffix="_l").to_arrow()
    assert out.num_rows == 1200 and out.column_names == ["id", "k_l", "v", "k", "w"]
    assert out.column("w").null_count == 1200


@pytest.mark.parametrize("driver", [True, False], ids=["driver", "executor"])
def test_a_join_on_a_missing_column_fails_naming_it(sides, executor_only, driver):
    executor_only.driver_reads_small_data = driver
    left, right = sd.read_parquet(sides[0]), sd.read_parquet(sides[1])
    with pytest.raises(ColumnNotFoundError, match="'nope'"):
        left.join(right, on=("nope",)).take_all()
    with pytest.raises(ColumnNotFoundError, match="'nope'"):
        left.join(right, on=("id",), right_on=("nope",), left_suffix="_l").take_all()

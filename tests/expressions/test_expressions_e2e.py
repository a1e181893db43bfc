"""Expressions through the engine: ``with_column`` and ``filter(expr=...)`` on datasets run by
worker processes (one runtime for the module), plus the UDF and generator nodes."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import streamdata as sd
from streamdata.errors import ColumnNotFoundError, UDFReturnError
from streamdata.expressions import (
    EvalContext, col, lit, monotonically_increasing_id, pyarrow_udf, random, udf, uuid,
)


pytestmark = pytest.mark.usefixtures("data_runtime")  # one runtime for the module (tests/conftest.py)


@udf(return_dtype=pa.int64())
def add_one(x: pa.Array) -> pa.Array:
    return pc.add(x, 1)


@udf(return_dtype=pa.string())
def join_names(first: pa.Array, last: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(first, last, " ")


@udf(return_dtype=pa.int64())
class AddOffset:
    def __init__(self, offset: int) -> None:
        self.offset = offset
        self.pid = os.getpid()

    def __call__(self, x: pa.Array, report_pid: bool = False) -> pa.Array:
        if report_pid:
            return pa.array([self.pid] * len(x))
        return pc.add(x, self.offset)


def test_math_string_and_list_columns_end_to_end() -> None:
    ds = sd.from_items([{"x": -2.0, "name": "Alice", "items": [3, 1]},
                        {"x": 9.0, "name": "bob", "items": [2]}])
    out = (ds.with_column("ax", col("x").abs().sqrt())
             .with_column("up", col("name").str.upper())
             .with_column("n", col("items").list.len())
             .with_column("first", col("items").list.sort().list[0])
             .with_column("xi", col("x").cast(pa.int64()))
             .take_all())
    assert [r["ax"] for r in out] == pytest.approx([2 ** 0.5, 3.0])
    assert [r["up"] for r in out] == ["ALICE", "BOB"]
    assert [(r["n"], r["first"], r["xi"]) for r in out] == [(2, 1, -2), (1, 2, 9)]


def test_filter_with_new_expression_kinds() -> None:
    ds = sd.range(20, override_num_blocks=4)
    got = ds.filter(expr=col("id").not_in([0, 1, 2]) & (col("id").power(2) < 50)).take_all()
    assert [r["id"] for r in got] == [3, 4, 5, 6, 7]
    names = sd.from_items([{"s": "apple"}, {"s": "banana"}, {"s": None}, {"s": "avocado"}])
    assert [r["s"] for r in names.filter(expr=col("s").str.starts_with("a")).take_all()] == ["apple", "avocado"]
    assert names.filter(expr=add_one(col("s").str.len()) > 6).count() == 2


def test_udfs_end_to_end() -> None:
    ds = sd.from_items([{"v": 5, "first": "John", "last": "Doe"}, {"v": 10, "first": "Jane", "last": "Roe"}])
    out = (ds.with_column("v1", add_one(col("v")))
             .with_column("full", join_names(col("first"), col("last")))
             .with_column("v5", AddOffset(5)(col("v")))
             .with_column("pid", AddOffset(0)(col("v"), report_pid=True))
             .with_column("twice", add_one(col("v")) * 2)
             .take_all())
    assert [(r["v1"], r["full"], r["v5"], r["twice"]) for r in out] == \
        [(6, "John Doe", 10, 12), (11, "Jane Roe", 15, 22)]
    assert os.getpid() not in {r["pid"] for r in out}  # built in the workers, not on the driver


def test_udf_bad_return_names_the_udf() -> None:
    @udf(return_dtype=pa.int64())
    def too_short(x: pa.Array) -> pa.Array:
        return x.slice(0, 1)

    with pytest.raises(UDFReturnError, match="too_short returned 1 values for a block of 3 rows"):
        too_short(col("a")).evaluate(pa.table({"a": [1, 2, 3]}))

    @pyarrow_udf(return_dtype=pa.int64())
    def words(x: pa.Array) -> list:
        return ["a"] * len(x)

    with pytest.raises(UDFReturnError, match="words"):
        words(col("a")).evaluate(pa.table({"a": [1, 2]}))
    with pytest.raises(TypeError, match="udf"):
        udf(return_dtype="int")


def test_unknown_column_fails_at_plan_time_listing_columns() -> None:
    with pytest.raises(ColumnNotFoundError, match="'id'"):
        sd.range(3).with_column("y", col("nope").str.len())


def test_monotonically_increasing_id_unique_and_increasing_per_task() -> None:
    ds = sd.range(1000, override_num_blocks=5).with_column("uid", monotonically_increasing_id())
    rows = ds.take_all()
    uids = [r["uid"] for r in rows]
    assert len(set(uids)) == 1000
    by_block: dict[int, list[int]] = {}
    for r in rows:
        by_block.setdefault(r["uid"] >> 33, []).append(r["uid"])
    for ids in by_block.values():
        assert ids == sorted(ids)
    # the upper bits are the task's index, as Ray documents: tasks 0..4, each numbering from 0
    assert sorted(by_block) == [0, 1, 2, 3, 4]
    assert sorted(ids[0] & ((1 << 33) - 1) for ids in by_block.values()) == [0] * 5


def test_ids_with_a_task_context_follow_rays_layout() -> None:
    ctx = EvalContext(task_index=2)
    t = pa.table({"a": [1, 2, 3]})
    first = monotonically_increasing_id().evaluate(t, ctx).to_pylist()
    second = monotonically_increasing_id().evaluate(t, ctx).to_pylist()
    assert first == [2 << 33, (2 << 33) + 1, (2 << 33) + 2] and second[0] == (2 << 33) + 3


def test_random_and_uuid() -> None:
    rows = sd.range(200, override_num_blocks=2).with_column("r", random()).with_column("u", uuid()).take_all()
    r = np.array([x["r"] for x in rows])
    assert ((r >= 0) & (r < 1)).all() and len(set(r.tolist())) == 200
    assert len({x["u"] for x in rows}) == 200 and all(len(x["u"]) == 36 for x in rows)
    t = pa.table({"a": list(range(50))})
    a = random(seed=7, reseed_after_execution=False).evaluate(t, EvalContext(task_index=1)).to_pylist()
    b = random(seed=7, reseed_after_execution=False).evaluate(t, EvalContext(task_index=1)).to_pylist()
    c = random(seed=7).evaluate(t, EvalContext(task_index=1, execution_index=1)).to_pylist()
    assert a == b and a != c
    with pytest.raises(ValueError, match="seed"):
        random(seed=-1)


def test_udf_filter_on_parquet_runs_after_the_read(tmp_path) -> None:
    pq.write_table(pa.table({"a": list(range(10)), "s": [f"v{i}" for i in range(10)]}), tmp_path / "f.parquet")
    ds = sd.read_parquet(str(tmp_path))
    got = ds.filter(expr=(add_one(col("a")) > 7) & (col("a") < lit(9))).take_all()
    assert [r["a"] for r in got] == [7, 8]
    pushed = ds.filter(expr=col("s").str.ends_with("3")).take_all()
    assert [r["a"] for r in pushed] == [3]


def test_async_udf_is_awaited() -> None:
    import asyncio

    @udf(return_dtype=pa.int64())
    class Slow:
        async def __call__(self, x: pa.Array) -> pa.Array:
            await asyncio.sleep(0)
            return pc.multiply(x, 10)

    out = sd.range(4, override_num_blocks=2).with_column("y", Slow()(col("id"))).take_all()
    assert sorted(r["y"] for r in out) == [0, 10, 20, 30]

"""Aggregations (streamdata.aggregate) through the pure group-by kernels, against pandas."""

from __future__ import annotations

import math
import pickle

import cloudpickle
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from streamdata.aggregate import (
    AggregateFn,
    AggregateFnV2,
    Count,
    Max,
    Mean,
    Min,
    Quantile,
    Std,
    Sum,
    Unique,
)
from streamdata.errors import ColumnNotFoundError, PlanError, SchemaError
from streamdata.exec.shuffle.groupby import (
    aggregate_table,
    empty_aggregate_result,
    finalize_aggregate,
    merge_partials,
    partial_aggregate,
)


def random_table(n: int, *, seed: int = 0, num_keys: int = 7, null_frac: float = 0.1) -> pa.Table:
    rng = np.random.default_rng(seed)
    k = rng.integers(0, num_keys, n)
    k_mask = rng.random(n) < null_frac / 2
    v = rng.normal(10, 3, n)
    v_mask = rng.random(n) < null_frac
    i = rng.integers(-50, 50, n)
    s = np.array(["x", "yy", "a", "zz", "m"])[rng.integers(0, 5, n)]
    return pa.table({
        "k": pa.array(k, mask=k_mask),
        "k2": pa.array(rng.integers(0, 2, n)),
        "v": pa.array(v, mask=v_mask),
        "i": pa.array(i),
        "s": pa.array(s),
    })


def blockwise(table: pa.Table, keys: list[str], aggs: list, *, blocks: int, tree: bool = False) -> pa.Table:
    """Partial per block, merge (optionally in two levels), finalize — as the shuffle does."""
    bounds = np.linspace(0, table.num_rows, blocks + 1).astype(int)
    parts = [partial_aggregate(table.slice(a, b - a), keys, aggs) for a, b in zip(bounds[:-1], bounds[1:])]
    if tree and len(parts) > 2:
        half = len(parts) // 2
        parts = [merge_partials(parts[:half], keys, aggs), merge_partials(parts[half:], keys, aggs)]
    return finalize_aggregate(merge_partials(parts, keys, aggs), keys, aggs)


def to_records(table: pa.Table, keys: list[str]) -> dict:
    rows = table.to_pylist()
    return {tuple(r[k] for k in keys): r for r in rows}


def assert_close(a, b, name: str) -> None:
    if a is None or b is None or (isinstance(b, float) and math.isnan(b)):
        assert (a is None or (isinstance(a, float) and math.isnan(a))) and \
            (b is None or (isinstance(b, float) and math.isnan(b))), (name, a, b)
    elif isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-9), (name, a, b)
    else:
        assert a == b, (name, a, b)


@pytest.mark.parametrize("blocks,tree", [(1, False), (5, False), (9, True)])
def test_grouped_builtins_match_pandas(blocks: int, tree: bool) -> None:
    t = random_table(600, seed=blocks)
    aggs = [Count(), Count("v", ignore_nulls=True), Sum("v"), Sum("i"), Min("v"), Max("i"), Mean("v"),
            Std("v"), Std("i", ddof=0), Quantile("v", q=0.3), Min("s"), Max("s")]
    out = blockwise(t, ["k"], aggs, blocks=blocks, tree=tree)
    df = t.to_pandas()
    g = df.groupby("k", dropna=False)
    expected = {
        "count()": g.size(), "count(v)": g["v"].count(), "sum(v)": g["v"].sum(), "sum(i)": g["i"].sum(),
        "min(v)": g["v"].min(), "max(i)": g["i"].max(), "mean(v)": g["v"].mean(),
        "std(v)": g["v"].std(ddof=1), "std(i)": g["i"].std(ddof=0),
        "quantile(v)": g["v"].quantile(0.3), "min(s)": g["s"].min(), "max(s)": g["s"].max(),
    }
    got = to_records(out, ["k"])
    assert len(got) == df["k"].nunique(dropna=False)
    for key, row in got.items():
        for name, series in expected.items():
            want = series.loc[key[0]] if key[0] is not None else series[series.index.isna()].iloc[0]
            assert_close(row[name], None if pd.isna(want) else want.item() if hasattr(want, "item") else want,
                         name)
    # output sorted by key, nulls last
    keys = out.column("k").to_pylist()
    non_null = [k for k in keys if k is not None]
    assert keys == sorted(non_null) + [None] * (len(keys) - len(non_null))


def test_multi_key_string_keys_and_many_blocks() -> None:
    t = random_table(300, seed=3)
    aggs = [Count(), Mean("i")]
    out = blockwise(t, ["s", "k2"], aggs, blocks=13)
    df = t.to_pandas().groupby(["s", "k2"]).agg(n=("i", "size"), m=("i", "mean"))
    got = to_records(out, ["s", "k2"])
    assert set(got) == set(df.index)
    for key, row in got.items():
        assert row["count()"] == df.loc[key, "n"]
        assert row["mean(i)"] == pytest.approx(df.loc[key, "m"])
    assert out.column_names == ["s", "k2", "count()", "mean(i)"]
    keys = list(zip(out.column("s").to_pylist(), out.column("k2").to_pylist()))
    assert keys == sorted(keys)


def test_global_aggregation_and_empty_input() -> None:
    t = random_table(200, seed=5)
    df = t.to_pandas()
    out = blockwise(t, [], [Count(), Sum("i"), Mean("v"), Std("v"), Quantile("i", q=0.9)], blocks=4)
    row = out.to_pylist()[0]
    assert out.num_rows == 1
    assert row["count()"] == 200 and row["sum(i)"] == df["i"].sum()
    assert row["mean(v)"] == pytest.approx(df["v"].mean())
    assert row["std(v)"] == pytest.approx(df["v"].std())
    assert row["quantile(i)"] == pytest.approx(df["i"].quantile(0.9))

    empty = t.slice(0, 0)
    out = blockwise(empty, [], [Count(), Sum("i"), Mean("v"), Std("v"), Quantile("v"), Unique("s")], blocks=1)
    assert out.to_pylist() == [{"count()": 0, "sum(i)": None, "mean(v)": None, "std(v)": None,
                                "quantile(v)": None, "unique(s)": []}]
    assert finalize_aggregate(merge_partials([], [], [Count()]), [], [Count()]).to_pylist() == [{"count()": 0}]
    keyed = empty_aggregate_result(t.schema, ["k"], [Count(), Mean("v")])
    assert keyed.num_rows == 0 and keyed.column_names == ["k", "count()", "mean(v)"]


def test_null_handling() -> None:
    t = pa.table({"k": [1, 1, 2, 2, 3], "v": [1.0, None, None, None, 4.0]})
    aggs = [Sum("v"), Sum("v", ignore_nulls=False, alias_name="sum_strict"), Mean("v", ignore_nulls=False),
            Min("v"), Count("v"), Count("v", ignore_nulls=True, alias_name="nn"),
            Std("v", ignore_nulls=False, alias_name="sd_strict"), Quantile("v", ignore_nulls=False)]
    for blocks in (1, 3, 5):
        got = to_records(blockwise(t, ["k"], aggs, blocks=blocks), ["k"])
        assert got[(1,)]["sum(v)"] == 1.0 and got[(1,)]["sum_strict"] is None
        assert got[(2,)]["sum(v)"] is None and got[(2,)]["min(v)"] is None
        assert got[(1,)]["mean(v)"] is None and got[(3,)]["mean(v)"] == 4.0
        assert [got[(k,)]["count(v)"] for k in (1, 2, 3)] == [2, 2, 1]
        assert [got[(k,)]["nn"] for k in (1, 2, 3)] == [1, 0, 1]
        assert got[(1,)]["sd_strict"] is None and got[(3,)]["sd_strict"] == 0.0
        assert got[(1,)]["quantile(v)"] is None and got[(3,)]["quantile(v)"] == 4.0


def test_all_null_keys_form_one_group() -> None:
    t = pa.table({"k": pa.array([None] * 5, pa.int64()), "v": [1, 2, 3, 4, 5]})
    out = blockwise(t, ["k"], [Sum("v"), Count()], blocks=2)
    assert out.to_pylist() == [{"k": None, "sum(v)": 15, "count()": 5}]


def test_std_is_accurate_for_large_means() -> None:
    rng = np.random.default_rng(1)
    v = 1e9 + rng.normal(0, 1, 10_000)
    t = pa.table({"v": v})
    out = blockwise(t, [], [Std("v"), Std("v", ddof=0, alias_name="pop")], blocks=17).to_pylist()[0]
    assert out["std(v)"] == pytest.approx(np.std(v, ddof=1), rel=1e-6)
    assert out["pop"] == pytest.approx(np.std(v, ddof=0), rel=1e-6)


def test_std_of_one_value_is_zero_like_ray() -> None:
    out = aggregate_table(pa.table({"k": [1, 2, 2], "v": [5.0, 1.0, 3.0]}), ["k"], [Std("v")])
    assert out.column("std(v)").to_pylist() == [0.0, pytest.approx(math.sqrt(2))]


@pytest.mark.parametrize("q", [0.0, 0.25, 0.5, 0.77, 1.0])
def test_quantile_matches_numpy(q: float) -> None:
    rng = np.random.default_rng(int(q * 100))
    v = rng.integers(0, 1000, 301)
    out = blockwise(pa.table({"v": v}), [], [Quantile("v", q=q)], blocks=6).to_pylist()[0]
    assert out["quantile(v)"] == pytest.approx(float(np.quantile(v, q)))


def test_unique_sorted_and_with_nulls() -> None:
    t = pa.table({"k": [1, 1, 2, 1, 2, 2], "s": ["b", "a", None, "b", "c", "c"]})
    for blocks in (1, 4):
        got = to_records(blockwise(t, ["k"], [Unique("s", ignore_nulls=True), Unique("s", alias_name="u")],
                                   blocks=blocks), ["k"])
        assert got[(1,)]["unique(s)"] == ["a", "b"] and got[(2,)]["unique(s)"] == ["c"]
        assert got[(2,)]["u"] == ["c", None]  # Ray's default: ignore_nulls=False


def test_user_aggregate_fn_row_and_block_styles() -> None:
    t = random_table(120, seed=9)
    prod_rows = AggregateFn(init=lambda key: 0, merge=lambda a, b: a + b, name="sum_rows",
                            accumulate_row=lambda acc, row: acc + row["i"])
    keys_seen = AggregateFn(init=lambda key: [key], merge=lambda a, b: sorted(set(a) | set(b), key=str),
                            name="keys", accumulate_block=lambda acc, block: acc,
                            finalize=lambda acc: len(acc))
    maxlen = AggregateFn(zero_factory=lambda: 0, merge=max, name="n_max",
                         accumulate_block=lambda acc, block: max(acc, block.num_rows))
    out = blockwise(t, ["k"], [prod_rows, keys_seen, Sum("i")], blocks=6)
    for row in out.to_pylist():
        assert row["sum_rows"] == row["sum(i)"]
        assert row["keys"] == 1  # init received the group's own key every time
    out = blockwise(t, [], [maxlen], blocks=4).to_pylist()
    assert out == [{"n_max": 30}]


class ProductV2(AggregateFnV2):
    def __init__(self, on: str) -> None:
        super().__init__(f"prod({on})", lambda: 1, on=on, ignore_nulls=True)

    def aggregate_block(self, block: pa.Table) -> int:
        return pc.product(block[self.on]).as_py() or 1

    def combine(self, current_accumulator: int, new: int) -> int:
        return current_accumulator * new

    def finalize(self, accumulator: int) -> float:
        return float(accumulator)


def test_aggregate_fn_v2_subclass() -> None:
    t = pa.table({"k": [1, 2, 1, 2, 1], "x": [2, 3, 4, 5, 6]})
    out = blockwise(t, ["k"], [ProductV2("x")], blocks=3)
    assert out.to_pylist() == [{"k": 1, "prod(x)": 48.0}, {"k": 2, "prod(x)": 15.0}]
    assert ProductV2("x").get_target_column() == "x" and ProductV2("x").get_agg_name() == "prod"


def test_builtins_python_interface() -> None:
    agg = Mean("x")
    a = agg.aggregate_block(pa.table({"x": [1.0, 2.0]}))
    b = agg.aggregate_block(pa.table({"x": [6.0]}))
    assert agg.finalize(agg.combine(a, b)) == 3.0
    std = Std("x")
    acc = std.combine(std.aggregate_block(pa.table({"x": [1.0, 2.0]})), std.aggregate_block(pa.table({"x": [3.0]})))
    assert std.finalize(acc) == pytest.approx(1.0)
    assert std.finalize(std.aggregate_block(pa.table({"x": pa.array([], pa.float64())}))) is None


def test_aggregations_pickle() -> None:
    aggs = [Count(), Sum("v"), Std("v", ddof=0), Quantile("v", q=0.2), Unique("s"),
            AggregateFn(init=lambda k: 0, merge=lambda a, b: a + b, name="n",
                        accumulate_row=lambda a, r: a + 1)]
    t = random_table(50, seed=2)
    expected = aggregate_table(t, ["k"], aggs)
    again = cloudpickle.loads(cloudpickle.dumps(aggs))
    assert aggregate_table(t, ["k"], again).equals(expected)
    assert pickle.loads(pickle.dumps(aggs[2])).ddof == 0


def test_names_and_aliases() -> None:
    assert [a.name for a in (Count(), Count("x"), Sum("x"), Min("x"), Max("x"), Mean("x"), Std("x"),
                             Quantile("x"), Unique("x"))] == \
        ["count()", "count(x)", "sum(x)", "min(x)", "max(x)", "mean(x)", "std(x)", "quantile(x)", "unique(x)"]
    assert Sum("x", alias_name="total").name == "total"


def test_errors() -> None:
    t = pa.table({"k": [1], "s": ["a"]})
    with pytest.raises(ColumnNotFoundError, match="'nope'"):
        partial_aggregate(t, ["nope"], [Count()])
    with pytest.raises(ColumnNotFoundError) as info:
        partial_aggregate(t, ["k"], [Sum("missing")])
    assert info.value.available == ["k", "s"]
    with pytest.raises(SchemaError, match="numeric"):
        partial_aggregate(t, ["k"], [Mean("s")])
    with pytest.raises(PlanError, match="collide"):
        partial_aggregate(t, ["k"], [Sum("k"), Sum("k")])
    with pytest.raises(PlanError):
        Sum()
    with pytest.raises(PlanError):
        Quantile("x", q=1.5)
    with pytest.raises(PlanError):
        Std("x", ddof=-1)
    with pytest.raises(PlanError):
        AggregateFn(init=lambda k: 0, merge=lambda a, b: a, name="x")  # no accumulate
    with pytest.raises(PlanError):
        partial_aggregate(t, [], [])


def test_keys_without_aggregations_give_distinct_keys() -> None:
    t = pa.table({"a": [3, 1, 3, None, 1], "b": ["x", "y", "x", "z", "q"]})
    assert blockwise(t, ["a"], [], blocks=3).to_pylist() == [{"a": 1}, {"a": 3}, {"a": None}]
    assert blockwise(t, ["a", "b"], [], blocks=2).num_rows == 4


def test_partials_with_different_column_types_merge() -> None:
    a = partial_aggregate(pa.table({"k": [1], "v": pa.array([None], pa.null())}), ["k"], [Sum("v"), Max("v")])
    b = partial_aggregate(pa.table({"k": [1], "v": [2.5]}), ["k"], [Sum("v"), Max("v")])
    out = finalize_aggregate(merge_partials([a, b], ["k"], [Sum("v"), Max("v")]), ["k"], [Sum("v"), Max("v")])
    assert out.to_pylist() == [{"k": 1, "sum(v)": 2.5, "max(v)": 2.5}]

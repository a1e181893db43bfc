"""Ray's newer aggregations (AbsMax, AsList, CountDistinct, ValueCounter, MissingValuePercentage,
ZeroPercentage, ApproximateQuantile, ApproximateTopK, Min/Max zero_factory, Unique encode_lists)
through the pure group-by kernels, split into blocks as the shuffle does, against pandas / exact
answers."""

from __future__ import annotations

import pickle
from collections import Counter

import cloudpickle
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import streamdata.aggregate as A
from streamdata.aggregate import (
    AbsMax, ApproximateQuantile, ApproximateTopK, AsList, Count, CountDistinct, Max, Min,
    MissingValuePercentage, Unique, ValueCounter, ZeroPercentage,
)
from streamdata.aggregation.sketches import FrequentItems, QuantileSketch
from streamdata.errors import ColumnNotFoundError, PlanError, SchemaError
from streamdata.exec.shuffle.groupby import (
    finalize_aggregate, merge_partials, partial_aggregate, validate_aggregation,
)


def blockwise(table: pa.Table, keys: list[str], aggs: list, blocks: int = 3) -> list[dict]:
    bounds = np.linspace(0, table.num_rows, blocks + 1).astype(int)
    parts = [partial_aggregate(table.slice(a, b - a), keys, aggs) for a, b in zip(bounds[:-1], bounds[1:])]
    half = max(1, len(parts) // 2)
    merged = merge_partials([merge_partials(parts[:half], keys, aggs), merge_partials(parts[half:], keys, aggs)],
                            keys, aggs)
    return finalize_aggregate(merged, keys, aggs).to_pylist()


def table(n: int = 400, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    v = rng.normal(0, 5, n)
    v[rng.random(n) < 0.1] = np.nan
    return pa.table({
        "k": rng.integers(0, 4, n),
        "v": pa.array(v, mask=rng.random(n) < 0.1),
        "i": pa.array(rng.integers(-3, 4, n), mask=rng.random(n) < 0.05),
        "s": pa.array(np.array(["a", "b", "c", "d"])[rng.integers(0, 4, n)]),
        "l": pa.array([[int(x), int(x) + 1] for x in rng.integers(0, 5, n)]),
    })


def test_ray_public_names_and_parameters() -> None:
    ray_agg = pytest.importorskip("ray.data.aggregate")
    import inspect
    names = ["AbsMax", "AggregateFn", "AggregateFnV2", "ApproximateQuantile", "ApproximateTopK", "AsList",
             "Count", "CountDistinct", "Max", "Mean", "Min", "MissingValuePercentage", "Quantile", "Std",
             "Sum", "Unique", "ValueCounter", "ZeroPercentage"]
    for name in names:
        theirs = inspect.signature(getattr(ray_agg, name).__init__).parameters
        ours = inspect.signature(getattr(A, name).__init__).parameters
        assert [p for p in theirs if p not in ours] == [], name
        for p, param in theirs.items():
            if param.default is not inspect.Parameter.empty and not callable(param.default):
                assert ours[p].default == param.default, (name, p)


def test_result_names_as_rays() -> None:
    assert [a.name for a in (AbsMax("x"), AsList("x"), CountDistinct("x"), ValueCounter("x"),
                             MissingValuePercentage("x"), ZeroPercentage("x"),
                             ApproximateQuantile("x", [0.5]), ApproximateTopK("x", k=1))] == \
        ["abs_max(x)", "list(x)", "count_distinct(x)", "value_counter(x)", "missing_pct(x)", "zero_pct(x)",
         "approx_quantile(x)", "approx_topk(x)"]
    assert AsList("x", alias_name="xs").name == "xs"


def test_abs_max_min_max_zero_factory() -> None:
    t = table()
    df = t.to_pandas()
    got = {r["k"]: r for r in blockwise(t, ["k"], [AbsMax("i"), Min("i", zero_factory=lambda: 10**9),
                                                   Max("i", zero_factory=lambda: -10**9)])}
    for k, g in df.groupby("k"):
        assert got[k]["abs_max(i)"] == g["i"].abs().max()
        assert got[k]["min(i)"] == g["i"].min() and got[k]["max(i)"] == g["i"].max()
    assert blockwise(pa.table({"x": pa.array([None, None], pa.int64())}), [], [AbsMax("x")]) == [{"abs_max(x)": None}]
    with pytest.raises(PlanError, match="zero_factory"):
        Min("x", zero_factory=0)
    with pytest.raises(SchemaError, match="abs_max"):
        blockwise(pa.table({"s": ["a"]}), [], [AbsMax("s")])


def test_as_list_keeps_order_and_nulls() -> None:
    t = pa.table({"k": [1, 2, 1, 1, 2], "v": [1, 2, None, 4, 5]})
    got = {r["k"]: r for r in blockwise(t, ["k"], [AsList("v"), AsList("v", ignore_nulls=True, alias_name="nn")],
                                        blocks=3)}
    assert got[1]["list(v)"] == [1, None, 4] and got[2]["list(v)"] == [2, 5]
    assert got[1]["nn"] == [1, 4]


def test_count_distinct_and_unique_against_pandas() -> None:
    t = table()
    df = t.to_pandas()
    got = {r["k"]: r for r in blockwise(t, ["k"], [CountDistinct("s"), CountDistinct("i"),
                                                   CountDistinct("i", ignore_nulls=False, alias_name="with_null"),
                                                   Unique("i", ignore_nulls=True)])}
    for k, g in df.groupby("k"):
        assert got[k]["count_distinct(s)"] == g["s"].nunique()
        assert got[k]["count_distinct(i)"] == g["i"].nunique()
        assert got[k]["with_null"] == g["i"].nunique(dropna=False)
        assert got[k]["unique(i)"] == sorted(int(x) for x in g["i"].dropna().unique())


def test_count_distinct_nan_counts_once() -> None:
    t = pa.table({"v": [float("nan"), float("nan"), 1.0, None]})
    assert blockwise(t, [], [CountDistinct("v")], blocks=2) == [{"count_distinct(v)": 2}]


def test_unique_encode_lists() -> None:
    t = pa.table({"k": [1, 1, 2], "l": [[1, 2], [2, 3], [9, 9]]})
    flat = {r["k"]: r["unique(l)"] for r in blockwise(t, ["k"], [Unique("l", encode_lists=True)], blocks=2)}
    assert flat == {1: [1, 2, 3], 2: [9]}
    whole = blockwise(pa.table({"l": [[1, 2], [1, 2], [3]]}), [], [Unique("l")], blocks=2)
    assert sorted(whole[0]["unique(l)"]) == [[1, 2], [3]]
    hashed = blockwise(pa.table({"l": [[1, 2], [1, 2], [3]]}), [],
                       [Unique("l", encode_lists=Unique.ListEncodingMode.HASH)], blocks=2)
    assert len(hashed[0]["unique(l)"]) == 2 and all(isinstance(h, int) for h in hashed[0]["unique(l)"])
    with pytest.raises(PlanError, match="encode_lists"):
        Unique("l", encode_lists="sideways")


def test_value_counter() -> None:
    t = pa.table({"g": ["X", "X", "Y", "Y", "X"], "c": ["A", "B", "A", "A", "A"]})
    got = {r["g"]: r["value_counter(c)"] for r in blockwise(t, ["g"], [ValueCounter("c")], blocks=3)}
    assert got == {"X": {"values": ["A", "B"], "counts": [2, 1]}, "Y": {"values": ["A"], "counts": [2]}}


def test_missing_and_zero_percentages() -> None:
    t = table()
    df = t.to_pandas()
    got = {r["k"]: r for r in blockwise(t, ["k"], [MissingValuePercentage("v"), ZeroPercentage("i"),
                                                   ZeroPercentage("i", ignore_nulls=False, alias_name="z_all")])}
    for k, g in df.groupby("k"):
        assert got[k]["missing_pct(v)"] == pytest.approx(100.0 * g["v"].isna().mean())
        assert got[k]["zero_pct(i)"] == pytest.approx(100.0 * (g["i"].dropna() == 0).mean())
        assert got[k]["z_all"] == pytest.approx(100.0 * (g["i"] == 0).sum() / len(g))
    empty = pa.table({"v": pa.array([], pa.float64())})
    assert blockwise(empty, [], [MissingValuePercentage("v"), ZeroPercentage("v")], blocks=1) == \
        [{"missing_pct(v)": None, "zero_pct(v)": None}]
    with pytest.raises(SchemaError, match="zero_pct"):
        blockwise(pa.table({"s": ["a"]}), [], [ZeroPercentage("s")], blocks=1)


def _rank_range(sorted_values: np.ndarray, x: float) -> tuple[int, int]:
    return int(np.searchsorted(sorted_values, x, "left")), int(np.searchsorted(sorted_values, x, "right"))


@pytest.mark.parametrize("n,k", [(50, 800), (20000, 64), (30000, 200)])
def test_approximate_quantile_within_its_bound(n: int, k: int) -> None:
    rng = np.random.default_rng(n)
    values = rng.exponential(3.0, n)
    t = pa.table({"v": values})
    qs = [0.0, 0.1, 0.5, 0.9, 0.99, 1.0]
    got = blockwise(t, [], [ApproximateQuantile("v", qs, quantile_precision=k)], blocks=7)[0]["approx_quantile(v)"]
    ordered = np.sort(values)
    sketch = QuantileSketch(k)
    sketch.update(values)
    eps = sketch.rank_error_bound() if n > k else 0.0
    assert (eps == 0.0) == (n <= k)
    for q, x in zip(qs, got):
        lo, hi = _rank_range(ordered, x)
        target = q * n
        assert lo - eps * n - 1 <= target <= hi + eps * n + 1, (q, x, lo, hi, eps)
    if n <= k:  # exact: the item past rank q * n, as Ray's KLL sketch answers (the median of 1..50 is 26)
        assert got[2] == ordered[min(int(0.5 * n), n - 1)]


def test_approximate_quantile_nulls_groups_and_errors() -> None:
    t = pa.table({"k": [1, 1, 2, 3], "v": [1.0, None, float("nan"), 5.0]})
    got = {r["k"]: r["approx_quantile(v)"] for r in blockwise(t, ["k"], [ApproximateQuantile("v", [0.5])], blocks=2)}
    assert got == {1: [1.0], 2: None, 3: [5.0]}
    for bad in ([], [1.5], 0.5):
        with pytest.raises(PlanError, match="quantiles"):
            ApproximateQuantile("v", bad)
    with pytest.raises(SchemaError, match="numeric"):
        blockwise(pa.table({"s": ["a"]}), [], [ApproximateQuantile("s", [0.5])], blocks=1)


def test_approximate_top_k_exact_when_small_and_bounded_when_not() -> None:
    words = ["apple"] * 5 + ["banana"] * 3 + ["cherry"] * 2 + ["date"]
    t = pa.table({"w": words})
    got = blockwise(t, [], [ApproximateTopK("w", k=2)], blocks=3)[0]["approx_topk(w)"]
    assert got == [{"w": "apple", "count": 5}, {"w": "banana", "count": 3}]
    rng = np.random.default_rng(3)
    values = np.concatenate([np.full(3000, 7), np.full(2000, 8), rng.integers(100, 10_000, 5000)])
    rng.shuffle(values)
    top = blockwise(pa.table({"x": values}), [], [ApproximateTopK("x", k=2, log_capacity=6)],
                    blocks=5)[0]["approx_topk(x)"]
    bound = len(values) / (2 ** 6 + 1)
    assert [r["x"] for r in top] == [7, 8]
    assert 3000 - bound <= top[0]["count"] <= 3000 and 2000 - bound <= top[1]["count"] <= 2000
    lists = pa.table({"l": [[1, 2], [2], None, [2, 3]]})
    assert blockwise(lists, [], [ApproximateTopK("l", k=1, encode_lists=True)], blocks=2)[0]["approx_topk(l)"] == \
        [{"l": 2, "count": 3}]
    assert blockwise(lists, [], [ApproximateTopK("l", k=1)], blocks=1)[0]["approx_topk(l)"][0]["count"] == 1
    with pytest.raises(PlanError, match="k must be"):
        ApproximateTopK("w", k=0)


def test_frequent_items_guarantee() -> None:
    rng = np.random.default_rng(1)
    stream = rng.zipf(1.5, 20000) % 500
    a, b = FrequentItems(32), FrequentItems(32)
    a.update(Counter(stream[:10000].tolist()).items())
    b.update(Counter(stream[10000:].tolist()).items())
    merged = a.merge(b)
    true = Counter(stream.tolist())
    bound = len(stream) / 33
    for value, count in true.items():
        if count > bound:
            assert value in merged.counts
        assert true[value] - bound <= merged.counts.get(value, 0) <= true[value]


def test_sketch_states_pickle_and_bad_columns() -> None:
    aggs = [ApproximateQuantile("v", [0.5], quantile_precision=16), ApproximateTopK("s", k=2), AsList("s"),
            CountDistinct("s"), MissingValuePercentage("v"), ZeroPercentage("i"), AbsMax("v")]
    t = table(200, seed=4)
    again = cloudpickle.loads(cloudpickle.dumps(aggs))
    assert blockwise(t, ["k"], again) == blockwise(t, ["k"], aggs)
    assert pickle.loads(pickle.dumps(QuantileSketch(4))).k == 4
    with pytest.raises(ColumnNotFoundError, match="nope"):
        validate_aggregation(t.schema, [], [CountDistinct("nope")])
    with pytest.raises(PlanError):
        AbsMax()
    with pytest.raises(PlanError):
        CountDistinct(None)  # type: ignore[arg-type]


def test_pandas_reference_for_empty_global_aggregation() -> None:
    empty = pa.table({"v": pa.array([], pa.float64()), "s": pa.array([], pa.string())})
    out = blockwise(empty, [], [Count(), AsList("s"), CountDistinct("s"), AbsMax("v"),
                                ApproximateQuantile("v", [0.5]), ApproximateTopK("s", k=3)], blocks=1)
    assert out == [{"count()": 0, "list(s)": [], "count_distinct(s)": 0, "abs_max(v)": None,
                    "approx_quantile(v)": None, "approx_topk(s)": []}]
    assert pd.isna(pd.Series([], dtype=float).abs().max())


def test_all_null_columns_bools_and_decimals() -> None:
    import decimal

    t = pa.table({"k": [1, 1, 2], "n": pa.nulls(3), "b": [True, False, None],
                  "d": pa.array([decimal.Decimal("0.0"), decimal.Decimal("-1.5"), None])})
    aggs = [CountDistinct("n"), Unique("n", ignore_nulls=True, alias_name="u"), Unique("n"), AsList("n"),
            MissingValuePercentage("n"), ZeroPercentage("b"), ZeroPercentage("d"), AbsMax("d"),
            ValueCounter("n"), ApproximateTopK("n", k=1), ApproximateQuantile("n", [0.5])]
    got = {r["k"]: r for r in blockwise(t, ["k"], aggs, blocks=2)}
    assert got[1]["count_distinct(n)"] == 0 and got[1]["u"] == [] and got[1]["unique(n)"] == [None]
    assert got[1]["list(n)"] == [None, None] and got[2]["missing_pct(n)"] == 100.0
    assert got[1]["zero_pct(b)"] == 50.0 and got[1]["zero_pct(d)"] == 50.0 and got[2]["zero_pct(d)"] is None
    assert str(got[1]["abs_max(d)"]) == "1.5"
    assert got[1]["value_counter(n)"] == {"values": [], "counts": []} and got[1]["approx_topk(n)"] == []
    assert got[2]["approx_quantile(n)"] is None


def test_python_interface_of_the_new_builtins() -> None:
    """aggregate_block / combine / finalize by hand, starting from the empty accumulator."""
    first, second = pa.table({"x": [1, 2, 2]}), pa.table({"x": [0, 3]})
    expected = {"unique(x)": [0, 1, 2, 3], "list(x)": [1, 2, 2, 0, 3], "count_distinct(x)": 4,
                "abs_max(x)": 3, "zero_pct(x)": 20.0, "missing_pct(x)": 0.0}
    for agg in (Unique("x"), AsList("x"), CountDistinct("x"), AbsMax("x"), ZeroPercentage("x"),
                MissingValuePercentage("x")):
        acc = agg.combine(agg.combine(agg._zero(), agg.aggregate_block(first)), agg.aggregate_block(second))
        assert agg.finalize(acc) == expected[agg.name], agg.name

"""Grouping by nothing (a global aggregation, which may run pyarrow's scalar kernels):
the same values and types as Acero's hash aggregation of one constant key, for every
aggregate function with a scalar form, with nulls, NaN and two chunks."""

from __future__ import annotations

import datetime as dt
import decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import streamdata.aggregate as A
from streamdata.aggregation.grouping import HashAgg, group_table
from streamdata.exec.shuffle.groupby import finalize_aggregate, merge_partials, partial_aggregate

COLUMNS = {
    "i": pa.array([3, None, -7, 11], pa.int64()),
    "u": pa.array([1, 2, 3, 4], pa.uint8()),
    "f": pa.array([1.5, float("nan"), None, -2.0]),
    "s": pa.array(["b", None, "a", "c"]),
    "b": pa.array([True, None, False, True]),
    "d": pa.array([decimal.Decimal("1.10"), None, decimal.Decimal("-2.25"), decimal.Decimal("3.00")]),
    "t": pa.array([dt.date(2020, 1, 2), dt.date(2019, 5, 1), None, dt.date(2021, 1, 1)]),
    "n": pa.array([None, None, None, None], pa.float64()),
}
FUNCS = {  # function -> options and the columns it takes
    "count": ([pc.CountOptions(mode="only_valid"), pc.CountOptions(mode="only_null"),
               pc.CountOptions(mode="all")], list(COLUMNS)),
    "sum": ([None, pc.ScalarAggregateOptions(skip_nulls=False, min_count=0)], ["i", "u", "f", "d", "n"]),
    "product": ([None], ["i", "u", "f"]),
    "min": ([None, pc.ScalarAggregateOptions(skip_nulls=False)], ["i", "u", "f", "s", "d", "t", "n"]),
    "max": ([None], ["i", "u", "f", "s", "d", "t", "n"]),
    "mean": ([None], ["i", "u", "f", "d", "n"]),
    "variance": ([pc.VarianceOptions(ddof=0, skip_nulls=True, min_count=1), pc.VarianceOptions(ddof=1)],
                 ["i", "u", "f", "n"]),
    "stddev": ([None], ["i", "f"]),
    "any": ([None], ["b"]),
    "all": ([None, pc.ScalarAggregateOptions(skip_nulls=False)], ["b"]),
    "first": ([None], ["i", "s", "t"]),
    "last": ([None], ["i", "s", "t"]),
}
CASES = [(func, opts, col) for func, (options, cols) in FUNCS.items() for opts in options for col in cols]


def acero(table: pa.Table, requests: list[HashAgg]) -> list[pa.Array]:
    """The hash-aggregation path: one constant key column."""
    keyed = table.append_column("__z", pa.array(np.zeros(table.num_rows, np.int8)))
    _, results = group_table(keyed, ["__z"], requests)
    return results


@pytest.mark.parametrize("func,opts,col", CASES, ids=[f"{f}-{c}-{i}" for i, (f, _, c) in enumerate(CASES)])
def test_scalar_aggregates_equal_the_hash_aggregation(func: str, opts: object, col: str) -> None:
    table = pa.table(COLUMNS)
    chunked = pa.concat_tables([table.slice(0, 1), table.slice(1)])  # two chunks
    for t in (table, chunked):
        req = [HashAgg(t.column(col), func, opts), HashAgg(None, "count")]
        groups, got = group_table(t, [], req)
        want = acero(t, req)
        assert groups.num_groups == 1 and groups.keys.num_columns == 0
        for g, w in zip(got, want):
            assert g.type == w.type
            assert g.to_pylist() == w.to_pylist() or repr(g.to_pylist()) == repr(w.to_pylist())  # NaN


def test_group_membership_of_the_one_group() -> None:
    t = pa.table({"v": [4, 5, 6]})
    groups, _ = group_table(t, [], [HashAgg(t["v"], "sum")], with_rows=True)
    assert groups.rows(0).tolist() == [0, 1, 2] and groups.ids().tolist() == [0, 0, 0]
    assert groups.key_values() == [None]
    with pytest.raises(ValueError, match="2 values for 3 rows"):
        group_table(t, [], [HashAgg(pa.array([1, 2]), "sum")])


def test_global_aggregations_end_to_end() -> None:
    rng = np.random.default_rng(0)
    v = rng.normal(size=1000)
    v[::7] = np.nan
    blocks = [pa.table({"v": pa.array(v[i:i + 250], from_pandas=True), "k": np.arange(i, i + 250)})
              for i in range(0, 1000, 250)]
    aggs = [A.Count(), A.Sum("v"), A.Min("k"), A.Max("k"), A.Mean("v"), A.Std("v", ddof=1), A.Count("v"), A.Count("v", ignore_nulls=True, alias_name="valid")]
    partials = [partial_aggregate(b, [], aggs) for b in blocks]
    out = finalize_aggregate(merge_partials(partials, [], aggs), [], aggs).to_pylist()[0]
    valid = v[~np.isnan(v)]
    assert out["count()"] == out["count(v)"] == 1000 and out["valid"] == len(valid)
    assert out["min(k)"] == 0 and out["max(k)"] == 999
    assert out["sum(v)"] == pytest.approx(valid.sum()) and out["mean(v)"] == pytest.approx(valid.mean())
    assert out["std(v)"] == pytest.approx(valid.std(ddof=1))

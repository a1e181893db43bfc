"""The hash-free grouping paths give exactly what Acero's hash aggregation gives.

Each case runs :func:`group_table` (which takes the fast path where it can) and the
hash aggregation directly, and compares groups, order, types and values. No processes.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from streamdata.aggregate import Count, Max, Mean, Min, Std, Sum
from streamdata.aggregation import dense_grouping as D
from streamdata.aggregation.grouping import HashAgg, group_table
from streamdata.exec.shuffle.groupby import aggregate_table

SKIP = pc.ScalarAggregateOptions(skip_nulls=True, min_count=1)
KEEP = pc.ScalarAggregateOptions(skip_nulls=False, min_count=1)


def _hashed(table: pa.Table, keys: list[str], requests: list[HashAgg]) -> tuple[pa.Table, list[pa.Array]]:
    """The reference: Acero's hash aggregation, in first-appearance order."""
    cols, names, specs = [], [], []
    for j, k in enumerate(keys or ["__z"]):
        cols.append(table.column(k) if keys else pa.array(np.zeros(table.num_rows, np.int8)))
        names.append(f"k{j}")
    for i, r in enumerate(requests):
        cols.append(r.values if r.values is not None else cols[0])
        names.append(f"c{i}")
        specs.append((f"c{i}", r.func, r.options if r.values is not None else pc.CountOptions(mode="all")))
    out = pa.Table.from_arrays(cols, names=names).group_by(names[:len(keys or [1])], use_threads=False).aggregate(specs)
    keys_out = pa.table({k: out.column(f"k{j}") for j, k in enumerate(keys)})
    return keys_out, [out.column(f"c{i}_{r.func}").combine_chunks() for i, r in enumerate(requests)]


def _in_key_order(keys: pa.Table, results: list[pa.Array]) -> tuple[pa.Table, list[pa.Array]]:
    if not keys.num_columns:
        return keys, results
    order = pc.sort_indices(keys, sort_keys=[(k, "ascending") for k in keys.column_names])
    return keys.take(order), [r.take(order) for r in results]


def _check(table: pa.Table, keys: list[str], requests: list[HashAgg], *, fast: bool) -> None:
    groups, results = group_table(table, keys, requests)
    took_fast = len(keys) <= 1 and (D.group_without_keys(table, requests) if not keys
                                    else D.group_dense(table, keys[0], requests)) is not None
    assert took_fast == fast
    if fast and keys:  # the dense path numbers groups in key order
        assert groups.keys.column(0).to_pylist() == sorted(groups.keys.column(0).to_pylist())
    got_keys, results = _in_key_order(groups.keys, results)
    want_keys, want = _in_key_order(*_hashed(table, keys, requests))
    assert groups.num_groups == (want_keys.num_rows if keys else 1)
    for k in keys:
        assert got_keys.column(k).to_pylist() == want_keys.column(k).to_pylist()
        assert got_keys.column(k).type == want_keys.column(k).type
    for got, exp in zip(results, want):
        assert got.type == exp.type, (got.type, exp.type)
        g, e = got.to_pylist(), exp.to_pylist()
        if pa.types.is_floating(got.type):
            assert [x is None for x in g] == [x is None for x in e]
            assert [x for x in g if x is not None] == pytest.approx(
                [x for x in e if x is not None], rel=1e-12, nan_ok=True)
        else:
            assert g == e


@pytest.fixture(scope="module")
def table() -> pa.Table:
    rng = np.random.default_rng(7)
    n = 5000
    key = rng.integers(-20, 80, n)
    f = rng.normal(size=n)
    f_nulls = pa.array(f, mask=rng.random(n) < 0.2)
    return pa.table({
        "k": key, "k32": pa.array(key.astype(np.int32)), "ku8": pa.array((key + 20).astype(np.uint8)),
        "f": f, "fn": f_nulls, "i": rng.integers(-1000, 1000, n),
        "in": pa.array(rng.integers(0, 9, n), mask=rng.random(n) < 0.5),
        "u": pa.array(rng.integers(0, 9, n).astype(np.uint16)),
        "b": rng.random(n) < 0.3, "s": pa.array([f"s{x % 7}" for x in key]),
        "knull": pa.array(key, mask=rng.random(n) < 0.01),
    })


@pytest.mark.parametrize("key", ["k", "k32", "ku8"])
def test_dense_counts_and_sums_match_the_hash_aggregation(table: pa.Table, key: str) -> None:
    reqs = [HashAgg(None, "count"), HashAgg(table["f"], "sum", SKIP), HashAgg(table["fn"], "sum", SKIP),
            HashAgg(table["fn"], "sum", KEEP), HashAgg(table["fn"], "count", pc.CountOptions(mode="only_valid")),
            HashAgg(table["fn"], "count", pc.CountOptions(mode="all")), HashAgg(table["i"], "sum", SKIP),
            HashAgg(table["in"], "sum", KEEP), HashAgg(table["in"], "sum"), HashAgg(table["u"], "sum", SKIP),
            HashAgg(table["b"], "sum", SKIP), HashAgg(table["fn"], "count")]
    _check(table, [key], reqs, fast=True)


def test_a_group_whose_values_are_all_null_sums_to_null(table: pa.Table) -> None:
    t = pa.table({"k": [1, 2, 1, 3], "v": pa.array([None, 1.0, None, None])})
    _check(t, ["k"], [HashAgg(t["v"], "sum", SKIP), HashAgg(t["v"], "count")], fast=True)
    groups, (sums,) = group_table(t, ["k"], [HashAgg(t["v"], "sum", SKIP)])
    assert groups.keys.column("k").to_pylist() == [1, 2, 3] and sums.to_pylist() == [None, 1.0, None]


@pytest.mark.parametrize("why, keys, requests", [
    ("null keys", ["knull"], lambda t: [HashAgg(t["f"], "sum", SKIP)]),
    ("string key", ["s"], lambda t: [HashAgg(t["f"], "sum", SKIP)]),
    ("two keys", ["k", "s"], lambda t: [HashAgg(t["f"], "sum", SKIP)]),
    ("min by key", ["k"], lambda t: [HashAgg(t["f"], "min", SKIP)]),
    ("list by key", ["k"], lambda t: [HashAgg(t["f"], "list")]),
    ("float32 sum", ["k"], lambda t: [HashAgg(t["f"].cast(pa.float32()), "sum", SKIP)]),
])
def test_what_the_dense_path_cannot_do_exactly_goes_to_the_hash_path(table, why, keys, requests) -> None:
    reqs = requests(table)
    if len(keys) == 1:
        assert D.group_dense(table, keys[0], reqs) is None, why
    _check(table, keys, reqs, fast=False)  # still right, through Acero


def test_wide_or_huge_keys_and_inexact_integer_sums_are_hashed() -> None:
    wide = pa.table({"k": [0, 10 ** 9], "v": [1.0, 2.0]})
    assert D.dense_range(wide["k"], 2) is None
    assert D.dense_range(pa.chunked_array([pa.array([2 ** 63], pa.uint64())]), 1) is None
    big = pa.table({"k": [1, 1], "v": [2 ** 61 + 1, 2 ** 61 + 1]})  # float64 would round these
    assert D.group_dense(big, "k", [HashAgg(big["v"], "sum", SKIP)]) is None
    groups, (sums,) = group_table(big, ["k"], [HashAgg(big["v"], "sum", SKIP)])
    assert sums.to_pylist() == [2 ** 62 + 2]


def test_global_aggregations_run_as_scalar_kernels(table: pa.Table) -> None:
    reqs = [HashAgg(None, "count"), HashAgg(table["fn"], "sum", SKIP), HashAgg(table["fn"], "min", SKIP),
            HashAgg(table["i"], "max", KEEP), HashAgg(table["in"], "mean", SKIP),
            HashAgg(table["fn"], "count", pc.CountOptions(mode="only_valid"))]
    _check(table, [], reqs, fast=True)
    empty = table.slice(0, 0)
    assert D.group_without_keys(empty, [HashAgg(empty["f"], "sum", SKIP)]) is None
    _check(table, [], [HashAgg(table["f"], "list")], fast=False)


def test_the_aggregations_give_the_same_answers_either_way(table: pa.Table) -> None:
    aggs = [Count(), Sum("fn"), Mean("f"), Min("i"), Max("fn"), Std("f"), Count("in", ignore_nulls=True)]
    fast = aggregate_table(table, ["k"], aggs)
    hashed = aggregate_table(table.append_column("kk", table["k"].cast(pa.string())), ["kk"], aggs)
    by_key = {int(r["kk"]): r for r in hashed.to_pylist()}
    for row in fast.to_pylist():
        other = by_key[row["k"]]
        for agg in aggs:
            assert (row[agg.name] is None) == (other[agg.name] is None)
            if row[agg.name] is not None:
                assert row[agg.name] == pytest.approx(other[agg.name], rel=1e-9, nan_ok=True)
    assert fast.column("k").to_pylist() == sorted(by_key)


def test_a_key_value_range_wider_than_the_limit_needs_as_many_rows() -> None:
    n = D.MAX_DENSE_RANGE + 10
    t = pa.table({"k": np.arange(n), "v": np.ones(n)})  # range n: allowed, there are n rows
    assert D.dense_range(t["k"], n) == (0, n)
    assert D.dense_range(t["k"].slice(0, 10), 10) == (0, 10)
    sparse = pa.table({"k": [0, D.MAX_DENSE_RANGE + 5]})
    assert D.dense_range(sparse["k"], 2) is None

"""Sort kernels (sample → boundaries → range partition → merge) against pandas."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from streamdata.errors import ColumnNotFoundError, SchemaError
from streamdata.exec.shuffle.sort import (
    check_sortable,
    compute_boundaries,
    merge_sorted,
    range_partition,
    sample_keys,
    sort_keys,
    sort_table,
)


def split(table: pa.Table, blocks: int) -> list[pa.Table]:
    edges = np.linspace(0, table.num_rows, blocks + 1).astype(int)
    return [table.slice(a, b - a) for a, b in zip(edges[:-1], edges[1:])]


def distributed_sort(table: pa.Table, keys, num_blocks: int, num_parts: int, samples: int = 20) -> list[pa.Table]:
    blocks = split(table, num_blocks)
    bounds = compute_boundaries([sample_keys(b, keys, samples, seed=i) for i, b in enumerate(blocks)],
                                keys, num_parts)
    parts = [range_partition(b, keys, bounds) for b in blocks]
    assert all(len(p) == num_parts for p in parts)
    return [merge_sorted([p[i] for p in parts], keys) for i in range(num_parts)]


def random_table(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 5, n)
    b = rng.normal(size=n).round(1)
    s = np.array(["apple", "b", "", "zed", "Échelle", "b2"])[rng.integers(0, 6, n)]
    return pa.table({
        "a": pa.array(a, mask=rng.random(n) < 0.1),
        "b": pa.array(b, mask=rng.random(n) < 0.1),
        "s": pa.array(s, mask=rng.random(n) < 0.1),
        "row": np.arange(n),
    })


@pytest.mark.parametrize("cols,desc", [(["a"], [False]), (["b"], [True]), (["s"], [False]), (["s"], [True]),
                                       (["a", "b"], [False, True]), (["s", "a", "b"], [True, False, False])])
@pytest.mark.parametrize("num_blocks,num_parts", [(1, 1), (4, 3), (7, 8)])
def test_distributed_sort_matches_pandas_stable(cols, desc, num_blocks, num_parts) -> None:
    t = random_table(500, seed=num_blocks * 10 + num_parts)
    keys = sort_keys(cols, desc)
    out = pa.concat_tables(distributed_sort(t, keys, num_blocks, num_parts))
    expected = t.to_pandas().sort_values(cols, ascending=[not d for d in desc], kind="stable",
                                         na_position="last")
    assert out.column("row").to_pylist() == expected["row"].tolist()


def test_partitions_are_ordered_ranges() -> None:
    t = random_table(400, seed=1)
    keys = sort_keys("b", False)
    parts = distributed_sort(t, keys, 5, 4)
    assert sum(p.num_rows for p in parts) == 400
    non_null = [p.column("b").drop_null().to_numpy() for p in parts]
    for lo, hi in zip(non_null[:-1], non_null[1:]):
        if len(lo) and len(hi):
            assert lo.max() <= hi.min()
    # partitions are balanced within reason on uniform-ish data
    assert max(p.num_rows for p in parts) < 250


def test_skewed_single_key_goes_to_one_partition() -> None:
    t = pa.table({"k": np.full(300, 7), "row": np.arange(300)})
    parts = distributed_sort(t, sort_keys("k"), 3, 4)
    sizes = sorted(p.num_rows for p in parts)
    assert sizes == [0, 0, 0, 300]
    full = [p for p in parts if p.num_rows][0]
    assert full.column("row").to_pylist() == list(range(300))  # stable


def test_nan_and_null_agree_with_whole_table_sort() -> None:
    v = pa.array([1.0, float("nan"), None, -3.0, float("nan"), 2.0, None, 0.0] * 10)
    t = pa.table({"v": v, "row": np.arange(len(v))})
    for order in (False, True):
        keys = sort_keys("v", order)
        out = pa.concat_tables(distributed_sort(t, keys, 3, 3, samples=4))
        assert out.column("row").to_pylist() == sort_table(t, keys).column("row").to_pylist()


def test_empty_blocks_and_empty_input() -> None:
    t = random_table(50, seed=4)
    keys = sort_keys("a")
    blocks = [t.slice(0, 0), t, t.slice(0, 0)]
    bounds = compute_boundaries([sample_keys(b, keys, 5) for b in blocks], keys, 3)
    parts = [range_partition(b, keys, bounds) for b in blocks]
    merged = [merge_sorted([p[i] for p in parts], keys) for i in range(3)]
    assert sum(m.num_rows for m in merged) == 50
    empty_bounds = compute_boundaries([t.slice(0, 0)], keys, 4)
    assert empty_bounds.num_rows == 0
    assert [p.num_rows for p in range_partition(t.slice(0, 0), keys, bounds)] == [0, 0, 0]


def test_boundaries_with_mixed_int_widths_across_blocks() -> None:
    a = pa.table({"k": pa.array([5, 1, 3], pa.int32())})
    b = pa.table({"k": pa.array([4, 2], pa.int64())})
    keys = sort_keys("k")
    bounds = compute_boundaries([sample_keys(a, keys, 5), sample_keys(b, keys, 5)], keys, 2)
    parts = [range_partition(x, keys, bounds) for x in (a, b)]
    merged = [merge_sorted([p[i] for p in parts], keys) for i in range(2)]
    assert sum((m.column("k").to_pylist() for m in merged), []) == [1, 2, 3, 4, 5]


def test_errors() -> None:
    t = pa.table({"l": [[1], [2]], "x": [1, 2]})
    with pytest.raises(SchemaError, match="'l'"):
        check_sortable(t.schema, sort_keys("l"))
    with pytest.raises(SchemaError):
        sort_table(t, sort_keys("l"))
    with pytest.raises(ColumnNotFoundError) as info:
        sample_keys(t, sort_keys("nope"), 3)
    assert info.value.available == ["l", "x"]
    with pytest.raises(ValueError):
        sort_keys(["a", "b"], [True])


def test_sample_keys_is_seeded_and_bounded() -> None:
    t = pa.table({"x": np.arange(1000), "y": np.arange(1000)})
    keys = sort_keys("x")
    a = sample_keys(t, keys, 10, seed=3)
    assert a.column_names == ["x"] and a.num_rows == 10
    assert a.equals(sample_keys(t, keys, 10, seed=3))
    assert sample_keys(t.slice(0, 5), keys, 10).num_rows == 5


@pytest.mark.parametrize("order", ["ascending", "descending"])
@pytest.mark.parametrize("kind", ["int", "float"])
def test_numeric_fast_path_agrees_with_arrow_ordering(order: str, kind: str) -> None:
    rng = np.random.default_rng(7)
    n = 400
    if kind == "int":
        values = pa.array(rng.integers(-20, 20, n), mask=rng.random(n) < 0.1)
        bounds = pa.array([-5, 0, 0, 11], pa.int64())
    else:
        raw = rng.normal(size=n).round(1)
        raw[rng.random(n) < 0.1] = np.nan
        values = pa.array(raw, mask=rng.random(n) < 0.1)
        bounds = pa.array([-0.5, 0.0, 0.0, 0.7])
    if order == "descending":
        bounds = pa.array(bounds.to_pylist()[::-1], bounds.type)
    t = pa.table({"x": values, "one": np.zeros(n, dtype=np.int8), "row": np.arange(n)})
    fast = range_partition(t, [("x", order)], pa.table({"x": bounds}))
    # the generic path (two keys, the second constant) orders the same way
    generic = range_partition(t, [("x", order), ("one", "ascending")],
                              pa.table({"x": bounds, "one": pa.array(np.zeros(4, dtype=np.int8))}))
    assert [sorted(p.column("row").to_pylist()) for p in fast] == \
        [sorted(p.column("row").to_pylist()) for p in generic]
    assert [p.column("row").to_pylist() for p in fast] == \
        [sorted(p.column("row").to_pylist()) for p in fast]  # input order kept inside a part


def test_single_numeric_key_fast_path_matches_a_stable_sort() -> None:
    """Floats and ints (ties or not) take the packed (key, row) sort; NaNs and nulls keep
    Arrow's stable sort. Either way the result equals pandas' stable sort."""
    import pandas as pd

    rng = np.random.default_rng(7)
    cases = {
        "distinct floats": rng.random(5000),
        "ties": rng.integers(0, 20, 5000).astype(np.float64),
        "nan": np.where(rng.random(5000) < 0.1, np.nan, rng.random(5000)),
        "distinct ints": rng.permutation(5000),
    }
    for name, values in cases.items():
        table = pa.table({"k": values, "pos": np.arange(len(values))})
        for descending in (False, True):
            got = sort_table(table, [("k", "descending" if descending else "ascending")])
            want = (pd.DataFrame({"k": values, "pos": np.arange(len(values))})
                    .sort_values("k", ascending=not descending, kind="stable", na_position="last"))
            assert got.column("pos").to_pylist() == want["pos"].tolist(), (name, descending)


@pytest.mark.parametrize("order", ["ascending", "descending"])
@pytest.mark.parametrize("kind", ["distinct floats", "ties", "nan", "nulls", "ints", "strings", "two keys"])
def test_merging_sorted_runs_equals_a_stable_sort_of_everything(order: str, kind: str) -> None:
    """The sort's reduce over runs sorted in the read tasks (SortRunsStage) gives exactly
    what a stable sort of the concatenated input gives, ties in input order."""
    from streamdata.exec.operators.map_transformer import TaskContext
    from streamdata.exec.operators.sort_runs import SortRunsStage
    from streamdata.exec.shuffle.sort import merge_sorted_runs, sort_table

    rng = np.random.default_rng(11)
    n = 3000
    values = {
        "distinct floats": pa.array(rng.random(n)),
        "ties": pa.array(rng.integers(0, 30, n)),
        "nan": pa.array(np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 30, n).astype(float))),
        "nulls": pa.array(rng.integers(0, 30, n), mask=rng.random(n) < 0.1),
        "ints": pa.array(rng.integers(-50, 50, n), pa.int16()),
        "strings": pa.array([f"s{v}" for v in rng.integers(0, 40, n)]),
        "two keys": pa.array(rng.integers(0, 5, n)),
    }[kind]
    table = pa.table({"k": values, "k2": rng.integers(0, 3, n), "pos": np.arange(n)})
    keys = [("k", order)] + ([("k2", "ascending")] if kind == "two keys" else [])
    blocks = [table.slice(i, 500) for i in range(0, n, 500)]
    stage = SortRunsStage(name="s", keys=tuple(keys), run_bytes=15_000)  # runs of two blocks
    runs = [run for i in range(0, len(blocks), 3)
            for run in stage.apply(iter(blocks[i:i + 3]), TaskContext(task_index=0))]
    assert len(runs) > 2
    got = merge_sorted_runs(runs, keys)
    assert got.column("pos").to_pylist() == sort_table(table, keys).column("pos").to_pylist()

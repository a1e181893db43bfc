"""Hash partitioning and the per-partition join kernel, against pandas."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from streamdata.errors import ColumnNotFoundError, PlanError, SchemaError
from streamdata.exec.shuffle.hashing import hash_partition, hash_rows
from streamdata.exec.shuffle.join import join_tables


def test_equal_keys_hash_equal_across_types_and_layouts() -> None:
    ints = pa.table({"k": pa.array([1, 2, 3], pa.int32())})
    longs = pa.table({"k": pa.array([1, 2, 3], pa.int64())})
    floats = pa.table({"k": pa.array([1.0, 2.0, 3.0])})
    assert (hash_rows(ints, ["k"]) == hash_rows(longs, ["k"])).all()
    assert (hash_rows(ints, ["k"]) == hash_rows(floats, ["k"])).all()
    s = pa.array(["", "a", None, "hello world", "a"])
    sliced = pa.array(["zzz", "", "a", None, "hello world", "a"]).slice(1)
    h1 = hash_rows(pa.table({"s": s}), ["s"])
    h2 = hash_rows(pa.table({"s": sliced}), ["s"])
    h3 = hash_rows(pa.table({"s": s.cast(pa.large_string())}), ["s"])
    h4 = hash_rows(pa.table({"s": pa.chunked_array([s[:2], s[2:]])}), ["s"])
    h5 = hash_rows(pa.table({"s": s.dictionary_encode()}), ["s"])
    for other in (h2, h3, h4, h5):
        assert (h1 == other).all()
    assert h1[1] == h1[4] and len(set(h1.tolist())) == 4
    z = hash_rows(pa.table({"f": [0.0, -0.0, float("nan"), float("nan")]}), ["f"])
    assert z[0] == z[1] and z[2] == z[3]


def test_multi_key_and_nested_keys() -> None:
    t = pa.table({"a": [1, 1, 2, 1], "b": ["x", "y", "x", "x"], "l": [[1], [2], [1], [1]]})
    h = hash_rows(t, ["a", "b"])
    assert h[0] == h[3] and len({int(h[0]), int(h[1]), int(h[2])}) == 3
    hl = hash_rows(t, ["l"])
    assert hl[0] == hl[2] == hl[3] and hl[0] != hl[1]


def test_hash_is_the_same_in_another_process() -> None:
    code = ("import pyarrow as pa; from streamdata.exec.shuffle.hashing import hash_rows;"
            "t = pa.table({'s': ['alpha', 'beta', None, ''], 'n': [1, 2, 3, 4]});"
            "print(hash_rows(t, ['s', 'n']).tolist())")
    outs = set()
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        outs.add(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                check=True).stdout)
    assert len(outs) == 1


def test_hash_partition_spreads_and_keeps_keys_together() -> None:
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 5000, 20_000)
    t = pa.table({"k": keys, "s": keys.astype(str), "row": np.arange(len(keys))})
    for col in ("k", "s"):
        parts = hash_partition(t, [col], 8)
        assert sum(p.num_rows for p in parts) == t.num_rows
        seen: dict = {}
        for i, p in enumerate(parts):
            for key in set(p.column(col).to_pylist()):
                assert seen.setdefault(key, i) == i
            rows = p.column("row").to_numpy()
            assert (np.diff(rows) > 0).all()  # order kept inside a part
        sizes = np.array([p.num_rows for p in parts])
        assert sizes.min() > 0.7 * sizes.mean() and sizes.max() < 1.3 * sizes.mean()


def partitioned_join(left: pa.Table, right: pa.Table, on, right_on, how: str, n: int, **kw) -> pa.Table:
    lp = hash_partition(left, on, n)
    rp = hash_partition(right, right_on, n)
    return pa.concat_tables([join_tables(lp[i], rp[i], on, right_on, how, **kw) for i in range(n)])


def canon(df: pd.DataFrame) -> list:
    cols = sorted(df.columns)
    rows = df[cols].astype(object).where(df[cols].notna(), None).values.tolist()
    return sorted(rows, key=repr)


@pytest.mark.parametrize("how,pd_how", [("inner", "inner"), ("left_outer", "left"),
                                        ("right_outer", "right"), ("full_outer", "outer")])
@pytest.mark.parametrize("n", [1, 4])
def test_join_matches_pandas_merge(how: str, pd_how: str, n: int) -> None:
    rng = np.random.default_rng(n)
    left = pa.table({"id": rng.integers(0, 30, 80), "g": rng.integers(0, 2, 80), "a": rng.normal(size=80)})
    right = pa.table({"rid": rng.integers(10, 40, 60), "g": rng.integers(0, 2, 60),
                      "b": np.array(["x", "y", "z"])[rng.integers(0, 3, 60)]})
    out = partitioned_join(left, right, ["id", "g"], ["rid", "g"], how, n)
    expected = left.to_pandas().merge(right.to_pandas(), left_on=["id", "g"], right_on=["rid", "g"], how=pd_how)
    if how in ("right_outer", "full_outer"):
        expected["id"] = expected["id"].fillna(expected["rid"])
    expected = expected.drop(columns=["rid"])
    assert out.column_names == ["id", "g", "a", "b"]
    assert canon(out.to_pandas()) == canon(expected)


@pytest.mark.parametrize("how", ["left_semi", "left_anti", "right_semi", "right_anti"])
def test_semi_and_anti_joins(how: str) -> None:
    left = pa.table({"k": [1, 2, 3, 3], "a": [10, 20, 30, 31]})
    right = pa.table({"k": [3, 4, 4], "b": [1, 2, 3]})
    out = partitioned_join(left, right, ["k"], ["k"], how, 3)
    got = sorted(out.to_pylist(), key=repr)
    want = {
        "left_semi": [{"k": 3, "a": 30}, {"k": 3, "a": 31}],
        "left_anti": [{"k": 1, "a": 10}, {"k": 2, "a": 20}],
        "right_semi": [{"k": 3, "b": 1}],
        "right_anti": [{"k": 4, "b": 2}, {"k": 4, "b": 3}],
    }[how]
    assert got == sorted(want, key=repr)


def test_null_keys_never_match_and_suffixes() -> None:
    left = pa.table({"k": pa.array([1, None, 2]), "v": [1, 2, 3]})
    right = pa.table({"k": pa.array([None, 2, 2]), "v": [7, 8, 9]})
    with pytest.raises(SchemaError, match="suffix"):
        join_tables(left, right, ["k"], ["k"], "inner")
    out = partitioned_join(left, right, ["k"], ["k"], "full_outer", 2, left_suffix="_l", right_suffix="_r")
    assert out.column_names == ["k", "v_l", "v_r"]
    rows = sorted(out.to_pylist(), key=repr)
    assert rows == sorted([{"k": 1, "v_l": 1, "v_r": None}, {"k": None, "v_l": 2, "v_r": None},
                           {"k": 2, "v_l": 3, "v_r": 8}, {"k": 2, "v_l": 3, "v_r": 9},
                           {"k": None, "v_l": None, "v_r": 7}], key=repr)


def test_payload_of_any_type_and_key_type_mismatch() -> None:
    left = pa.table({"k": pa.array([1, 2], pa.int32()), "lst": [[1, 2], [3]]})
    right = pa.table({"k": pa.array([2, 1], pa.int64()), "st": [{"a": 1}, {"a": 2}]})
    out = join_tables(left, right, ["k"], ["k"], "inner")
    assert sorted(out.to_pylist(), key=lambda r: r["k"]) == [
        {"k": 1, "lst": [1, 2], "st": {"a": 2}}, {"k": 2, "lst": [3], "st": {"a": 1}}]
    with pytest.raises(SchemaError, match="incompatible"):
        join_tables(left, pa.table({"k": [[1]]}), ["k"], ["k"], "inner")


def test_join_errors() -> None:
    t = pa.table({"k": [1]})
    with pytest.raises(ColumnNotFoundError):
        join_tables(t, t, ["nope"], ["k"], "inner")
    with pytest.raises(PlanError):
        join_tables(t, t, ["k"], ["k"], "cross")
    with pytest.raises(PlanError):
        join_tables(t, t, ["k"], [], "inner")


def test_join_of_empty_partitions() -> None:
    left = pa.table({"k": pa.array([], pa.int64()), "a": pa.array([], pa.string())})
    right = pa.table({"k": [1, 2], "b": [1.0, 2.0]})
    assert join_tables(left, right, ["k"], ["k"], "inner").num_rows == 0
    out = join_tables(left, right, ["k"], ["k"], "right_outer")
    assert sorted(out.to_pylist(), key=lambda r: r["k"]) == [{"k": 1, "a": None, "b": 1.0},
                                                              {"k": 2, "a": None, "b": 2.0}]

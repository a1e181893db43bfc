"""The hash-table-free matching of an inner join on one dense integer key (a
direct-address table; sparse keys go to Arrow's hash join), against Arrow's hash join
and a brute-force pairing."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from streamdata.exec.shuffle import int_join
from streamdata.exec.shuffle.int_join import int_key_column, match_int_keys
from streamdata.exec.shuffle.join import join_tables


def pairs(li: np.ndarray, ri: np.ndarray) -> list[tuple[int, int]]:
    return sorted(zip(li.tolist(), ri.tolist()))


def brute(left: np.ndarray, right: np.ndarray) -> list[tuple[int, int]]:
    return sorted((i, j) for i in range(len(left)) for j in range(len(right)) if left[i] == right[j])


# span 40 / 10_000 / 20_000: dense (a range within DENSE_MIN_SPAN); 10**12: sparse (left to Arrow's hash join)
@pytest.mark.parametrize("nl,nr,span", [(500, 120, 40), (120, 500, 40), (300, 300, 10_000),
                                        (300, 400, 20_000), (400, 90, 10**12), (90, 400, 10**12),
                                        (0, 5, 3), (5, 0, 3), (1, 1, 1)])
@pytest.mark.parametrize("unique_build", [False, True])
def test_every_equal_pair_once(nl: int, nr: int, span: int, unique_build: bool) -> None:
    rng = np.random.default_rng(nl * 7 + nr)
    left, right = rng.integers(-span, span, nl), rng.integers(-span, span, nr)
    if unique_build:  # the smaller side's keys distinct: the one-match-at-most branch
        small = np.unique(left if nl < nr else right)
        left, right = (rng.permutation(small), right) if nl < nr else (left, rng.permutation(small))
    out = match_int_keys(left, right)
    if span == 10**12:  # sparse: sorted and searched when the larger side is sorted, else Arrow's
        assert out is None
        probe_left = len(left) >= len(right)
        left, right = (np.sort(left), right) if probe_left else (left, np.sort(right))
        out = match_int_keys(left, right)
    assert out is not None and pairs(*out) == brute(left, right)


def test_pairs_follow_the_larger_sides_rows_then_the_smaller_sides() -> None:
    li, ri = match_int_keys(np.array([5, 1, 5, 7, 1, 0]), np.array([1, 5, 1, 0]))
    assert li.tolist() == [0, 1, 1, 2, 4, 4, 5]
    assert ri.tolist() == [1, 0, 2, 1, 0, 2, 3]


def test_the_table_is_used_while_the_build_keys_are_dense() -> None:
    build = np.arange(0, 4 * 100_000, 4)  # the smaller side; its range 4x its count: dense
    assert match_int_keys(np.arange(200_000), build) is not None
    assert match_int_keys(np.arange(200_000)[::-1], np.append(build, 4 * 100_000 + 10)) is None
    assert match_int_keys(np.arange(5), np.array([0, int_join.DENSE_MIN_SPAN - 1])) is not None
    assert match_int_keys(np.arange(5)[::-1], np.array([0, int_join.DENSE_MIN_SPAN])) is None
    assert match_int_keys(np.arange(5), np.array([0, int_join.DENSE_MIN_SPAN])) is not None  # sorted probe


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.int32, np.uint32, np.int64, np.uint64])
def test_extreme_values_of_every_integer_width(dtype: type) -> None:
    info = np.iinfo(dtype)
    # a dense build side at each end of the type's range, probed by values all over it
    for build in (np.arange(info.min, info.min + 50, dtype=dtype), np.arange(info.max - 49, info.max + 1,
                                                                                 dtype=dtype)[::-1]):
        probe = np.concatenate([build[::3], np.array([info.min, info.max, info.min + 60, info.max - 60],
                                                     dtype=dtype), build[:7]])
        probe = np.concatenate([probe, probe])
        li, ri = match_int_keys(probe, build)
        assert pairs(li, ri) == brute(probe, build)


def test_int_key_column_keeps_non_null_integer_and_temporal_keys() -> None:
    keys, rows = int_key_column(pa.chunked_array([[1, 2], [3]], type=pa.int32()))
    assert keys.tolist() == [1, 2, 3] and rows is None
    keys, rows = int_key_column(pa.chunked_array([[1, None], [None, 4]]))
    assert keys.tolist() == [1, 4] and rows.tolist() == [0, 3]
    keys, rows = int_key_column(pa.chunked_array([[dt.date(1970, 1, 3), None]]))
    assert keys.tolist() == [2] and keys.dtype == np.int32 and rows.tolist() == [0]
    assert int_key_column(pa.chunked_array([[1.0]])) is None
    assert int_key_column(pa.chunked_array([["a"]])) is None
    assert int_key_column(pa.chunked_array([[True]])) is None


def canon(t: pa.Table) -> pa.Table:
    return t.sort_by([(c, "ascending") for c in t.column_names])


@pytest.mark.parametrize("rtype", [pa.int64(), pa.int32(), pa.uint16()])
@pytest.mark.parametrize("span", [200, 10**12])
def test_inner_join_agrees_with_arrows_hash_join(rtype: pa.DataType, span: int) -> None:
    rng = np.random.default_rng(3)
    lk = rng.integers(0, 200, 3000) * (span // 200)
    rk = pa.array(rng.integers(0, 250, 900) * (span // 200 if rtype == pa.int64() else 1), type=rtype)
    left = pa.table({"id": lk, "a": rng.normal(size=3000), "s": pa.array([str(i % 7) for i in range(3000)])})
    right = pa.table({"id": rk, "a": rng.integers(0, 9, 900)})
    out = join_tables(left, right, ["id"], ["id"], "inner", right_suffix="_r")
    # Arrow's hash join of the same tables (right key conformed to the left's type)
    ref = left.join(right.set_column(0, "id", right["id"].cast(pa.int64())), keys="id",
                    join_type="inner", right_suffix="_r")
    assert out.column_names == ["id", "a", "s", "a_r"]
    assert out.num_rows > 0
    assert canon(out).equals(canon(ref.select(out.column_names)))


@pytest.mark.parametrize("unique_right", [True, False])
@pytest.mark.parametrize("span", [50, 10**12])
def test_null_keys_and_duplicates_agree_with_arrow(unique_right: bool, span: int) -> None:
    rng = np.random.default_rng(span + unique_right)
    step = span // 50

    def keys(n: int, unique: bool) -> pa.Array:
        vals = (rng.permutation(60)[:n] if unique else rng.integers(0, 60, n)) * step
        mask = rng.random(n) < 0.2
        return pa.array(vals.tolist(), mask=mask, type=pa.int64())

    left = pa.table({"k": keys(400, False), "x": np.arange(400)})
    right = pa.table({"k": keys(45, unique_right), "y": np.arange(45) * 10})
    out = join_tables(left, right, ["k"], ["k"], "inner")
    ref = left.join(right, keys="k", join_type="inner").select(out.column_names)
    assert out.column("k").null_count == 0
    assert out.num_rows > 0 and canon(out).equals(canon(ref))


def test_empty_sides_and_temporal_keys_agree_with_arrow() -> None:
    empty = pa.table({"k": pa.array([], pa.int64()), "x": pa.array([], pa.string())})
    full = pa.table({"k": [1, 2, 2], "y": [1.0, 2.0, 3.0]})
    assert join_tables(empty, full, ["k"], ["k"]).num_rows == 0
    assert join_tables(full, empty, ["k"], ["k"]).column_names == ["k", "y", "x"]
    ts = pa.array([0, 5, 5, None, 7 * 10**9], type=pa.timestamp("ns", tz="UTC"))
    left = pa.table({"t": ts, "x": np.arange(5)})
    right = pa.table({"t": ts.take([4, 1, 3]), "y": [1, 2, 3]})
    out = join_tables(left, right, ["t"], ["t"])
    assert out.schema.field("t").type == pa.timestamp("ns", tz="UTC")
    assert canon(out).equals(canon(left.join(right, keys="t", join_type="inner").select(out.column_names)))


def test_string_and_multi_key_joins_fall_back_to_arrow() -> None:
    left = pa.table({"s": ["a", "b", None, "b"], "g": [1, 1, 1, 2], "x": [1, 2, 3, 4]})
    right = pa.table({"s": ["b", "b", None, "a"], "g": [1, 2, 1, 1], "y": [10, 20, 30, 40]})
    for keys in (["s"], ["s", "g"]):
        out = join_tables(left, right, keys, keys, "inner", left_suffix="_l", right_suffix="_r")
        ref = left.join(right, keys=keys, join_type="inner", left_suffix="_l", right_suffix="_r")
        assert canon(out).equals(canon(ref.select(out.column_names)))


@pytest.mark.parametrize("how", ["inner", "left_outer", "full_outer", "left_semi", "right_anti"])
@pytest.mark.parametrize("keys", [["k"], ["k", "g"]])
def test_asked_columns_only_and_the_row_count_without_any(how: str, keys: list[str]) -> None:
    rng = np.random.default_rng(5)
    left = pa.table({"k": rng.integers(0, 30, 200), "g": rng.integers(0, 2, 200), "x": np.arange(200)})
    right = pa.table({"k": rng.integers(0, 40, 90), "g": rng.integers(0, 2, 90), "x": np.arange(90) * 2.0})
    full = join_tables(left, right, keys, keys, how, right_suffix="_r")
    for cols in (["x_r"], ["x", "k"], full.column_names[::-1], ["nope"], []):
        out = join_tables(left, right, keys, keys, how, right_suffix="_r", columns=cols)
        assert out.column_names == [c for c in full.column_names if c in cols]
        assert out.num_rows == full.num_rows
        assert canon(out).equals(canon(full.select(out.column_names))) if out.num_columns else True


@pytest.mark.parametrize("span", [40, 10**12])
@pytest.mark.parametrize("unique_build", [False, True])
def test_keys_in_chunks_match_like_one_array(span: int, unique_build: bool) -> None:
    rng = np.random.default_rng(span % 97 + unique_build)
    probe = rng.integers(-span, span, 700)
    build = np.unique(rng.integers(-span, span, 60)) if unique_build else rng.integers(-span, span, 60)

    def chunks(a: np.ndarray) -> list[np.ndarray]:
        cuts = np.sort(rng.integers(0, len(a) + 1, 4))
        return np.split(a, cuts)  # some pieces may be empty

    if span > int_join.DENSE_MIN_SPAN:
        assert match_int_keys(chunks(probe), chunks(build)) is None
        probe = np.sort(probe)  # sparse keys: searched only with a sorted probe
    want = pairs(*match_int_keys(probe, build))
    assert want == brute(probe, build)
    for _ in range(3):
        assert pairs(*match_int_keys(chunks(probe), chunks(build))) == want
        assert pairs(*match_int_keys(chunks(probe), build)) == want
    li, ri = match_int_keys([np.array([], dtype=np.int64)], [np.array([1])])
    assert li.tolist() == ri.tolist() == []


def test_a_join_of_many_chunked_tables_agrees_with_arrow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(int_join, "PROBE_CHUNK", 7)  # pieces that cross chunk boundaries
    rng = np.random.default_rng(11)
    left = pa.concat_tables([pa.table({"k": rng.integers(0, 90, n), "x": rng.normal(size=n)})
                             for n in (13, 0, 40, 1, 25)])
    right = pa.concat_tables([pa.table({"k": rng.permutation(120)[:n], "y": np.arange(n)}) for n in (9, 21)])
    assert left.column("k").num_chunks == 5
    out = join_tables(left, right, ["k"], ["k"])
    ref = left.join(right, keys="k", join_type="inner").select(out.column_names)
    assert out.num_rows > 0 and canon(out).equals(canon(ref))
    keys, rows = int_key_column(left.column("k"), chunks=True)
    assert [len(k) for k in keys] == [13, 40, 1, 25] and rows is None


JOIN_TYPES_WITHOUT_HASH = ["inner", "left_outer", "right_outer", "full_outer", "left_semi", "left_anti",
                           "right_semi", "right_anti"]


def _tables(case: str, rng: np.random.Generator) -> tuple[pa.Table, pa.Table]:
    def keys(n: int, hi: int, nulls: bool, unique: bool = False) -> pa.Array:
        vals = rng.permutation(hi)[:n] if unique else rng.integers(0, hi, n)
        mask = rng.random(n) < 0.15 if nulls else None
        return pa.array(vals, mask=mask, type=pa.int64())

    if case == "temporal":
        days = pa.array(rng.integers(0, 40, 120), type=pa.int32()).cast(pa.date32())
        return (pa.table({"d": days, "x": np.arange(120)}),
                pa.table({"d": days.take(pa.array(rng.integers(0, 120, 30))), "x": np.arange(30) * 2}))
    nl, nr = (0, 40) if case == "empty_left" else (150, 0) if case == "empty_right" else (150, 40)
    unique = case == "unique_small_side"
    left = pa.table({"d": keys(nl, 60, case != "no_nulls"), "x": rng.normal(size=nl),
                     "s": pa.array([str(i) for i in range(nl)], pa.string())})
    right = pa.table({"d": keys(nr, 80, case != "no_nulls", unique), "x": rng.integers(0, 9, nr),
                      "t": [[i] for i in range(nr)]})
    return left, right


@pytest.mark.parametrize("how", JOIN_TYPES_WITHOUT_HASH)
@pytest.mark.parametrize("case", ["dups_and_nulls", "no_nulls", "unique_small_side", "empty_left",
                                  "empty_right", "temporal"])
def test_every_join_type_agrees_with_the_hash_join(monkeypatch: pytest.MonkeyPatch, how: str,
                                                   case: str) -> None:
    from streamdata.exec.shuffle import join as J
    rng = np.random.default_rng(abs(hash((how, case))) % 1000)
    left, right = _tables(case, rng)
    taken: list[bool] = []
    real = J._int_key_pairs
    monkeypatch.setattr(J, "_int_key_pairs", lambda l, r: taken.append(True) or real(l, r))
    out = join_tables(left, right, ["d"], ["d"], how, left_suffix="_l", right_suffix="_r")
    assert taken == [True] and real(left["d"], right["d"]) is not None  # the hash-free path ran
    monkeypatch.setattr(J, "_int_key_pairs", lambda l, r: None)  # Arrow's hash join
    ref = join_tables(left, right, ["d"], ["d"], how, left_suffix="_l", right_suffix="_r")
    assert out.schema.equals(ref.schema)
    sortable = [c for c in out.column_names if c != "t"]
    assert out.num_rows == ref.num_rows
    assert canon(out.select(sortable)).equals(canon(ref.select(sortable)))
    if "t" in out.column_names:  # a list payload rides along with its rows
        assert sorted(map(repr, out.to_pylist())) == sorted(map(repr, ref.to_pylist()))
    for cols in (["x_r"], ["d"], []):
        part = join_tables(left, right, ["d"], ["d"], how, left_suffix="_l", right_suffix="_r", columns=cols)
        assert part.column_names == [c for c in ref.column_names if c in cols]
        assert part.num_rows == ref.num_rows


def test_sparse_shuffled_and_string_keys_use_the_hash_join(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamdata.exec.shuffle import join as J
    calls: list[int] = []
    monkeypatch.setattr(J, "_join_from_pairs", lambda *a: calls.append(1))
    s = pa.table({"d": ["a", "b", None]})
    assert join_tables(s, s, ["d"], ["d"], "full_outer").num_rows == 4
    sparse, unsorted = pa.table({"d": [1, 10**12, 3]}), pa.table({"d": [10**12, 5, 7]})
    assert join_tables(unsorted, sparse, ["d"], ["d"], "left_outer").num_rows == 3
    assert calls == []

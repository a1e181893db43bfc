"""The sort-and-search matching of an inner join on one integer key, against Arrow's
hash join and a brute-force pairing."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from streamdata.exec.shuffle.int_join import int_key_column, match_int_keys
from streamdata.exec.shuffle.join import join_tables


def pairs(li: np.ndarray, ri: np.ndarray) -> list[tuple[int, int]]:
    return sorted(zip(li.tolist(), ri.tolist()))


@pytest.mark.parametrize("nl,nr,span", [(500, 120, 40), (120, 500, 40), (300, 300, 10_000),
                                        (0, 5, 3), (5, 0, 3), (1, 1, 1)])
def test_every_equal_pair_once(nl: int, nr: int, span: int) -> None:
    rng = np.random.default_rng(nl * 7 + nr)
    left, right = rng.integers(-span, span, nl), rng.integers(-span, span, nr)
    li, ri = match_int_keys(left, right)
    assert pairs(li, ri) == sorted((i, j) for i in range(nl) for j in range(nr) if left[i] == right[j])


def test_pairs_follow_the_larger_sides_rows_then_the_smaller_sides() -> None:
    li, ri = match_int_keys(np.array([5, 1, 5, 7, 1]), np.array([1, 5, 1]))
    assert li.tolist() == [0, 1, 1, 2, 4, 4]
    assert ri.tolist() == [1, 0, 2, 1, 0, 2]


def test_only_integer_keys_without_nulls_take_the_fast_path() -> None:
    assert int_key_column(pa.chunked_array([[1, 2], [3]], type=pa.int32())).tolist() == [1, 2, 3]
    assert int_key_column(pa.chunked_array([[1, None]])) is None
    assert int_key_column(pa.chunked_array([[1.0]])) is None
    assert int_key_column(pa.chunked_array([["a"]])) is None


@pytest.mark.parametrize("rtype", [pa.int64(), pa.int32(), pa.uint16()])
def test_inner_join_agrees_with_arrows_hash_join(rtype: pa.DataType) -> None:
    rng = np.random.default_rng(3)
    left = pa.table({"id": rng.integers(0, 200, 3000), "a": rng.normal(size=3000),
                     "s": pa.array([str(i % 7) for i in range(3000)])})
    right = pa.table({"id": pa.array(rng.integers(0, 250, 900), type=rtype), "a": rng.integers(0, 9, 900)})
    out = join_tables(left, right, ["id"], ["id"], "inner", right_suffix="_r")
    # Arrow's hash join of the same tables (right key conformed to the left's type)
    ref = left.join(right.set_column(0, "id", right["id"].cast(pa.int64())), keys="id",
                    join_type="inner", right_suffix="_r")
    assert out.column_names == ["id", "a", "s", "a_r"]
    cols = out.column_names
    assert out.sort_by([(c, "ascending") for c in cols]).equals(
        ref.select(cols).sort_by([(c, "ascending") for c in cols]))

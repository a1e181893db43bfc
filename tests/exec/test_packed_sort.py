"""The stable argsort of one numeric key by sorting packed ``(key, row)`` words gives
exactly numpy's stable argsort and Arrow's ``sort_indices`` (ties in row order in both
directions), for every integer and float type, exact and prefix-packed keys, and keys
that tie on their kept bits only."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from streamdata.exec.shuffle.packed_sort import MAX_FIXUP_SHARE, order_key, stable_numeric_order
from streamdata.exec.shuffle.sort import sort_table


def _stable(values: np.ndarray, descending: bool) -> np.ndarray:
    if not descending:
        return np.argsort(values, kind="stable")
    n = len(values)
    return (n - 1 - np.argsort(values[::-1], kind="stable"))[::-1]


def _near_twins(rng: np.random.Generator, n: int) -> np.ndarray:
    """Wide-ranging floats where some rows differ from others in the last mantissa bit
    only (they tie on the kept bits, not on the key)."""
    v = rng.normal(size=n) * 1e6
    twins = rng.choice(n, size=max(2, n // 20), replace=False)
    half = len(twins) // 2
    v[twins[:half]] = np.nextafter(v[twins[half:2 * half]], np.inf)
    v[twins[-2:]] = v[twins[0]]  # exact duplicates among them too
    return v


CASES = {
    "distinct floats": lambda r, n: r.random(n),
    "normal": lambda r, n: r.normal(size=n),
    "rounded (ties)": lambda r, n: r.normal(size=n).round(1),
    "near twins": _near_twins,
    "signed zeros": lambda r, n: np.where(r.random(n) < 0.5, -0.0, 0.0),
    "infinities": lambda r, n: np.where(r.random(n) < 0.2, np.inf * np.sign(r.normal(size=n)), r.normal(size=n)),
    "subnormals": lambda r, n: r.normal(size=n) * 5e-324 * 100,
    "float32": lambda r, n: r.normal(size=n).astype(np.float32),
    "float16": lambda r, n: r.normal(size=n).astype(np.float16),
    "int64 wide": lambda r, n: r.integers(-2**62, 2**62, n),
    "int64 extremes": lambda r, n: np.where(r.random(n) < 0.5, np.iinfo(np.int64).min, np.iinfo(np.int64).max),
    "int64 small ties": lambda r, n: r.integers(-3, 3, n),
    "int8": lambda r, n: r.integers(-128, 127, n).astype(np.int8),
    "uint8": lambda r, n: r.integers(0, 255, n).astype(np.uint8),
    "uint64 top": lambda r, n: r.integers(0, 2**63, n, dtype=np.uint64) * np.uint64(2) + np.uint64(1),
    "uint32": lambda r, n: r.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32),
    "sorted runs": lambda r, n: np.concatenate([np.sort(r.random(n // 2)), np.sort(r.random(n - n // 2))]),
    "constant": lambda r, n: np.full(n, 7.5),
}


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("n", [2, 3, 1000, 70_000])
@pytest.mark.parametrize("case", sorted(CASES))
def test_packed_order_is_the_stable_argsort(case: str, n: int, descending: bool) -> None:
    rng = np.random.default_rng(n + len(case))
    values = CASES[case](rng, n)
    order = stable_numeric_order(values, descending=descending)
    want = _stable(values, descending)
    if order is None:  # only when too many rows tie on their kept bits (the caller sorts another way)
        assert case == "int64 extremes" or case == "rounded (ties)", case
        return
    assert order.tolist() == want.tolist()
    if case == "float16":  # Arrow does not sort half floats (sort_table refuses them first)
        return
    arrow = pc.sort_indices(pa.table({"k": values}), sort_keys=[("k", "descending" if descending else "ascending")])
    assert order.tolist() == arrow.to_pylist()


def test_near_twins_take_the_fix_up_and_too_many_fall_back() -> None:
    rng = np.random.default_rng(3)
    values = _near_twins(rng, 50_000)
    assert stable_numeric_order(values) is not None  # fixed up: 5% of the rows tie on kept bits
    many = rng.normal(size=50_000) * 1e6
    many[1::2] = np.nextafter(many[::2], np.inf)  # half the rows have a twin
    assert MAX_FIXUP_SHARE < 1
    assert stable_numeric_order(many) is None
    assert stable_numeric_order(np.array(["a", "b"])) is None and order_key(np.array([True])) is None
    assert stable_numeric_order(np.array([], dtype=np.float64)).tolist() == []


@pytest.mark.parametrize("descending", [False, True])
def test_sort_table_uses_it_and_keeps_nulls_and_nans_last(descending: bool) -> None:
    rng = np.random.default_rng(9)
    n = 5000
    order = "descending" if descending else "ascending"
    for values in (pa.array(rng.integers(0, 9, n)), pa.array(rng.normal(size=n).round(1)),
                   pa.array(np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n))),
                   pa.array(rng.integers(0, 9, n), mask=rng.random(n) < 0.1),
                   pa.array(_near_twins(rng, n))):
        table = pa.table({"k": values, "pos": np.arange(n)})
        got = sort_table(table, [("k", order)]).column("pos").to_pylist()
        want = pc.take(table.column("pos"), pc.sort_indices(table, sort_keys=[("k", order)])).to_pylist()
        assert got == want


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("nan", [np.nan, -np.nan, np.uint64(0x7FF0000000000001).view(np.float64),
                                 np.uint64(0xFFFFFFFFFFFFFFFF).view(np.float64)])  # signalling, negative payload
def test_a_nan_anywhere_makes_it_decline(nan: float, descending: bool) -> None:
    for where in (0, 500, 999):
        values = np.random.default_rng(where).normal(size=1000)
        values[where] = nan
        assert stable_numeric_order(values, descending=descending) is None
        with np.errstate(invalid="ignore"):
            single = values.astype(np.float32)
        assert stable_numeric_order(single, descending=descending) is None
    edges = np.array([np.inf, -np.inf, 0.0, -0.0, np.finfo(np.float64).max, -np.finfo(np.float64).max])
    assert stable_numeric_order(edges, descending=descending).tolist() == _stable(edges, descending).tolist()

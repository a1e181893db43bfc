"""Random shuffle, sample, repartition and map_groups kernels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from streamdata.errors import UDFReturnError
from streamdata.exec.shuffle.map_groups import apply_map_groups, iter_groups
from streamdata.exec.shuffle.random_ops import (
    random_merge,
    random_order,
    random_sample,
    random_split,
)
from streamdata.exec.shuffle.repartition import (
    assemble,
    concat_parts,
    plan_slices,
    split_even,
)


def shuffle(blocks: list[pa.Table], n: int, seed) -> list[pa.Table]:
    parts = [random_split(b, n, seed=seed, index=i) for i, b in enumerate(blocks)]
    return [random_merge([p[j] for p in parts], seed=seed, index=j) for j in range(n)]


def rows(tables: list[pa.Table]) -> list[int]:
    return sum((t.column("x").to_pylist() for t in tables), [])


def test_random_shuffle_is_a_permutation_and_reproducible() -> None:
    blocks = [pa.table({"x": np.arange(i * 100, (i + 1) * 100)}) for i in range(5)]
    a = rows(shuffle(blocks, 3, seed=42))
    b = rows(shuffle(blocks, 3, seed=42))
    c = rows(shuffle(blocks, 3, seed=43))
    assert sorted(a) == list(range(500))
    assert a == b and a != c
    assert a != list(range(500))
    unseeded = rows(shuffle(blocks, 3, seed=None))
    assert sorted(unseeded) == list(range(500)) and unseeded != a


def test_random_shuffle_mixes_blocks() -> None:
    blocks = [pa.table({"x": np.arange(i * 1000, (i + 1) * 1000)}) for i in range(4)]
    out = shuffle(blocks, 4, seed=0)
    first = out[0].column("x").to_numpy()
    # every output holds rows from every input block
    assert len(set((first // 1000).tolist())) == 4


def test_random_sample_fraction_and_seed() -> None:
    t = pa.table({"x": np.arange(10_000)})
    a = random_sample(t, 0.3, seed=1, index=0)
    assert 2500 < a.num_rows < 3500
    assert a.equals(random_sample(t, 0.3, seed=1, index=0))
    assert not a.equals(random_sample(t, 0.3, seed=1, index=1))
    xs = a.column("x").to_numpy()
    assert (np.diff(xs) > 0).all()
    assert random_sample(t, 1.0, seed=None, index=0).num_rows == 10_000
    with pytest.raises(ValueError):
        random_sample(t, 1.5, seed=None, index=0)


def test_random_order() -> None:
    assert random_order(10, seed=5) == random_order(10, seed=5)
    assert sorted(random_order(10, seed=None)) == list(range(10))


@pytest.mark.parametrize("counts,n", [([10], 3), ([3, 0, 7, 1], 4), ([0, 0, 5], 7), ([4, 4], 1),
                                      ([100, 1, 1, 50], 6), ([0], 2)])
def test_plan_slices_are_even_and_in_order(counts: list[int], n: int) -> None:
    plan = plan_slices(counts, n)
    assert len(plan) == n
    sizes = [sum(e - s for _, s, e in out) for out in plan]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == sum(counts)
    blocks = []
    start = 0
    for c in counts:
        blocks.append(pa.table({"x": np.arange(start, start + c)}))
        start += c
    outs = []
    for out in plan:
        used = []
        for idx, _, _ in out:
            if idx not in used:
                used.append(idx)
        outs.append(assemble([blocks[i] for i in used], out) if out else blocks[0].slice(0, 0))
    assert rows(outs) == list(range(sum(counts)))


def test_split_even_and_concat_parts() -> None:
    t = pa.table({"x": np.arange(10)})
    pieces = split_even(t, 4)
    assert [p.num_rows for p in pieces] == [3, 3, 2, 2]
    assert concat_parts(pieces).column("x").to_pylist() == list(range(10))
    assert concat_parts([t.slice(0, 0)]).num_rows == 0


@pytest.mark.parametrize("fmt", ["numpy", "pandas", "pyarrow", "default"])
def test_map_groups_formats_and_order(fmt: str) -> None:
    rng = np.random.default_rng(0)
    t = pa.table({"k": rng.integers(0, 5, 100), "v": rng.normal(size=100)})
    calls = []

    def fn(batch):
        if isinstance(batch, pd.DataFrame) or isinstance(batch, pa.Table):
            k, v = batch["k"].to_numpy(), batch["v"].to_numpy()
        else:
            assert isinstance(batch, dict)
            k, v = batch["k"], batch["v"]
        assert len(set(k.tolist())) == 1
        calls.append(int(k[0]))
        return {"k": k[:1], "mean": np.array([v.mean()])}

    out = apply_map_groups(t, ["k"], fn, fmt)
    expected = t.to_pandas().groupby("k")["v"].mean()
    assert calls == sorted(expected.index.tolist())
    assert out.column("k").to_pylist() == expected.index.tolist()
    assert np.allclose(out.column("mean").to_numpy(), expected.to_numpy())


def test_map_groups_null_keys_multi_keys_args_and_no_keys() -> None:
    t = pa.table({"a": pa.array([1, None, 1, None]), "b": ["x", "y", "x", "z"], "v": [1, 2, 3, 4]})
    groups = [g.to_pylist() for g in iter_groups(t, ["a", "b"])]
    assert [len(g) for g in groups] == [2, 1, 1]
    assert groups[0][0]["a"] == 1 and groups[1][0]["a"] is None
    out = apply_map_groups(t, ["a"], lambda g, add, mul=1: {"s": [int(g["v"].sum()) * mul + add]}, "numpy",
                           fn_args=(100,), fn_kwargs={"mul": 2})
    assert out.column("s").to_pylist() == [108, 112]
    whole = apply_map_groups(t, [], lambda g: g.slice(0, 1), "pyarrow")
    assert whole.num_rows == 1
    assert apply_map_groups(t.slice(0, 0), ["a"], lambda g: g, "pyarrow").num_rows == 0


def test_map_groups_bad_return() -> None:
    t = pa.table({"k": [1, 2]})
    with pytest.raises(UDFReturnError, match="map_groups"):
        apply_map_groups(t, ["k"], lambda g: 5, "numpy")

"""The numpy batch format: a dict whose columns leave Arrow on first read (no processes)."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from streamdata import block as B
from streamdata.errors import UDFReturnError
from streamdata.numpy_batch import NumpyBatch, arrow_columns_of


def table() -> pa.Table:
    return pa.table({"id": [1, 2, 3], "a": [0.5, 1.5, 2.5], "s": ["x", None, "z"]})


def batch() -> NumpyBatch:
    out = B.to_batch(table(), "numpy")
    assert isinstance(out, NumpyBatch)
    return out


def eager() -> dict[str, np.ndarray]:
    return B.to_numpy(table())


def same(got: dict, want: dict) -> None:
    assert list(got) == list(want)
    for key in want:
        assert got[key].dtype == want[key].dtype and got[key].tolist() == want[key].tolist()


def test_every_read_gives_what_the_eager_conversion_gives() -> None:
    want = eager()
    same(batch(), want)
    same(dict(batch()), want)
    same({**batch()}, want)
    same((lambda **kw: kw)(**batch()), want)
    same(batch().copy(), want)
    same(dict(zip(batch().keys(), batch().values())), want)
    same(dict(batch().items()), want)
    same(pickle.loads(pickle.dumps(batch())), want)
    same(copy.deepcopy(batch()), want)
    same(batch() | {}, want)
    same({} | batch(), want)
    got = {}
    got.update(batch())
    same(got, want)
    assert repr(batch()) == repr(want)
    assert type(pickle.loads(pickle.dumps(batch()))) is dict
    b = batch()
    assert b.get("a").tolist() == [0.5, 1.5, 2.5] and b.get("nope", 7) == 7
    assert b.pop("s").tolist() == ["x", None, "z"] and list(b) == ["id", "a"]
    assert b.setdefault("a").tolist() == [0.5, 1.5, 2.5]
    assert b.popitem()[0] == "a"
    with pytest.raises(KeyError):
        batch().pop("nope")


def test_libraries_see_converted_columns() -> None:
    frame = pd.DataFrame(batch())
    assert frame["a"].tolist() == [0.5, 1.5, 2.5] and frame["id"].dtype == np.int64
    assert pa.table(batch()).equals(pa.table(eager()))


def test_only_the_columns_read_are_converted_and_the_rest_go_back_as_they_were() -> None:
    b = batch()
    b["c"] = b["a"] * 2
    assert sorted(name for name, _ in arrow_columns_of(b)) == ["id", "s"]
    out = B.batch_to_table(b)
    assert out.column_names == ["id", "a", "s", "c"]
    assert out.column("s").to_pylist() == ["x", None, "z"]
    assert out.column("c").to_pylist() == [1.0, 3.0, 5.0]
    assert out.column("s").chunk(0) is not None and out.schema.field("s").type == pa.string()


def test_in_place_changes_and_deletions_are_kept() -> None:
    b = batch()
    b["a"] += 1
    del b["id"]
    out = B.batch_to_table(b)
    assert out.column_names == ["a", "s"] and out.column("a").to_pylist() == [1.5, 2.5, 3.5]


def test_writable_unless_zero_copy() -> None:
    assert batch()["a"].flags.writeable
    assert not B.to_batch(table(), "numpy", zero_copy=True)["a"].flags.writeable


def test_bad_returns_are_still_named() -> None:
    b = batch()
    b["a"] = b["a"][:2]
    with pytest.raises(UDFReturnError, match="unequal lengths"):
        B.batch_to_table(b)

"""NaN and None keys as Ray Data treats them: in a float column NaN is a value apart
from null (its own group; sorts after numbers, before nulls); in a string/object column
a NaN from pandas or a row is a missing value (grouped and sorted with the nulls)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import streamdata as sd
from streamdata.errors import SchemaError

NAN = float("nan")


@pytest.fixture(scope="module", autouse=True)
def _rt(runtime):
    yield runtime


def key(value):
    """A sortable stand-in for a key (None and NaN are not comparable)."""
    if value is None:
        return (2, 0)
    if isinstance(value, float) and math.isnan(value):
        return (1, 0)
    return (0, value)


def norm(rows):
    return sorted(((("nan" if isinstance(r["k"], float) and math.isnan(r["k"]) else r["k"]),
                    r["count()"]) for r in rows), key=str)


def test_from_items_keeps_nan_apart_from_none_in_float_columns(ctx):
    ds = sd.from_items([{"k": 1.0}, {"k": NAN}, {"k": None}, {"k": 0.5}, {"k": NAN}])
    assert ds.schema().types[0] == pa.float64()
    got = [r["k"] for r in ds.sort("k").take_all()]
    assert got[:2] == [0.5, 1.0] and math.isnan(got[2]) and math.isnan(got[3]) and got[4] is None
    assert norm(ds.groupby("k").count().take_all()) == sorted(
        [(0.5, 1), (1.0, 1), ("nan", 2), (None, 1)], key=str)
    unique = ds.unique("k")
    assert len(unique) == 4 and sum(1 for u in unique if u is None) == 1
    assert sum(1 for u in unique if isinstance(u, float) and math.isnan(u)) == 1


def test_nan_and_none_in_pandas_string_column_are_one_null_group(ctx):
    df = pd.DataFrame({"k": ["b", np.nan, "a", None, "b", np.nan], "v": [1, 2, 3, 4, 5, 6]})
    ds = sd.from_pandas(df)
    assert pa.types.is_string(ds.schema().types[0]) or pa.types.is_large_string(ds.schema().types[0])
    assert norm(ds.groupby("k").count().take_all()) == sorted([("a", 1), ("b", 2), (None, 3)], key=str)
    assert sorted(ds.groupby("k").sum("v").take_all(), key=lambda r: key(r["k"])) == [
        {"k": "a", "sum(v)": 3}, {"k": "b", "sum(v)": 6}, {"k": None, "sum(v)": 12}]
    assert [r["k"] for r in ds.sort("k").take_all()] == ["a", "b", "b", None, None, None]
    assert [r["k"] for r in ds.sort("k", descending=True).take_all()] == ["b", "b", "a", None, None, None]
    assert sorted(ds.unique("k"), key=key) == ["a", "b", None]
    groups = ds.groupby("k").map_groups(lambda g: {"k": g["k"][:1], "n": [len(g["v"])]})
    assert sorted(((r["k"], r["n"]) for r in groups.take_all()), key=lambda p: key(p[0])) == [
        ("a", 1), ("b", 2), (None, 3)]


def test_stray_nan_in_a_string_row_column_is_missing(ctx):
    ds = sd.from_items([{"k": "b", "v": 1}, {"k": None, "v": 2}, {"k": "a", "v": 3}, {"k": NAN, "v": 4}],
                       override_num_blocks=1)
    assert [r["k"] for r in ds.sort(["k", "v"]).take_all()] == ["a", "b", None, None]
    assert norm(ds.groupby("k").count().take_all()) == sorted([("a", 1), ("b", 1), (None, 2)], key=str)


def test_mixed_type_object_keys_raise_naming_the_column(ctx):
    # Ray cannot group or sort a column of mixed Python objects either; here the error
    # names the column and its type
    mixed = sd.from_pandas(pd.DataFrame({"k": pd.Series([1, "a", 1], dtype=object), "v": [0, 1, 2]}))
    with pytest.raises(SchemaError, match="'k'"):
        mixed.sort("k").take_all()
    with pytest.raises(SchemaError, match="'k'"):
        mixed.groupby("k").count().take_all()

"""Column layouts and dtypes of ``OneHotEncoder``, ``Concatenator``, the vectorizers and
``FeatureHasher``, as Ray 2.60 produced them on the same inputs (written out as literals).

Where Ray differs only by its tensor type's name (``ArrowTensorTypeV2``), streamdata's
is Arrow's ``fixed_shape_tensor``; the values and dtypes are the same.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import streamdata as sd
from streamdata.preprocessors import (
    Concatenator, CountVectorizer, FeatureHasher, HashingVectorizer, OneHotEncoder,
)

pytestmark = pytest.mark.usefixtures("data_runtime")  # one runtime for the module

COLORS = ["red", "green", "red", "red", "blue", "green"]


def _hot(n: int) -> pa.DataType:
    return pa.list_(pa.uint8(), n)


# ---------------------------------------------------------------------------- OneHotEncoder
def test_one_hot_dataset_columns_are_fixed_size_lists_of_uint8() -> None:
    ds = sd.from_pandas(pd.DataFrame({"color": COLORS, "n": [1, 2, 3, 1, 1, 2]}))
    enc = OneHotEncoder(columns=["color", "n"])
    out = enc.fit_transform(ds)
    assert enc.stats_ == {"unique_values(color)": {"blue": 0, "green": 1, "red": 2},
                          "unique_values(n)": {1: 0, 2: 1, 3: 2}}
    assert out.schema().names == ["color", "n"] and out.schema().types == [_hot(3), _hot(3)]
    assert out.take(2) == [{"color": [0, 0, 1], "n": [1, 0, 0]}, {"color": [0, 1, 0], "n": [0, 1, 0]}]
    batch = out.take_batch(3, batch_format="numpy")
    assert batch["color"].dtype == object  # as Ray: an object array of uint8 vectors
    assert [(v.dtype, v.tolist()) for v in batch["color"]] == [
        (np.uint8, [0, 0, 1]), (np.uint8, [0, 1, 0]), (np.uint8, [0, 0, 1])]
    table = out.take_batch(1, batch_format="pyarrow")
    assert table.schema == pa.schema({"color": _hot(3), "n": _hot(3)})


def test_one_hot_max_categories_unseen_and_append_mode() -> None:
    ds = sd.from_pandas(pd.DataFrame({"color": COLORS}))
    enc = OneHotEncoder(columns=["color"], max_categories={"color": 2}, output_columns=["c2"])
    out = enc.fit_transform(ds)
    assert enc.stats_ == {"unique_values(color)": {"green": 0, "red": 1}}
    # Ray 2.60 (pandas 3) gives large_string here: its from_pandas keeps the pandas block (str
    # dtype), which this pandas-format transform converts back with pa.Table.from_pandas.
    # streamdata's from_pandas block is Arrow string, the type Ray's own from_pandas schema has.
    assert out.schema().types == [pa.string(), _hot(2)]
    assert [r["c2"] for r in out.take_all()] == [[0, 1], [1, 0], [0, 1], [0, 1], [0, 0], [1, 0]]
    unseen = enc.transform(sd.from_pandas(pd.DataFrame({"color": ["yellow"]}))).take_all()
    assert unseen == [{"color": "yellow", "c2": [0, 0]}]


def test_one_hot_transform_batch_layouts() -> None:
    enc = OneHotEncoder(["c", "k"])
    enc.stats_ = {"unique_values(c)": {"p": 0, "q": 1, "r": 2},
                  "unique_values(k)": {10: 0, 20: 1, 30: 2}}
    new = {"a": [1, 5], "c": ["p", "zz"], "k": [10, 99]}
    df = enc.transform_batch(pd.DataFrame(new, index=[7, 9]))
    assert list(df.index) == [7, 9] and dict(df.dtypes.astype(str)) == {
        "a": "int64", "c": "object", "k": "object"}
    assert [(v.dtype, v.tolist()) for v in df["c"]] == [(np.uint8, [1, 0, 0]), (np.uint8, [0, 0, 0])]
    for batch in (pa.table(new), {k: np.array(v) for k, v in new.items()}):
        table = enc.transform_batch(batch)
        assert table.schema == pa.schema({"a": pa.int64(), "c": _hot(3), "k": _hot(3)})
        assert table.to_pylist() == [{"a": 1, "c": [1, 0, 0], "k": [1, 0, 0]},
                                     {"a": 5, "c": [0, 0, 0], "k": [0, 0, 0]}]


def test_one_hot_list_columns_are_encoded_in_pandas_as_lists_of_ints() -> None:
    genres = [["comedy", "action", "sports"], ["action", "comedy"], ["documentary"]]
    ds = sd.from_pandas(pd.DataFrame({"g": genres, "c": ["a", "b", "a"]}))
    enc = OneHotEncoder(["g", "c"]).fit(ds)
    assert enc.stats_["unique_values(g)"] == {
        ("action", "comedy"): 0, ("comedy", "action", "sports"): 1, ("documentary",): 2}
    out = enc.transform(ds)
    # as Ray: a list column sends the whole batch through pandas, scalar columns included
    assert out.schema().types == [pa.list_(pa.int64()), pa.list_(pa.int64())]
    assert out.take_all() == [{"g": [0, 1, 0], "c": [1, 0]}, {"g": [1, 0, 0], "c": [0, 1]},
                              {"g": [0, 0, 1], "c": [1, 0]}]
    new = {"g": [["comedy", "zzz"], ["documentary"]], "c": ["a", "q"]}
    table = enc.transform_batch(pa.table(new))
    assert table.to_pylist() == [{"g": [0, 0, 0], "c": [1, 0]}, {"g": [0, 0, 1], "c": [0, 0]}]
    df = enc.transform_batch(pd.DataFrame(new))
    assert [(v.dtype, v.tolist()) for v in df["g"]] == [(np.int64, [0, 0, 0]), (np.int64, [0, 0, 1])]


# ---------------------------------------------------------------------------- Concatenator
def test_concatenator_keeps_array_columns_nested_unless_flatten() -> None:
    ds = sd.from_items([{"v": np.array([1.0, 2.0]), "w": np.array([3, 4]), "s": 5}])
    [row] = Concatenator(["v", "w", "s"]).transform(ds).take_all()
    assert row["concat_out"].dtype == object
    assert [np.asarray(x).tolist() for x in row["concat_out"]] == [[1.0, 2.0], [3, 4], 5]
    flat = Concatenator(["v", "w", "s"], flatten=True).transform(ds)
    assert flat.schema().types == [pa.fixed_shape_tensor(pa.float64(), [5])]
    assert flat.take_all()[0]["concat_out"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    nested = pd.DataFrame({"X0": [[1, 2], [3, 4]], "X1": [0.5, 0.2]})
    [cell, _] = Concatenator(["X0", "X1"]).transform_batch(nested)["concat_out"]
    assert cell.dtype == object and cell.tolist() == [[1, 2], 0.5]
    flat = Concatenator(["X0", "X1"], flatten=True, dtype=np.float32).transform_batch(nested)
    assert [(v.dtype, v.tolist()) for v in flat["concat_out"]] == [
        (np.float32, [1.0, 2.0, 0.5]), (np.float32, [3.0, 4.0, pytest.approx(0.2)])]


def test_concatenator_flatten_joins_ragged_rows_and_refuses_2d_cells() -> None:
    ragged = pd.DataFrame({"v": [[1, 2], [3]], "s": [1.5, 2.0]})
    out = Concatenator(["v", "s"], flatten=True).transform_batch(ragged)["concat_out"]
    assert [v.tolist() for v in out] == [[1.0, 2.0, 1.5], [3.0, 2.0]]
    with pytest.raises(ValueError, match=r"Concatenator: flatten=True joins .*'v': \(2, 2\)"):
        Concatenator(["v", "s"], flatten=True).transform_batch(
            pd.DataFrame({"v": [np.zeros((2, 2))], "s": [1.0]}))
    dict_2d = {"v": np.ones((2, 3)), "s": np.array([1.5, 2.0])}
    cells = Concatenator(["v", "s"]).transform_batch(dict_2d)["concat_out"]
    assert [[np.asarray(x).tolist() for x in c] for c in cells] == [[[1.0] * 3, 1.5], [[1.0] * 3, 2.0]]
    cells = Concatenator(["v", "s"], flatten=True, dtype=np.int32).transform_batch(dict_2d)["concat_out"]
    assert [(c.dtype, c.tolist()) for c in cells] == [(np.int32, [1, 1, 1, 1]), (np.int32, [1, 1, 1, 2])]


def test_concatenator_dtypes_index_missing_columns_and_repr() -> None:
    df = pd.DataFrame({"X0": [0, 3], "X1": [0.5, 0.2], "Y": ["a", "b"]}, index=[7, 9])
    out = Concatenator(["X0", "X1"]).transform_batch(df)
    assert list(out.columns) == ["Y", "concat_out"] and list(out.index) == [7, 9]
    assert [(v.dtype, v.tolist()) for v in out["concat_out"]] == [
        (np.float64, [0.0, 0.5]), (np.float64, [3.0, 0.2])]
    mixed = Concatenator(["X0", "Y"]).transform_batch(df)["concat_out"]
    assert [(v.dtype, v.tolist()) for v in mixed] == [(object, [0, "a"]), (object, [3, "b"])]
    ints = Concatenator(["X0"], dtype=np.int32).transform_batch(df)["concat_out"]
    assert [(v.dtype, v.tolist()) for v in ints] == [(np.int32, [0]), (np.int32, [3])]
    empty = Concatenator(["X0"]).transform_batch(df.iloc[:0])
    assert list(empty.columns) == ["X1", "Y", "concat_out"] and len(empty) == 0
    for raise_if_missing in (False, True):  # Ray raises either way (KeyError / ValueError)
        with pytest.raises(KeyError, match="Concatenator: column 'zz' not in"):
            Concatenator(["X0", "zz"], raise_if_missing=raise_if_missing).transform_batch(df)
    assert repr(Concatenator(["a"])) == "Concatenator(columns=['a'])"
    assert repr(Concatenator(["a", "b"], output_column_name="o", dtype=np.float32,
                             raise_if_missing=True, flatten=True)) == (
        "Concatenator(output_column_name=o, columns=['a', 'b'], dtype=<class 'numpy.float32'>, "
        "raise_if_missing=True, flatten=True)")


# ---------------------------------------------------------------------------- vectorizers
def test_vectorizer_counts_are_int64_lists_on_datasets() -> None:
    ds = sd.from_items([{"t": "a b a"}, {"t": None}])
    cv = CountVectorizer(["t"])
    out = cv.fit_transform(ds)
    assert out.schema().types == [pa.list_(pa.int64())]
    assert out.take_all() == [{"t": [2, 1]}, {"t": None}]
    hv = HashingVectorizer(["t"], num_features=3).transform(ds)
    assert hv.schema().types == [pa.list_(pa.int64())]
    assert hv.take_all() == [{"t": [0, 2, 1]}, {"t": None}]


def test_vectorizer_batches_with_a_null_document_count_in_floats_as_rays() -> None:
    cv = CountVectorizer(["t"]).fit(sd.from_items([{"t": "a b a"}, {"t": "b c"}]))
    hv = HashingVectorizer(["t"], num_features=3)
    full = pd.DataFrame({"t": ["a b", "zz"]})
    assert cv.transform_batch(full)["t"].tolist() == [[1, 1, 0], [0, 0, 0]]
    assert hv.transform_batch(full)["t"].tolist() == [[0, 1, 1], [1, 0, 0]]
    for batch in (pd.DataFrame({"t": ["a b", None]}), pa.table({"t": ["a b", None]}),
                  {"t": np.array(["a b", None], dtype=object)}):
        got = cv.transform_batch(batch)["t"].tolist()
        assert got == [[1.0, 1.0, 0.0], None] and isinstance(got[0][0], float)
        assert hv.transform_batch(batch)["t"].tolist() == [[0.0, 1.0, 1.0], None]
    arrow_backed = pd.DataFrame({"t": pd.array(["a b", None], dtype="string[pyarrow]")})
    got = cv.transform_batch(arrow_backed)["t"].tolist()
    assert got == [[1, 1, 0], None] and isinstance(got[0][0], int)
    empty = pd.DataFrame({"t": pd.Series([], dtype=object)})
    assert cv.transform_batch(empty)["t"].dtype == np.float64
    assert hv.transform_batch(empty)["t"].dtype == np.float64


# ---------------------------------------------------------------------------- FeatureHasher
@pytest.mark.parametrize("dtypes, want", [
    (("int64", "int64"), np.int64), (("int32", "int32"), np.int64), (("bool", "bool"), np.int64),
    (("uint8", "uint8"), np.uint64), (("uint16", "uint32"), np.uint64),
    (("uint8", "bool"), np.int64), (("uint8", "int8"), np.int64), (("bool", "int64"), np.int64),
    (("float32", "float32"), np.float64), (("int32", "float32"), np.float64),
    (("float16", "int8"), np.float64), (("uint64", "int64"), np.float64),
])
def test_feature_hasher_sums_in_rays_dtypes(dtypes: tuple, want: type) -> None:
    fh = FeatureHasher(["I", "like"], num_features=3, output_column="h")
    df = pd.DataFrame({"I": np.array([1, 0], dtype=dtypes[0]), "like": np.array([1, 1], dtype=dtypes[1])})
    out = fh.transform_batch(df)["h"].tolist()
    assert [(v.dtype, v.tolist()) for v in out] == [(want, [0, 2, 0]), (want, [0, 1, 0])]


def test_feature_hasher_null_counts_make_float_slots() -> None:
    fh = FeatureHasher(["I", "like"], num_features=3, output_column="h")
    df = pd.DataFrame({"I": pd.array([1, None], dtype="Int64"), "like": [1, 2]})
    [first, second] = fh.transform_batch(df)["h"].tolist()
    assert first.dtype == np.float64 and first.tolist() == [0.0, 2.0, 0.0]
    assert second[0] == 0.0 and np.isnan(second[1]) and second[2] == 0.0
    ds = sd.from_items([{"I": 1, "like": 1, "Python": 1}, {"I": 1, "like": 0, "Python": 2}])
    out = FeatureHasher(["I", "like", "Python"], num_features=4, output_column="h").transform(ds)
    assert out.schema().types[-1] == pa.fixed_shape_tensor(pa.int64(), [4])
    assert [r["h"].tolist() for r in out.take_all()] == [[1, 0, 0, 2], [1, 0, 0, 2]]

"""``Preprocessor.transform_batch``'s output format, and the Arrow transforms of
``OrdinalEncoder``, ``OneHotEncoder`` and ``StandardScaler``, as Ray 2.60's.

Ray returns the format of the transform that ran, not the format it was given: a pandas
preprocessor returns a DataFrame for every input; an Arrow one (``OrdinalEncoder``,
``OneHotEncoder``, ``StandardScaler``) a DataFrame for a DataFrame and a ``pyarrow.Table``
for a Table or a dict. The expected values below are what Ray 2.60 produced on the same
inputs (written out as literals; the last test compares with Ray directly when installed).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import streamdata as sd
from streamdata.preprocessor import BatchTypeError
from streamdata.preprocessors import (
    Categorizer, Chain, Concatenator, CountVectorizer, CustomKBinsDiscretizer, FeatureHasher,
    HashingVectorizer, LabelEncoder, MaxAbsScaler, MinMaxScaler, MissingValueError,
    MultiHotEncoder, Normalizer, OneHotEncoder, OrdinalEncoder, PowerTransformer, SimpleImputer,
    StandardScaler, Tokenizer, UniformKBinsDiscretizer,
)

pytestmark = pytest.mark.usefixtures("data_runtime")  # one runtime for the module

NUM = {"a": [1.0, 2.0, 3.0], "b": [4, 5, 7], "s": ["x y", "y", "x"], "c": ["p", "q", "p"]}
#: the batch types Ray 2.60 returned for a DataFrame, a dict of ndarrays and a Table
RAY_FORMATS = {
    "StandardScaler": ("DataFrame", "Table", "Table"),
    "OrdinalEncoder": ("DataFrame", "Table", "Table"),
    "OneHotEncoder": ("DataFrame", "Table", "Table"),
    "MinMaxScaler": ("DataFrame",) * 3, "MaxAbsScaler": ("DataFrame",) * 3,
    "Normalizer": ("DataFrame",) * 3, "PowerTransformer": ("DataFrame",) * 3,
    "MultiHotEncoder": ("DataFrame",) * 3, "LabelEncoder": ("DataFrame",) * 3,
    "Categorizer": ("DataFrame",) * 3, "SimpleImputer": ("DataFrame",) * 3,
    "Tokenizer": ("DataFrame",) * 3, "CountVectorizer": ("DataFrame",) * 3,
    "HashingVectorizer": ("DataFrame",) * 3, "FeatureHasher": ("DataFrame",) * 3,
    "Concatenator": ("DataFrame",) * 3, "UniformKBinsDiscretizer": ("DataFrame",) * 3,
    "CustomKBinsDiscretizer": ("DataFrame",) * 3, "Chain": ("DataFrame",) * 3,
}


def _preprocessors() -> dict:
    return {
        "StandardScaler": StandardScaler(["a"]), "MinMaxScaler": MinMaxScaler(["a"]),
        "MaxAbsScaler": MaxAbsScaler(["a"]), "Normalizer": Normalizer(["a", "b"]),
        "PowerTransformer": PowerTransformer(["a"], power=1),
        "OrdinalEncoder": OrdinalEncoder(["c"]), "OneHotEncoder": OneHotEncoder(["c"]),
        "MultiHotEncoder": MultiHotEncoder(["c"]), "LabelEncoder": LabelEncoder("c"),
        "Categorizer": Categorizer(["c"]), "SimpleImputer": SimpleImputer(["a"]),
        "Tokenizer": Tokenizer(["s"]), "CountVectorizer": CountVectorizer(["s"]),
        "HashingVectorizer": HashingVectorizer(["s"], num_features=4),
        "FeatureHasher": FeatureHasher(["a", "b"], num_features=4, output_column="h"),
        "Concatenator": Concatenator(["a", "b"]),
        "UniformKBinsDiscretizer": UniformKBinsDiscretizer(["a"], bins=2),
        "CustomKBinsDiscretizer": CustomKBinsDiscretizer(["a"], bins=[0, 2, 4]),
        "Chain": Chain(MinMaxScaler(["a"]), Concatenator(["a", "b"])),
    }


def test_transform_batch_returns_the_format_of_the_transform_that_ran_as_rays() -> None:
    ds = sd.from_items([dict(zip(NUM, v)) for v in zip(*NUM.values())])
    got = {}
    for name, prep in _preprocessors().items():
        prep.fit(ds)
        got[name] = tuple(type(prep.transform_batch(batch)).__name__ for batch in (
            pd.DataFrame(NUM), {k: np.array(v) for k, v in NUM.items()}, pa.table(NUM)))
    assert got == RAY_FORMATS


def test_transform_batch_takes_an_ndarray_as_the_value_column_and_refuses_the_rest() -> None:
    out = Concatenator(["__value__"]).transform_batch(np.array([1.0, 2.0]))
    assert [v.tolist() for v in out["concat_out"]] == [[1.0], [2.0]]
    with pytest.raises(BatchTypeError, match="transform_batch takes .* got list") as info:
        Concatenator(["a"]).transform_batch([1, 2])
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)
    enc = OneHotEncoder(["c"])
    enc.stats_ = {"unique_values(c)": {"p": 0}}
    with pytest.raises(KeyError, match=r"OneHotEncoder: column 'c' not in \['__value__'\]"):
        enc.transform_batch(np.array([1, 2]))


# ---------------------------------------------------------------------------- OrdinalEncoder
def test_ordinal_encoder_codes_are_int64_with_nulls_in_arrow_and_nan_in_pandas() -> None:
    ds = sd.from_items([{"c": c, "k": k} for c, k in [("p", 10), ("q", 20), ("p", 10), ("r", 30)]])
    enc = OrdinalEncoder(["c", "k"]).fit(ds)
    assert enc.stats_ == {"unique_values(c)": {"p": 0, "q": 1, "r": 2},
                          "unique_values(k)": {10: 0, 20: 1, 30: 2}}
    assert enc.transform(ds).schema().types == [pa.int64(), pa.int64()]
    new = {"c": ["p", "zz"], "k": [10, 99]}
    table = enc.transform_batch(pa.table(new))
    assert table.schema == pa.schema({"c": pa.int64(), "k": pa.int64()})
    assert table.to_pylist() == [{"c": 0, "k": 0}, {"c": None, "k": None}]
    assert enc.transform_batch({k: np.array(v) for k, v in new.items()}).to_pylist() \
        == [{"c": 0, "k": 0}, {"c": None, "k": None}]
    df = enc.transform_batch(pd.DataFrame(new, index=[7, 9]))
    assert list(df.index) == [7, 9] and df["c"].dtype == np.float64
    assert df["c"].tolist()[0] == 0.0 and np.isnan(df["c"].tolist()[1])
    # unseen on a dataset: a null int64
    assert enc.transform(sd.from_items([{"c": "zz", "k": 20}])).take_all() == [{"c": None, "k": 1}]


def test_ordinal_encoder_append_mode_on_a_table_keeps_the_input_column() -> None:
    enc = OrdinalEncoder(["c"], output_columns=["c_o"])
    enc.stats_ = {"unique_values(c)": {"p": 0, "q": 1, "r": 2}}
    out = enc.transform_batch(pa.table({"c": ["p", "zz"], "k": [10, 99]}))
    assert out.schema == pa.schema({"c": pa.string(), "k": pa.int64(), "c_o": pa.int64()})
    assert out.column("c_o").to_pylist() == [0, None]
    # a dict crosses pandas first, as Ray's: its strings become large_string
    out = enc.transform_batch({"c": np.array(["p", "zz"]), "k": np.array([10, 99])})
    assert out.schema.field("c").type == pa.large_string()


# ---------------------------------------------------------------------------- StandardScaler
def test_standard_scaler_transforms_arrow_batches_as_rays() -> None:
    ds = sd.from_items([{"a": a, "f": f} for a, f in [(1, 1.0), (2, 2.5), (3, 3.0), (4, 8.0)]])
    scaler = StandardScaler(["a", "f"]).fit(ds)
    assert list(scaler.stats_) == ["mean(a)", "mean(f)", "std(a)", "std(f)"]  # Ray's order
    assert scaler.transform(ds).schema().types == [pa.float64(), pa.float64()]
    out = scaler.transform_batch(pa.table({"a": [1, 5], "f": [0.0, 2.0], "c": ["p", "q"]}))
    assert out.schema == pa.schema({"a": pa.float64(), "f": pa.float64(), "c": pa.string()})
    assert out.column("a").to_pylist() == [-1.3416407864998738, 2.23606797749979]
    assert out.column("f").to_pylist() == [-1.3778315806221817, -0.6176486395892539]


def test_standard_scaler_keeps_the_callers_pandas_dtypes_and_nulls_unfitted_columns() -> None:
    scaler = StandardScaler(["x"])
    scaler.stats_ = {"mean(x)": 2.0, "std(x)": 1.0}
    for dtype, want in [("Float64", "Float64"), ("Int64", "Float64"), ("int64", "float64")]:
        values = [1, 3] if dtype == "int64" else [1, None]
        out = scaler.transform_batch(pd.DataFrame({"x": pd.array(values, dtype=dtype)}))
        assert str(out["x"].dtype) == want
    arrow = scaler.transform_batch(pd.DataFrame({"x": pd.array([1, None], dtype="int64[pyarrow]")}))
    assert str(arrow["x"].dtype) == "double[pyarrow]" and arrow["x"].tolist()[0] == -1.0
    const = StandardScaler(["x"])
    const.stats_ = {"mean(x)": 1.0, "std(x)": 0.0}  # a constant column is only centered
    assert const.transform_batch(pd.DataFrame({"x": [1, 3]}))["x"].tolist() == [0.0, 2.0]
    empty = StandardScaler(["x"])
    empty.stats_ = {"mean(x)": None, "std(x)": None}  # fit saw no value: nulls, as Ray
    out = empty.transform_batch(pa.table({"x": [1.0, 2.0]}))
    assert out.schema.field("x").type == pa.float64() and out.column("x").to_pylist() == [None, None]


def test_arrow_transforms_drop_the_pandas_metadata_of_retyped_columns() -> None:
    enc = OneHotEncoder(["c"])
    enc.stats_ = {"unique_values(c)": {"p": 0, "q": 1}}
    table = pa.Table.from_pandas(pd.DataFrame({"c": ["q", "p"], "n": [1, 2]}))
    out = enc.transform_batch(table).to_pandas()
    assert [v.tolist() for v in out["c"]] == [[0, 1], [1, 0]] and out["n"].tolist() == [1, 2]


def test_arrow_encoders_refuse_nulls_in_tables_as_in_frames() -> None:
    for enc in (OneHotEncoder(["c"]), OrdinalEncoder(["c"])):
        enc.stats_ = {"unique_values(c)": {"p": 0}}
        name = type(enc).__name__
        for batch in (pa.table({"c": ["p", None]}), pd.DataFrame({"c": ["p", None]})):
            with pytest.raises(MissingValueError, match=rf"{name}: cannot transform column\(s\)"):
                enc.transform_batch(batch)


def test_transform_batch_matches_ray_when_ray_is_installed() -> None:
    """Side by side with Ray 2.60's ``transform_batch`` (no Ray cluster is started)."""
    rp = pytest.importorskip("ray.data.preprocessors")

    def pair(name: str, *args: object, stats: dict | None = None, **kwargs: object) -> tuple:
        preps = getattr(rp, name)(*args, **kwargs), getattr(sd.preprocessors, name)(*args, **kwargs)
        if stats is not None:
            for prep in preps:
                prep.stats_ = dict(stats)
        return preps

    cases = [
        (pair("OneHotEncoder", ["c"], stats={"unique_values(c)": {"p": 0, "q": 1, "r": 2}}), "c"),
        (pair("OrdinalEncoder", ["c"], stats={"unique_values(c)": {"p": 0, "q": 1}}), "c"),
        (pair("StandardScaler", ["a"], stats={"mean(a)": 2.0, "std(a)": 0.5}), "a"),
        (pair("CountVectorizer", ["s"], stats={"token_counts(s)": Counter({"x": 2, "y": 1})}), "s"),
        (pair("HashingVectorizer", ["s"], num_features=3), "s"),
        (pair("FeatureHasher", ["a", "b"], num_features=3, output_column="h"), "h"),
        (pair("Concatenator", ["a", "b"]), "concat_out"),
    ]
    data = {"a": [1.0, 2.0, 4.0], "b": [4, 5, 7], "s": ["x y", "y", None], "c": ["p", "zz", "r"]}
    for (theirs, ours), col in cases:
        for batch in (lambda: pd.DataFrame(data), lambda: pa.table(data),
                      lambda: {k: np.array(v, dtype=object if k in "sc" else None)
                               for k, v in data.items()}):
            want, got = theirs.transform_batch(batch()), ours.transform_batch(batch())
            assert type(got) is type(want), (type(ours).__name__, type(want))
            if isinstance(want, pa.Table):
                assert got.column(col).type == want.column(col).type
                assert got.column(col).to_pylist() == want.column(col).to_pylist()
            else:
                assert got[col].dtype == want[col].dtype
                assert _cells(got[col]) == _cells(want[col]), type(ours).__name__


def _cells(series: pd.Series) -> list:
    """Each cell's type, dtype and values (NaN as a string, so that equal cells compare equal)."""
    return [None if v is None else (type(v).__name__, str(getattr(v, "dtype", "")),
                                    repr(np.asarray(v).tolist())) for v in series]

"""MaxAbsScaler, RobustScaler, Normalizer, PowerTransformer and the KBins discretizers
(Ray's names and semantics; expected values worked out by hand or with numpy)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import streamdata as sd
from streamdata.preprocessor import Preprocessor, PreprocessorNotFittedException
from streamdata.preprocessors._util import PreprocessorArgumentError
from streamdata.preprocessors.discretizer import CustomKBinsDiscretizer, UniformKBinsDiscretizer
from streamdata.preprocessors.normalizer import Normalizer
from streamdata.preprocessors.scaler import MaxAbsScaler, RobustScaler
from streamdata.preprocessors.transformer import PowerTransformer

pytestmark = pytest.mark.usefixtures("data_runtime")  # one runtime for the module

nan = np.nan


def _frame(ds: sd.Dataset) -> pd.DataFrame:
    return ds.to_pandas().reset_index(drop=True)


def _same(values, expected) -> bool:
    return np.allclose(np.asarray(values, dtype=float), np.asarray(expected, dtype=float),
                       equal_nan=True, rtol=1e-12, atol=0)


# ---------------------------------------------------------------- MaxAbsScaler
def test_max_abs_scaler_fit_transform_and_stats() -> None:
    ds = sd.from_pandas(pd.DataFrame({"X1": [-6, 3], "X2": [2, -4], "X3": [0, 0]}))
    scaler = MaxAbsScaler(["X1", "X2", "X3"])
    out = _frame(scaler.fit_transform(ds))
    assert scaler.stats_ == {"abs_max(X1)": 6, "abs_max(X2)": 4, "abs_max(X3)": 0}
    assert out["X1"].tolist() == [-1.0, 0.5] and out["X2"].tolist() == [0.5, -1.0]
    assert out["X3"].tolist() == [0.0, 0.0]  # an all-zero column is divided by 1
    assert all(out[c].dtype == np.float64 for c in ("X1", "X2", "X3"))


def test_max_abs_scaler_other_data_output_columns_and_nulls() -> None:
    fit_df = pd.DataFrame({"f": [1.0, nan, -2.0], "n": [nan, nan, nan]})
    scaler = MaxAbsScaler(["f", "n"], output_columns=["f2", "n2"]).fit(sd.from_pandas(fit_df))
    assert scaler.stats_ == {"abs_max(f)": 2.0, "abs_max(n)": None}
    out = scaler.transform_batch(pd.DataFrame({"f": [4.0, nan], "n": [1.0, 2.0]}))
    assert list(out.columns) == ["f", "n", "f2", "n2"]
    assert _same(out["f2"], [2.0, nan]) and _same(out["n2"], [nan, nan])  # nothing fitted: NaN
    assert out["f"].tolist()[0] == 4.0  # inputs kept


def test_max_abs_scaler_needs_fit() -> None:
    with pytest.raises(PreprocessorNotFittedException, match="MaxAbsScaler"):
        MaxAbsScaler(["x"]).transform_batch(pd.DataFrame({"x": [1]}))


# ---------------------------------------------------------------- RobustScaler
_ROBUST = pd.DataFrame({"X1": [1, 2, 3, 4, 5], "X2": [13, 5, 14, 2, 8], "X3": [1, 2, 2, 2, 3]})


def test_robust_scaler_quartiles() -> None:
    scaler = RobustScaler(["X1", "X2"])
    out = _frame(scaler.fit_transform(sd.from_pandas(_ROBUST)))
    # X1 quartiles 2, 3, 4; X2 sorted 2 5 8 13 14: quartiles 5, 8, 13
    assert scaler.stats_ == {"low_quantile(X1)": 2.0, "median(X1)": 3.0, "high_quantile(X1)": 4.0,
                             "low_quantile(X2)": 5.0, "median(X2)": 8.0, "high_quantile(X2)": 13.0}
    assert out["X1"].tolist() == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert out["X2"].tolist() == [0.625, -0.375, 0.75, -0.75, 0.0]
    assert out["X3"].tolist() == [1, 2, 2, 2, 3]


def test_robust_scaler_range_output_columns_constant_column_and_other_data() -> None:
    scaler = RobustScaler(["X1", "X3"], quantile_range=(0.1, 0.9), output_columns=["a", "b"])
    scaler.fit(sd.from_pandas(_ROBUST))
    assert (scaler.stats_["low_quantile(X1)"], scaler.stats_["high_quantile(X1)"]) == (1.0, 5.0)
    out = scaler.transform_batch(pd.DataFrame({"X1": [3, 11], "X3": [7, 9]}))
    assert out["a"].tolist() == [0.0, 2.0]
    assert out["b"].tolist() == [2.5, 3.5]  # X3: 1, 2, 3 at 0.1, 0.5, 0.9
    # X3's 0.4 and 0.6 quantiles are both 2: a zero range maps to zeros (of the input's dtype)
    const = RobustScaler(["X3"], quantile_range=(0.4, 0.6)).fit(sd.from_pandas(_ROBUST))
    assert const.transform_batch(pd.DataFrame({"X3": [1, 5]}))["X3"].tolist() == [0, 0]


def test_robust_scaler_ignores_nulls() -> None:
    ds = sd.from_pandas(pd.DataFrame({"g": [1.0, nan, 3.0, 10.0]}))
    scaler = RobustScaler(["g"]).fit(ds)
    assert [scaler.stats_[f"{k}(g)"] for k in ("low_quantile", "median", "high_quantile")] == \
        [1.0, 3.0, 10.0]
    assert _same(_frame(scaler.transform(ds))["g"], [-2 / 9, nan, 0.0, 7 / 9])


def test_robust_scaler_quantiles_of_an_even_count_as_ray() -> None:  # Ray 2.60's values (KLL, exclusive ranks)
    scaler = RobustScaler(["e"]).fit(sd.from_pandas(pd.DataFrame({"e": [1.0, 2.0, 3.0, 4.0]})))
    assert scaler.stats_ == {"low_quantile(e)": 2.0, "median(e)": 3.0, "high_quantile(e)": 4.0}


# ---------------------------------------------------------------- Normalizer
def test_normalizer_norms() -> None:
    df = pd.DataFrame({"a": [3, 1, 0, 2.0], "b": [4, -1, 0, nan], "c": [0, 2, 0, 1]})
    l2 = Normalizer(["a", "b"])
    assert l2.fit_status() is Preprocessor.FitStatus.NOT_FITTABLE
    out = _frame(l2.transform(sd.from_pandas(df)))  # no fit needed
    assert _same(out["a"], [0.6, 1 / math.sqrt(2), nan, 1.0])  # a zero row: NaN, as Ray
    assert _same(out["b"], [0.8, -1 / math.sqrt(2), nan, nan])  # a null: out of the norm
    assert out["c"].tolist() == [0, 2, 0, 1]
    l1 = Normalizer(["a", "b", "c"], norm="l1").transform_batch(df)
    assert _same(l1["c"], [0.0, 0.5, nan, 1 / 3])
    mx = Normalizer(["a", "b", "c"], norm="max", output_columns=["x", "y", "z"]).transform_batch(df)
    assert _same(mx["y"], [1.0, -0.5, nan, nan]) and _same(mx["z"], [0.0, 1.0, nan, 0.5])
    assert list(mx.columns) == ["a", "b", "c", "x", "y", "z"]


# ---------------------------------------------------------------- PowerTransformer
def _yeo_johnson(x: float, p: float) -> float:
    if math.isnan(x):
        return nan
    if x >= 0:
        return math.log(x + 1) if p == 0 else ((x + 1) ** p - 1) / p
    return -math.log(1 - x) if p == 2 else -(((1 - x) ** (2 - p)) - 1) / (2 - p)


@pytest.mark.parametrize("power", [0, 2, 0.5, -1, 1.5])
def test_power_transformer_yeo_johnson(power) -> None:
    xs = [0.0, 3.0, -1.0, 0.5, -2.5, nan]
    prep = PowerTransformer(["x"], power=power)
    out = _frame(prep.transform(sd.from_pandas(pd.DataFrame({"x": xs}))))
    assert out["x"].dtype == np.float64
    assert _same(out["x"], [_yeo_johnson(x, power) for x in xs])


def test_power_transformer_box_cox_and_output_columns() -> None:
    df = pd.DataFrame({"y": [1.0, 2.0, 0.5, 4.0], "i": [1, 2, 4, 8]})
    log = PowerTransformer(["y"], power=0, method="box-cox").transform_batch(df)
    assert _same(log["y"], np.log([1.0, 2.0, 0.5, 4.0]))
    half = PowerTransformer(["y", "i"], power=0.5, method="box-cox", output_columns=["y2", "i2"])
    out = half.transform_batch(df)
    assert _same(out["y2"], [(v ** 0.5 - 1) / 0.5 for v in (1.0, 2.0, 0.5, 4.0)])
    assert _same(out["i2"], [0.0, 2 * (math.sqrt(2) - 1), 2.0, 2 * (math.sqrt(8) - 1)])
    assert out["i"].tolist() == [1, 2, 4, 8]
    # integer data with a negative integer power works (numpy alone refuses it)
    inv = PowerTransformer(["i"], power=-1, method="box-cox").transform_batch(df)
    assert _same(inv["i"], [0.0, 0.5, 0.75, 0.875])


# ---------------------------------------------------------------- discretizers
_BINS = pd.DataFrame({"value_1": [0.2, 1.4, 2.5, 6.2, 9.7, 2.1], "value_2": [10, 15, 13, 12, 23, 25]})


def test_custom_kbins_discretizer_edges() -> None:
    prep = CustomKBinsDiscretizer(["value_1", "value_2"], bins=[0, 1, 4, 10, 25])
    assert prep.fit_status() is Preprocessor.FitStatus.NOT_FITTABLE
    out = _frame(prep.transform(sd.from_pandas(_BINS)))
    assert out["value_1"].tolist() == [0, 1, 1, 2, 2, 1] and out["value_1"].dtype == np.int64
    assert out["value_2"].tolist() == [2, 3, 3, 3, 3, 3]


def test_custom_kbins_discretizer_options() -> None:
    per_column = CustomKBinsDiscretizer(
        ["value_1", "value_2"], bins={"value_1": [0, 1, 4], "value_2": [0, 18, 35, 70]},
        output_columns=["d1", "d2"]).transform_batch(_BINS)
    assert _same(per_column["d1"], [0, 1, 1, nan, nan, 1])  # outside every bin: NaN
    assert per_column["d2"].tolist() == [0, 0, 0, 0, 1, 1]
    assert per_column["value_1"].tolist() == _BINS["value_1"].tolist()
    left = CustomKBinsDiscretizer(["value_2"], bins=[10, 13, 25], right=False)
    assert _same(left.transform_batch(_BINS)["value_2"], [0, 1, 1, 0, 1, nan])
    right = CustomKBinsDiscretizer(["value_2"], bins=[10, 13, 25])
    assert _same(right.transform_batch(_BINS)["value_2"], [nan, 1, 0, 0, 1, 1])
    lowest = CustomKBinsDiscretizer(["value_2"], bins=[10, 13, 25], include_lowest=True)
    assert lowest.transform_batch(_BINS)["value_2"].tolist() == [0, 1, 0, 0, 1, 1]
    dropped = CustomKBinsDiscretizer(["value_2"], bins=[0, 13, 13, 30], duplicates="drop")
    assert dropped.transform_batch(_BINS)["value_2"].tolist() == [0, 1, 0, 0, 1, 1]


def test_custom_kbins_discretizer_categories_and_intervals() -> None:
    cat = pd.CategoricalDtype(["lo", "mid", "hi"], ordered=True)
    prep = CustomKBinsDiscretizer(["value_1"], bins=[0, 1, 4, 10], dtypes={"value_1": cat})
    out = _frame(prep.transform(sd.from_pandas(_BINS)))
    assert out["value_1"].tolist() == ["lo", "mid", "mid", "hi", "hi", "mid"]
    assert out["value_1"].dtype == "category" and out["value_1"].cat.ordered
    intervals = pd.IntervalIndex.from_tuples([(0, 2), (5, 10)])
    by_interval = CustomKBinsDiscretizer(["value_1"], bins=intervals)
    assert _same(_frame(by_interval.transform(sd.from_pandas(_BINS)))["value_1"],
                 [0, 0, nan, 1, 1, nan])


def test_uniform_kbins_discretizer_fit_and_stats() -> None:
    prep = UniformKBinsDiscretizer(["value_1", "value_2"], bins=4)
    out = _frame(prep.fit_transform(sd.from_pandas(_BINS)))
    assert set(prep.stats_) == {"value_1", "value_2"}
    edges = np.linspace(0.2, 9.7, 5)
    edges[0] -= 9.5 * 0.001  # widened by 0.1% of the range on the open side
    assert _same(prep.stats_["value_1"], edges)
    assert out["value_1"].tolist() == [0, 0, 0, 2, 3, 0]
    assert out["value_2"].tolist() == [0, 1, 0, 0, 3, 3]


def test_uniform_kbins_discretizer_per_column_right_false_constant_and_other_data() -> None:
    prep = UniformKBinsDiscretizer(["value_1", "value_2"], bins={"value_1": 4, "value_2": 3},
                                   right=False, output_columns=["u1", "u2"])
    prep.fit(sd.from_pandas(_BINS))
    assert len(prep.stats_["value_2"]) == 4 and prep.stats_["value_2"][-1] == 25 + 15 * 0.001
    out = prep.transform_batch(_BINS)
    assert out["u2"].tolist() == [0, 1, 0, 0, 2, 2] and list(out.columns)[-2:] == ["u1", "u2"]
    const = UniformKBinsDiscretizer(["k", "z"], bins=2)
    const.fit(sd.from_pandas(pd.DataFrame({"k": [5, 5], "z": [0.0, 0.0]})))
    assert _same(const.stats_["k"], [4.995, 5.0, 5.005])
    assert _same(const.stats_["z"], [-0.001, 0.0, 0.001])
    other = const.transform_batch(pd.DataFrame({"k": [4.999, 5.004, 9.0], "z": [0.0, 1.0, -1.0]}))
    assert _same(other["k"], [0, 1, nan]) and _same(other["z"], [0, nan, nan])


def test_discretizer_round_trips_through_serialize() -> None:
    prep = UniformKBinsDiscretizer(["value_1"], bins=3).fit(sd.from_pandas(_BINS))
    again = Preprocessor.deserialize(prep.serialize())
    assert again.transform_batch(_BINS)["value_1"].tolist() == \
        prep.transform_batch(_BINS)["value_1"].tolist()


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("make, message", [
    (lambda: MaxAbsScaler("x"), r"MaxAbsScaler: columns must be a non-empty list"),
    (lambda: MaxAbsScaler(["a", "b"], output_columns=["c"]), "MaxAbsScaler.*one output name"),
    (lambda: RobustScaler(["x"], quantile_range=(0.75, 0.25)), r"RobustScaler: quantile_range .*low <= high"),
    (lambda: RobustScaler(["x"], quantile_range=(0.2, 1.5)), r"RobustScaler: quantile_range"),
    (lambda: RobustScaler(["x"], quantile_range=0.5), r"RobustScaler: quantile_range must be a pair"),
    (lambda: RobustScaler(["x"], quantile_precision=1), "RobustScaler: quantile_precision"),
    (lambda: Normalizer(["x"], norm="l3"), r"Normalizer: norm 'l3' is not one of \['l1', 'l2', 'max'\]"),
    (lambda: PowerTransformer(["x"], power=1, method="log"), "PowerTransformer: method 'log'"),
    (lambda: PowerTransformer(["x"], power="2"), "PowerTransformer: power must be a finite number"),
    (lambda: CustomKBinsDiscretizer(["x"], bins=[0, 5, 3]), r"CustomKBinsDiscretizer: bins must be strictly increasing"),
    (lambda: CustomKBinsDiscretizer(["x"], bins=[0, 5, 5]), r"duplicates='drop'"),
    (lambda: CustomKBinsDiscretizer(["x"], bins=[0, 5, 3], duplicates="drop"), "non-decreasing"),
    (lambda: CustomKBinsDiscretizer(["x"], bins=4), "UniformKBinsDiscretizer takes a number"),
    (lambda: CustomKBinsDiscretizer(["x", "y"], bins={"x": [0, 1]}), r"without the column\(s\) \['y'\]"),
    (lambda: CustomKBinsDiscretizer(["x"], bins={"x": [1, 0]}), r"bins\['x'\] must be strictly"),
    (lambda: CustomKBinsDiscretizer(["x"], bins=pd.IntervalIndex.from_tuples([(0, 2), (1, 3)])), "overlapping"),
    (lambda: CustomKBinsDiscretizer(["x"], bins=[0, 1], duplicates="keep"), "duplicates 'keep'"),
    (lambda: CustomKBinsDiscretizer(["x"], bins=[0, 1], dtypes={"x": "str"}), r"dtypes\['x'\]"),
    (lambda: UniformKBinsDiscretizer(["x"], bins=0), r"UniformKBinsDiscretizer: bins must be a number of bins"),
    (lambda: UniformKBinsDiscretizer(["x"], bins=2.5), "bins must be a number of bins"),
    (lambda: UniformKBinsDiscretizer(["x"], bins={"x": [0, 1]}), r"bins\['x'\] must be a number"),
    (lambda: UniformKBinsDiscretizer(["x", "y"], bins={"x": 2}), r"without the column\(s\) \['y'\]"),
])
def test_bad_arguments_name_the_preprocessor_and_argument(make, message) -> None:
    with pytest.raises(PreprocessorArgumentError, match=message):
        make()


@pytest.mark.parametrize("make", [
    lambda: MaxAbsScaler(["v"]), lambda: RobustScaler(["v"]), lambda: Normalizer(["v"]),
    lambda: PowerTransformer(["v"], power=1.0), lambda: CustomKBinsDiscretizer(["v"], bins=[0, 9]),
    lambda: UniformKBinsDiscretizer(["v"], bins=2),
])
def test_a_column_missing_from_the_batch_is_named(make) -> None:
    prep = make().fit(sd.from_pandas(pd.DataFrame({"v": [1.0, 2.0]})))
    with pytest.raises(KeyError, match=rf"{type(prep).__name__}: column 'v' not in \['w'\]"):
        prep.transform_batch(pd.DataFrame({"w": [1.0]}))


def test_uniform_fit_refuses_columns_without_a_finite_range() -> None:
    empty = sd.from_pandas(pd.DataFrame({"x": [nan, nan], "y": [1.0, np.inf]}))
    with pytest.raises(PreprocessorArgumentError, match="column 'x' has no values to bin"):
        UniformKBinsDiscretizer(["x"], bins=2).fit(empty)
    with pytest.raises(PreprocessorArgumentError, match="column 'y' holds infinity"):
        UniformKBinsDiscretizer(["y"], bins=2).fit(empty)


def test_labels_that_do_not_fit_the_bins_name_the_column() -> None:
    two = pd.CategoricalDtype(["lo", "hi"])
    prep = CustomKBinsDiscretizer(["value_1"], bins=[0, 1, 4, 10], dtypes={"value_1": two})
    with pytest.raises(PreprocessorArgumentError,
                       match="CustomKBinsDiscretizer: cannot bin column 'value_1'"):
        prep.transform_batch(_BINS)

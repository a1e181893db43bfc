"""The built-in preprocessors of streamdata.preprocessors (Ray's ray.data.preprocessors names)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import streamdata as sd
from streamdata.preprocessor import PreprocessorNotFittedException
from streamdata.preprocessors import (
    Chain, Concatenator, MinMaxScaler, PreprocessorArgumentError, SimpleImputer, StandardScaler,
)


pytestmark = pytest.mark.usefixtures("data_runtime")  # one runtime for the module


def _rows(ds: sd.Dataset, col: str) -> list:
    return sorted(r[col] for r in ds.take_all())


def test_min_max_scaler_uses_the_fitted_range_on_other_data() -> None:
    scaler = MinMaxScaler(["v"]).fit(sd.from_items([{"v": 10}, {"v": 20}, {"v": 30}]))
    assert scaler.stats_ == {"min(v)": 10, "max(v)": 30}
    # data outside the fitted range goes outside [0, 1], as the fitted state says
    assert _rows(scaler.transform(sd.from_items([{"v": 0}, {"v": 40}])), "v") == [-0.5, 1.5]
    out = scaler.transform_batch(pd.DataFrame({"v": [15, 25]}))
    assert list(out["v"]) == [0.25, 0.75]


def test_min_max_scaler_constant_column_maps_to_zero_and_output_columns_keep_input() -> None:
    ds = sd.from_items([{"v": 5, "w": 1}, {"v": 5, "w": 3}])
    out = MinMaxScaler(["v", "w"], output_columns=["v2", "w2"]).fit_transform(ds).take_all()
    assert sorted((r["v"], r["v2"], r["w2"]) for r in out) == [(5, 0.0, 0.0), (5, 0.0, 1.0)]


def test_standard_scaler_population_std() -> None:
    ds = sd.from_items([{"x": 1.0}, {"x": 4.0}])
    scaler = StandardScaler(["x"])
    assert _rows(scaler.fit_transform(ds), "x") == [-1.0, 1.0]
    assert scaler.stats_ == {"mean(x)": 2.5, "std(x)": 1.5}


def test_simple_imputer_strategies() -> None:
    ds = sd.from_items([{"a": 1.0}, {"a": None}, {"a": 3.0}, {"a": 3.0}])
    mean = SimpleImputer(["a"]).fit(ds)
    assert math.isclose(mean.stats_["mean(a)"], 7 / 3)
    assert _rows(mean.transform(ds), "a") == pytest.approx([1.0, 7 / 3, 3.0, 3.0])
    frequent = SimpleImputer(["a"], strategy="most_frequent").fit(ds)
    assert frequent.stats_ == {"most_frequent(a)": 3.0}
    const = SimpleImputer(["a"], strategy="constant", fill_value=-1.0)
    assert _rows(const.transform(ds), "a") == [-1.0, 1.0, 3.0, 3.0]  # no fit needed


def test_chain_fits_each_step_on_the_previous_output() -> None:
    ds = sd.from_items([{"id": 0}, {"id": 2}, {"id": None}])
    chain = Chain(SimpleImputer(["id"]), MinMaxScaler(["id"]))
    assert chain.fit_status() is chain.FitStatus.NOT_FITTED
    with pytest.raises(PreprocessorNotFittedException, match="Chain"):
        chain.transform(ds)
    assert _rows(chain.fit_transform(ds), "id") == [0.0, 0.5, 1.0]
    assert chain.fit_status() is chain.FitStatus.FITTED
    assert list(chain.transform_batch(pd.DataFrame({"id": [4.0, None]}))["id"]) == [2.0, 0.5]


def test_concatenator_joins_columns_and_drops_them() -> None:
    ds = sd.from_items([{"a": 1, "b": 2.5, "keep": "x"}])
    [row] = Concatenator(["a", "b"], output_column_name="f", dtype=np.float32).transform(ds).take_all()
    assert set(row) == {"keep", "f"}
    assert row["f"].dtype == np.float32 and row["f"].tolist() == [1.0, 2.5]
    with pytest.raises(ValueError, match=r"Concatenator: column 'zz' not in"):  # a ValueError, as Ray's
        Concatenator(["a", "zz"], raise_if_missing=True).transform(ds).take_all()


@pytest.mark.parametrize("make, message", [
    (lambda: MinMaxScaler("v"), "columns must be a non-empty list"),
    (lambda: StandardScaler(["a", "b"], output_columns=["x"]), "one output name per column"),
    (lambda: SimpleImputer(["a"], strategy="median"), "'median' is not one of"),
    (lambda: SimpleImputer(["a"], strategy="constant"), "needs a fill_value"),
    (lambda: Chain(), "one or more Preprocessors"),
])
def test_bad_arguments_name_what_is_wrong(make, message) -> None:
    with pytest.raises(PreprocessorArgumentError, match=message):
        make()


def test_missing_column_is_named() -> None:
    scaler = MinMaxScaler(["v"]).fit(sd.from_items([{"v": 1}, {"v": 2}]))
    with pytest.raises(KeyError, match=r"MinMaxScaler: column 'v' not in \['w'\]"):  # a KeyError, as Ray's
        scaler.transform_batch(pd.DataFrame({"w": [1]}))


def test_ray_submodule_paths() -> None:
    from streamdata.preprocessors.chain import Chain as C
    from streamdata.preprocessors.concatenator import Concatenator as K
    from streamdata.preprocessors.imputer import SimpleImputer as I
    from streamdata.preprocessors.scaler import MinMaxScaler as M, StandardScaler as S
    assert (C, K, I, M, S) == (Chain, Concatenator, SimpleImputer, MinMaxScaler, StandardScaler)


def test_most_frequent_ties_go_to_the_value_seen_first_and_an_empty_column_cannot_fill() -> None:
    ds = sd.from_items([{"s": "b", "f": 1.5, "n": None}, {"s": "a", "f": -2.0, "n": None},
                        {"s": None, "f": None, "n": None}, {"s": "a", "f": 1.5, "n": None},
                        {"s": "b", "f": -2.0, "n": None}])
    imputer = SimpleImputer(["s", "f"], strategy="most_frequent").fit(ds)
    assert imputer.stats_ == {"most_frequent(s)": "b", "most_frequent(f)": 1.5}  # as Ray: first seen
    empty = SimpleImputer(["n"], strategy="most_frequent").fit(ds)
    with pytest.raises(ValueError, match="column 'n' has no fill value"):
        empty.transform_batch(pd.DataFrame({"n": [None, 1.0]}))


def test_transform_batch_keeps_the_frames_index_and_leaves_it_alone() -> None:
    scaler = MinMaxScaler(["v"]).fit(sd.from_items([{"v": 0.0}, {"v": 4.0}]))
    frame = pd.DataFrame({"v": [2.0, 4.0], "tags": [["x"], ["y", "z"]]}, index=[10, 20])
    out = scaler.transform_batch(frame)
    assert list(out.index) == [10, 20] and out["v"].tolist() == [0.5, 1.0]
    assert out["tags"].tolist() == [["x"], ["y", "z"]]  # untouched cells as they were (lists)
    assert frame["v"].tolist() == [2.0, 4.0]  # the caller's frame is not changed


def test_stats_are_an_empty_dict_until_fit() -> None:
    scaler = MinMaxScaler(["v"])
    assert scaler.stats_ == {} and not scaler.has_stats()
    assert scaler.fit_status() is scaler.FitStatus.NOT_FITTED  # an empty stats_ is not fitted state
    scaler.fit(sd.from_items([{"v": 1.0}, {"v": 3.0}]))
    assert scaler.has_stats() and scaler.fit_status() is scaler.FitStatus.FITTED

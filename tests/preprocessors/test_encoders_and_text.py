"""Encoders, the tokenizer, the vectorizers and the feature hasher (Ray's names and outputs).

The expected values were written by hand from Ray Data's behaviour on the same inputs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pandas as pd
import pytest

import streamdata as sd
from streamdata.preprocessor import Preprocessor, PreprocessorNotFittedException
from streamdata.preprocessors._util import PreprocessorArgumentError
from streamdata.preprocessors.encoder import (
    Categorizer, LabelEncoder, MissingValueError, MultiHotEncoder, OneHotEncoder, OrdinalEncoder,
)
from streamdata.preprocessors.hasher import FeatureHasher, stable_hash
from streamdata.preprocessors.tokenizer import Tokenizer
from streamdata.preprocessors.vectorizer import CountVectorizer, HashingVectorizer


pytestmark = pytest.mark.usefixtures("data_runtime")  # one runtime for the module

COLORS = ["red", "green", "red", "red", "blue", "green"]
GENRES = [["comedy", "action", "sports"], ["animation", "comedy", "action"], ["documentary"]]
DOCS = ["Jimmy likes volleyball", "Bob likes volleyball too", "Bob also likes fruit jerky"]


def _colors() -> sd.Dataset:
    return sd.from_pandas(pd.DataFrame({"c": COLORS, "n": [3, 1, 3, 2, 2, 3]}))


def _lists(values: list) -> list:
    return [None if v is None else np.asarray(v).tolist() for v in values]


# ---------------------------------------------------------------------------- OrdinalEncoder
def test_ordinal_encoder_numbers_sorted_categories_and_unseen_is_nan() -> None:
    enc = OrdinalEncoder(["c", "n"])
    out = enc.fit_transform(_colors()).to_pandas()
    assert enc.stats_ == {"unique_values(c)": {"blue": 0, "green": 1, "red": 2},
                          "unique_values(n)": {1: 0, 2: 1, 3: 2}}
    assert out["c"].tolist() == [2, 1, 2, 2, 0, 1] and out["c"].dtype == np.int64
    assert out["n"].tolist() == [2, 0, 2, 1, 1, 2]
    other = enc.transform_batch(pd.DataFrame({"c": ["yellow", "blue"], "n": [1, 9]}))
    assert other["c"].tolist()[1] == 0.0 and np.isnan(other["c"].tolist()[0])
    assert other["n"].tolist()[0] == 0.0 and np.isnan(other["n"].tolist()[1])
    # on a Dataset the unseen value is missing too
    rows = enc.transform(sd.from_items([{"c": "yellow", "n": 2}])).take_all()
    assert rows[0]["c"] is None or np.isnan(rows[0]["c"])
    assert rows[0]["n"] == 1


def test_ordinal_encoder_lists_by_element_or_whole() -> None:
    ds = sd.from_pandas(pd.DataFrame({"g": GENRES}))
    enc = OrdinalEncoder(["g"], output_columns=["g_enc"])
    out = enc.fit_transform(ds).to_pandas()
    assert enc.stats_["unique_values(g)"] == {
        "action": 0, "animation": 1, "comedy": 2, "documentary": 3, "sports": 4}
    assert _lists(out["g_enc"]) == [[2, 0, 4], [1, 2, 0], [3]]
    assert _lists(out["g"]) == GENRES  # the input column is kept
    # as Ray: the list column is encoded in pandas inside the Arrow transform, and crosses
    # back into the frame as float64 arrays (NaN where unseen)
    [cell] = enc.transform_batch(pd.DataFrame({"g": [["comedy", "zzz"]]}))["g_enc"].tolist()
    assert cell.dtype == np.float64 and cell[0] == 2.0 and np.isnan(cell[1])
    whole = OrdinalEncoder(["g"], encode_lists=False)
    assert whole.fit_transform(ds).to_pandas()["g"].tolist() == [1, 0, 2]
    assert whole.stats_["unique_values(g)"] == {("animation", "comedy", "action"): 0,
                                                ("comedy", "action", "sports"): 1,
                                                ("documentary",): 2}
    got = whole.transform_batch(pd.DataFrame({"g": [["comedy", "zzz"], ["documentary"]]}))["g"]
    assert np.isnan(got[0]) and got[1] == 2.0


def test_encoders_refuse_nulls_in_fit_and_transform() -> None:
    with_null = sd.from_pandas(pd.DataFrame({"c": ["a", None, "b"]}))
    for enc in (OrdinalEncoder(["c"]), OneHotEncoder(["c"]), MultiHotEncoder(["c"]),
                LabelEncoder("c")):
        name = type(enc).__name__
        with pytest.raises(MissingValueError, match=f"{name}: cannot fit column 'c'.*null"):
            enc.fit(with_null)
        enc.fit(_colors())
        with pytest.raises(MissingValueError,
                           match=rf"{name}: cannot transform column\(s\) \['c'\]"):
            enc.transform_batch(pd.DataFrame({"c": ["red", None]}))
        with pytest.raises(ValueError, match=f"{name}: cannot transform"):
            enc.transform(with_null).take_all()


def test_null_outside_the_kept_categories_does_not_stop_fit() -> None:
    ds = sd.from_pandas(pd.DataFrame({"c": ["a", "a", None, "a"]}))
    enc = OneHotEncoder(["c"], max_categories={"c": 1}).fit(ds)
    assert enc.stats_ == {"unique_values(c)": {"a": 0}}


# ---------------------------------------------------------------------------- OneHotEncoder
def test_one_hot_encoder_writes_one_uint8_vector_column() -> None:
    enc = OneHotEncoder(["c"])
    out = enc.fit_transform(_colors()).to_pandas()
    assert enc.stats_ == {"unique_values(c)": {"blue": 0, "green": 1, "red": 2}}
    assert list(out.columns) == ["c", "n"]
    assert all(v.dtype == np.uint8 for v in out["c"])
    assert _lists(out["c"]) == [[0, 0, 1], [0, 1, 0], [0, 0, 1], [0, 0, 1], [1, 0, 0], [0, 1, 0]]
    assert out["n"].tolist() == [3, 1, 3, 2, 2, 3]
    # unseen: all zeros, on a batch and on another dataset
    batch = enc.transform_batch(pd.DataFrame({"c": ["yellow", "blue"]}))
    assert _lists(batch["c"]) == [[0, 0, 0], [1, 0, 0]]
    assert _lists(r["c"] for r in enc.transform(sd.from_items([{"c": "x"}])).take_all()) \
        == [[0, 0, 0]]


def test_one_hot_encoder_max_categories_and_output_columns() -> None:
    enc = OneHotEncoder(["c"], max_categories={"c": 2}, output_columns=["c_enc"])
    out = enc.fit_transform(_colors()).to_pandas()
    assert enc.stats_ == {"unique_values(c)": {"green": 0, "red": 1}}
    assert out["c"].tolist() == COLORS
    assert _lists(out["c_enc"]) == [[0, 1], [1, 0], [0, 1], [0, 1], [0, 0], [1, 0]]
    assert enc.get_output_columns() == ["c_enc"]


def test_one_hot_encoder_treats_a_list_as_one_category() -> None:
    enc = OneHotEncoder(["g"]).fit(sd.from_pandas(pd.DataFrame({"g": GENRES})))
    assert list(enc.stats_["unique_values(g)"]) == [
        ("animation", "comedy", "action"), ("comedy", "action", "sports"), ("documentary",)]
    out = enc.transform_batch(pd.DataFrame({"g": [["documentary"], ["x"]]}))
    assert _lists(out["g"]) == [[0, 0, 1], [0, 0, 0]]


# ---------------------------------------------------------------------------- MultiHotEncoder
def test_multi_hot_encoder_counts_elements() -> None:
    ds = sd.from_pandas(pd.DataFrame({"g": GENRES}))
    enc = MultiHotEncoder(["g"])
    out = enc.fit_transform(ds).to_pandas()
    assert list(enc.stats_["unique_values(g)"]) == [
        "action", "animation", "comedy", "documentary", "sports"]
    assert _lists(out["g"]) == [[1, 0, 1, 0, 1], [1, 1, 1, 0, 0], [0, 0, 0, 1, 0]]
    batch = enc.transform_batch(pd.DataFrame({"g": [["comedy", "comedy", "zzz"]]}))
    assert _lists(batch["g"]) == [[0, 0, 2, 0, 0]]
    top = MultiHotEncoder(["g"], max_categories={"g": 3}, output_columns=["ge"]).fit(ds)
    assert top.stats_ == {"unique_values(g)": {"action": 0, "comedy": 1, "sports": 2}}
    assert _lists(top.transform(ds).to_pandas()["ge"]) == [[1, 1, 1], [1, 1, 0], [0, 0, 0]]


def test_multi_hot_encoder_on_scalars_is_one_element_lists() -> None:
    enc = MultiHotEncoder(["c"]).fit(_colors())
    out = enc.transform_batch(pd.DataFrame({"c": ["red", "zz"]}))
    assert _lists(out["c"]) == [[0, 0, 1], [0, 0, 0]]


# ---------------------------------------------------------------------------- LabelEncoder
def test_label_encoder_and_its_inverse() -> None:
    enc = LabelEncoder("c", output_column="y")
    out = enc.fit_transform(_colors()).to_pandas()
    assert enc.stats_ == {"unique_values(c)": {"blue": 0, "green": 1, "red": 2}}
    assert out["y"].tolist() == [2, 1, 2, 2, 0, 1] and out["c"].tolist() == COLORS
    assert enc.get_input_columns() == ["c"] and enc.get_output_columns() == ["y"]
    unseen = enc.transform_batch(pd.DataFrame({"c": ["yellow", "blue"]}))["y"].tolist()
    assert np.isnan(unseen[0]) and unseen[1] == 0
    back = enc.inverse_transform(sd.from_items([{"y": 0}, {"y": 2}, {"y": 1}])).to_pandas()
    assert back["c"].tolist() == ["blue", "red", "green"]
    with pytest.raises(PreprocessorNotFittedException, match="LabelEncoder"):
        LabelEncoder("c").inverse_transform(_colors())


# ---------------------------------------------------------------------------- Categorizer
def test_categorizer_fits_sorted_categories_and_keeps_nulls_missing() -> None:
    ds = sd.from_pandas(pd.DataFrame({"c": ["b", None, "a", "b"]}))
    cat = Categorizer(["c"])
    out = cat.fit_transform(ds).to_pandas()
    assert list(cat.stats_) == ["c"]
    assert list(cat.stats_["c"].categories) == ["a", "b"] and not cat.stats_["c"].ordered
    assert isinstance(out["c"].dtype, pd.CategoricalDtype)
    assert out["c"].tolist()[0] == "b" and pd.isna(out["c"].tolist()[1])
    other = cat.transform_batch(pd.DataFrame({"c": ["z", "a"]}))["c"]
    assert pd.isna(other[0]) and other[1] == "a"


def test_categorizer_given_dtypes_and_output_columns() -> None:
    dtype = pd.CategoricalDtype(["x", "red"], ordered=True)
    cat = Categorizer(["c", "n"], dtypes={"c": dtype}, output_columns=["c_cat", "n_cat"])
    out = cat.fit_transform(_colors()).to_pandas()
    assert cat.stats_["c"] == dtype and list(cat.stats_["n"].categories) == [1, 2, 3]
    assert out["c"].tolist() == COLORS
    assert [v if isinstance(v, str) else None for v in out["c_cat"]] == [
        "red", None, "red", "red", None, None]
    assert out["c_cat"].cat.ordered


# ---------------------------------------------------------------------------- Tokenizer
def test_tokenizer_splits_on_spaces_and_keeps_nulls() -> None:
    tok = Tokenizer(["t"])
    assert tok.fit_status() is Preprocessor.FitStatus.NOT_FITTABLE
    ds = sd.from_items([{"t": "Hello, world!"}, {"t": "foo bar\nbaz"}])
    assert _lists(r["t"] for r in tok.transform(ds).take_all()) == [
        ["Hello,", "world!"], ["foo", "bar\nbaz"]]
    batch = tok.transform_batch(pd.DataFrame({"t": ["a b", None]}))["t"].tolist()
    assert batch[0] == ["a", "b"] and pd.isna(batch[1])
    custom = Tokenizer(["t"], tokenization_fn=lambda s: s.lower().split(), output_columns=["tt"])
    out = custom.transform_batch(pd.DataFrame({"t": ["Foo  Bar"]}))
    assert out["tt"].tolist() == [["foo", "bar"]] and out["t"].tolist() == ["Foo  Bar"]


def test_tokenizer_names_a_column_that_is_not_text() -> None:
    with pytest.raises(TypeError, match="Tokenizer: cannot tokenize column 'n'"):
        Tokenizer(["n"]).transform_batch(pd.DataFrame({"n": [1, 2]}))


# ---------------------------------------------------------------------------- vectorizers
def test_count_vectorizer_vocabulary_order_and_max_features() -> None:
    ds = sd.from_items([{"t": d} for d in DOCS])
    cv = CountVectorizer(["t"])
    out = cv.fit_transform(ds).to_pandas()
    # by count, ties in order of first appearance
    assert list(cv.stats_["token_counts(t)"].items()) == [
        ("likes", 3), ("volleyball", 2), ("Bob", 2), ("Jimmy", 1), ("too", 1), ("also", 1),
        ("fruit", 1), ("jerky", 1)]
    assert isinstance(cv.stats_["token_counts(t)"], Counter)
    assert _lists(out["t"]) == [[1, 1, 0, 1, 0, 0, 0, 0], [1, 1, 1, 0, 1, 0, 0, 0],
                                [1, 0, 1, 0, 0, 1, 1, 1]]
    other = cv.transform_batch(pd.DataFrame({"t": ["zzz likes likes Bob", None]}))["t"].tolist()
    assert other == [[2, 0, 1, 0, 0, 0, 0, 0], None]
    top = CountVectorizer(["t"], max_features=3, output_columns=["tc"])
    out = top.fit_transform(ds).to_pandas()
    assert top.stats_ == {"token_counts(t)": Counter({"likes": 3, "volleyball": 2, "Bob": 2})}
    assert _lists(out["tc"]) == [[1, 1, 0], [1, 1, 1], [1, 0, 1]]
    assert out["t"].tolist() == DOCS


def test_count_vectorizer_ties_follow_dataset_order_across_blocks() -> None:
    ds = sd.from_items([{"t": "b a"}, {"t": "a b c"}, {"t": None}, {"t": "c d"}],
                       override_num_blocks=4)
    cv = CountVectorizer(["t"], tokenization_fn=str.split).fit(ds)
    assert list(cv.stats_["token_counts(t)"].items()) == [("b", 2), ("a", 2), ("c", 2), ("d", 1)]
    assert _lists(r["t"] for r in cv.transform(ds).take_all()) == [
        [1, 1, 0, 0], [1, 1, 1, 0], None, [0, 0, 1, 1]]


def test_hashing_vectorizer_is_stateless_and_matches_ray_slots() -> None:
    hv = HashingVectorizer(["t"], num_features=8)
    assert hv.fit_status() is Preprocessor.FitStatus.NOT_FITTABLE
    ds = sd.from_items([{"t": d} for d in DOCS])
    assert _lists(r["t"] for r in hv.transform(ds).take_all()) == [
        [0, 0, 1, 1, 0, 0, 1, 0], [1, 1, 0, 1, 0, 0, 1, 0], [1, 1, 0, 2, 1, 0, 0, 0]]
    out = HashingVectorizer(["t"], 4, output_columns=["h"]).transform_batch(
        pd.DataFrame({"t": DOCS[:1] + [None]}))
    assert out["h"].tolist() == [[0, 0, 2, 1], None] and out["t"].tolist()[0] == DOCS[0]


def test_hashing_is_the_same_in_another_process() -> None:
    code = ("from streamdata.preprocessors.hasher import stable_hash; "
            "print([stable_hash(t, 1000) for t in ('Bob', 'likes', 'I')])")
    env_runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
                for seed in ("1", "2")]
    here = str([stable_hash(t, 1000) for t in ("Bob", "likes", "I")])
    assert env_runs == [here + "\n", here + "\n"]


# ---------------------------------------------------------------------------- FeatureHasher
def test_feature_hasher_sums_counts_per_slot_and_keeps_inputs() -> None:
    ds = sd.from_pandas(pd.DataFrame({"I": [1, 1], "like": [1, 0], "dislike": [0, 1],
                                      "Python": [1, 1]}))
    fh = FeatureHasher(["I", "like", "dislike", "Python"], num_features=8, output_column="h")
    out = fh.transform(ds).to_pandas()
    assert list(out.columns) == ["I", "like", "dislike", "Python", "h"]
    # slots: Python 3, I 4, like and dislike both 7 (a collision: their counts add up)
    assert _lists(out["h"]) == [[0, 0, 0, 1, 1, 0, 0, 1], [0, 0, 0, 1, 1, 0, 0, 1]]
    assert fh.get_output_columns() == ["h"]
    nan = FeatureHasher(["I", "like"], num_features=3, output_column="h").transform_batch(
        pd.DataFrame({"I": [1.5, None], "like": [2, 3]}))["h"].tolist()
    assert nan[0].tolist() == [0.0, 3.5, 0.0]
    assert nan[1][0] == 0.0 and np.isnan(nan[1][1]) and nan[1][2] == 0.0


def test_feature_hasher_refuses_a_text_column() -> None:
    fh = FeatureHasher(["w"], num_features=2, output_column="h")
    with pytest.raises(Exception, match="FeatureHasher: column 'w' must hold token counts"):
        fh.transform_batch(pd.DataFrame({"w": ["x"]}))


# ---------------------------------------------------------------------------- errors, state
@pytest.mark.parametrize("make, message", [
    (lambda: OneHotEncoder("c"), "OneHotEncoder: columns must be a non-empty list"),
    (lambda: OneHotEncoder(["c"], max_categories={"zz": 2}),
     "OneHotEncoder: max_categories names column 'zz'"),
    (lambda: MultiHotEncoder(["c"], max_categories={"c": 0}),
     r"MultiHotEncoder: max_categories\['c'\] must be an int >= 1"),
    (lambda: OneHotEncoder(["c"], max_categories=3), "max_categories must be a dict"),
    (lambda: OrdinalEncoder(["a", "b"], output_columns=["x"]), "one output name per column"),
    (lambda: LabelEncoder(["c"]), "LabelEncoder: label_column must be a column name"),
    (lambda: Categorizer(["c"], dtypes={"n": pd.CategoricalDtype(["a"])}),
     "Categorizer: dtypes names column 'n'"),
    (lambda: Categorizer(["c"], dtypes={"c": "category"}), r"dtypes\['c'\] must be a pandas"),
    (lambda: Tokenizer(["t"], tokenization_fn="split"), "Tokenizer: tokenization_fn must be"),
    (lambda: HashingVectorizer(["t"], num_features=0), "HashingVectorizer: num_features"),
    (lambda: CountVectorizer(["t"], max_features=0), "CountVectorizer: max_features"),
    (lambda: FeatureHasher(["a"], num_features=2, output_column=None),
     "FeatureHasher: output_column"),
])
def test_bad_arguments_name_what_is_wrong(make, message) -> None:
    with pytest.raises(PreprocessorArgumentError, match=message):
        make()


def test_missing_columns_are_named_in_fit_and_transform() -> None:
    with pytest.raises(KeyError, match=r"OneHotEncoder: column 'zz' not in"):
        OneHotEncoder(["zz"]).fit(_colors())
    with pytest.raises(KeyError, match=r"CountVectorizer: column 'zz' not in"):
        CountVectorizer(["zz"]).fit(_colors())
    enc = OrdinalEncoder(["c"]).fit(_colors())
    with pytest.raises(KeyError, match=r"OrdinalEncoder: column 'c' not in \['w'\]"):
        enc.transform_batch(pd.DataFrame({"w": [1]}))
    with pytest.raises(KeyError, match=r"Tokenizer: column 't'"):
        Tokenizer(["t"]).transform(_colors()).take_all()


def test_unordered_mixed_categories_are_named() -> None:
    ds = sd.from_items([{"m": ["a", 1]}])
    with pytest.raises(Exception, match="MultiHotEncoder: cannot order the values of column 'm'"):
        MultiHotEncoder(["m"]).fit(ds)


def test_not_fitted_then_fitted_state_survives_serialize() -> None:
    enc = OneHotEncoder(["c"])
    with pytest.raises(PreprocessorNotFittedException, match="OneHotEncoder"):
        enc.transform(_colors())
    enc.fit(_colors())
    copy = Preprocessor.deserialize(enc.serialize())
    assert copy.stats_ == enc.stats_ and copy.fit_status() is Preprocessor.FitStatus.FITTED
    assert repr(copy) == "OneHotEncoder(columns=['c'], max_categories={}, output_columns=['c'])"

"""Categorical encoders (Ray's ``ray.data.preprocessors.encoder``): ``OrdinalEncoder``,
``OneHotEncoder``, ``MultiHotEncoder``, ``LabelEncoder`` and ``Categorizer``.

``fit`` counts each column's values in one ``map_batches`` pass (a small counter per block,
merged on the driver) and numbers the categories in sorted order; the state is kept in
``stats_`` under Ray's keys (``"unique_values(col)"``; ``Categorizer``: the column's name).
A null value cannot be a category: ``fit`` and ``transform`` refuse it (impute first), except
``Categorizer``, which leaves it missing. A value unseen by ``fit`` is encoded as missing
by the ordinal encoders and as all zeros by the one-/multi-hot encoders.

``OrdinalEncoder`` and ``OneHotEncoder`` transform Arrow batches, as Ray's: a dataset's
codes are ``int64`` (null where unseen) and its one-hot vectors ``fixed_size_list<uint8>[n]``;
``transform_batch`` of a DataFrame returns a DataFrame (codes ``float64`` with ``NaN`` where
unseen; vectors as ``uint8`` ndarrays), of a Table or a dict a ``pyarrow.Table``. A batch
holding a list column is encoded in pandas, as Ray's is (vectors become lists of ints).

Example:
    >>> import streamdata as sd
    >>> ds = sd.from_items([{"c": "red"}, {"c": "blue"}, {"c": "red"}])
    >>> enc = OrdinalEncoder(["c"])
    >>> [r["c"] for r in enc.fit_transform(ds).take_all()]
    [1, 0, 1]
    >>> enc.stats_
    {'unique_values(c)': {'blue': 0, 'red': 1}}
    >>> one_hot = OneHotEncoder(["c"]).fit(ds)
    >>> one_hot.transform_batch(pd.DataFrame({"c": ["red", "green"]}))["c"].tolist()
    [array([0, 1], dtype=uint8), array([0, 0], dtype=uint8)]
    >>> one_hot.transform(ds).schema().types
    [FixedSizeListType(fixed_size_list<item: uint8>[2])]
"""

from __future__ import annotations

import pickle
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from streamdata.errors import StreamDataError
from streamdata.preprocessor import Preprocessor, PreprocessorNotFittedException
from streamdata.preprocessors._arrow import (
    _codes_of, _has_list_column, _null_columns, _one_hot, _upsert, _via_pandas,
)
from streamdata.preprocessors._util import (
    PreprocessorArgumentError, _check_present, _columns, _is_missing, _outputs, _plain,
)

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.dataset import Dataset


class MissingValueError(StreamDataError, ValueError):
    """A column to encode holds null values (impute them first, e.g. with ``SimpleImputer``)."""


# ---------------------------------------------------------------------------- helpers
def _is_list_column(series: pd.Series) -> bool:
    """Whether a batch's column holds lists (Arrow list columns arrive as ndarray cells)."""
    if series.dtype != object:
        return False
    first = next((v for v in series if not _is_missing(v)), None)
    return isinstance(first, (list, tuple, np.ndarray))


def _elements(value: Any) -> list[Any]:
    """A list cell's elements (a scalar cell is a one-element list)."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    return [_plain(value)]


def _check_no_nulls(owner: str, df: pd.DataFrame | pa.Table, columns: list[str]) -> None:
    if isinstance(df, pa.Table):
        null_columns = _null_columns(df, columns)
    else:
        null_columns = [c for c in columns if df[c].isna().to_numpy().any()]
    if null_columns:
        raise MissingValueError(f"{owner}: cannot transform column(s) {null_columns!r}: they hold "
                                f"null values (impute them first, e.g. with SimpleImputer)")


class _CountValues:
    """``map_batches`` function of ``fit``: one pickled Counter per column and batch."""

    def __init__(self, owner: str, columns: list[str], explode_lists: bool) -> None:
        self.owner, self.columns, self.explode_lists = owner, columns, explode_lists
        self.__name__ = f"{owner}.fit"

    def __call__(self, df: pd.DataFrame) -> dict[str, np.ndarray]:
        _check_present(self.owner, df, self.columns)
        out = {}
        for col in self.columns:
            out[col] = np.array([pickle.dumps(self._count(df[col]))], dtype=object)
        return out

    def _count(self, series: pd.Series) -> Counter:
        counts: Counter = Counter()
        if _is_list_column(series):
            for value in series:
                if self.explode_lists:
                    if not _is_missing(value):  # a missing row adds no element
                        counts.update(_elements(value))
                else:
                    counts[_plain(value)] += 1
            return counts
        for value, n in series.value_counts(dropna=False).items():
            counts[_plain(value)] += int(n)
        return counts


def _count_values(owner: str, ds: "Dataset", columns: list[str], *,
                  explode_lists: bool) -> dict[str, Counter]:
    """Each column's value counts over ``ds`` (nulls under the key None)."""
    parts = ds.map_batches(_CountValues(owner, columns, explode_lists), batch_format="pandas",
                           batch_size=None).take_all()
    totals: dict[str, Counter] = {c: Counter() for c in columns}
    for row in parts:
        for col in columns:
            totals[col].update(pickle.loads(row[col]))
    return totals


def _index_categories(owner: str, col: str, counts: Counter, max_categories: int | None = None,
                      *, drop_nulls: bool = False) -> dict[Any, int]:
    """The kept categories of a column numbered in sorted order (the most frequent
    ``max_categories`` of them if given)."""
    keys = list(counts) if max_categories is None else [
        k for k, _ in counts.most_common(max_categories)]
    if None in keys:
        if not drop_nulls:
            raise MissingValueError(f"{owner}: cannot fit column {col!r}: it holds null values "
                                    f"(impute them first, e.g. with SimpleImputer)")
        keys = [k for k in keys if k is not None]
    try:
        ordered = sorted(keys)
    except TypeError as exc:
        kinds = sorted({type(k).__name__ for k in keys})
        raise StreamDataError(f"{owner}: cannot order the values of column {col!r}: they mix "
                              f"types {kinds} ({exc})") from None
    return {k: i for i, k in enumerate(ordered)}


def _max_categories(owner: str, columns: list[str], max_categories: Any) -> dict[str, int]:
    if max_categories is None:
        return {}
    if not isinstance(max_categories, Mapping):
        raise PreprocessorArgumentError(f"{owner}: max_categories must be a dict of column name "
                                        f"to int, got {max_categories!r}")
    for col, k in max_categories.items():
        if col not in columns:
            raise PreprocessorArgumentError(f"{owner}: max_categories names column {col!r}, "
                                            f"which is not one of the columns {columns!r}")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise PreprocessorArgumentError(f"{owner}: max_categories[{col!r}] must be an int "
                                            f">= 1, got {k!r}")
    return dict(max_categories)


def _codes(series: pd.Series, mapping: dict[Any, int], *, whole_lists: bool) -> pd.Series:
    """Each cell's category number (NaN where unseen): int64 if every cell was seen."""
    if whole_lists:
        values = [mapping.get(_plain(v)) for v in series]
        codes = pd.Series([np.nan if v is None else v for v in values], index=series.index,
                          dtype="float64")
    else:
        codes = series.map(mapping).astype("float64")
    if not codes.isna().any():
        return codes.astype("int64")
    return codes


# ---------------------------------------------------------------------------- encoders
class OrdinalEncoder(Preprocessor):
    """Replace each category with its number (0 to n - 1, in sorted order of the categories).

    A value unseen by ``fit`` becomes ``NaN``. In a column of lists each element is encoded
    (``encode_lists=True``, unseen elements become None) or each whole list is one category.

    Args:
        columns: the columns to encode, each separately.
        encode_lists: encode the elements of list cells (default), else whole lists.
        output_columns: where to write the codes (default: in place).
    """

    def __init__(self, columns: list[str], *, encode_lists: bool = True,
                 output_columns: list[str] | None = None) -> None:
        super().__init__()
        self.columns = _columns("OrdinalEncoder", columns)
        self.encode_lists = encode_lists
        self.output_columns = _outputs("OrdinalEncoder", self.columns, output_columns)

    def _fit(self, ds: "Dataset") -> Preprocessor:
        counts = _count_values("OrdinalEncoder", ds, self.columns, explode_lists=self.encode_lists)
        self.stats_ = {f"unique_values({c})": _index_categories("OrdinalEncoder", c, counts[c])
                       for c in self.columns}
        return self

    def _transform_pandas(self, df: pd.DataFrame) -> pd.DataFrame:
        _check_present("OrdinalEncoder", df, self.columns)
        _check_no_nulls("OrdinalEncoder", df, self.columns)
        encoded = {}
        for col, out in zip(self.columns, self.output_columns):
            mapping = self.stats_[f"unique_values({col})"]
            series = df[col]
            if _is_list_column(series) and self.encode_lists:
                encoded[out] = pd.Series([[mapping.get(x) for x in _elements(v)] for v in series],
                                         index=df.index, dtype=object)
            else:
                encoded[out] = _codes(series, mapping, whole_lists=_is_list_column(series))
        for out, values in encoded.items():
            df[out] = values
        return df

    @classmethod
    def preferred_batch_format(cls) -> str:
        return "arrow"

    def _transform_arrow(self, table: pa.Table) -> pa.Table:
        _check_present("OrdinalEncoder", table, self.columns)
        _check_no_nulls("OrdinalEncoder", table, self.columns)
        if _has_list_column(table, self.columns):
            return _via_pandas(table, self._transform_pandas)
        encoded = []
        for col, out in zip(self.columns, self.output_columns):
            codes = _codes_of(table.column(col), self.stats_[f"unique_values({col})"])
            encoded.append((out, pa.array(codes, mask=codes < 0, type=pa.int64())))
        for out, values in encoded:
            table = _upsert(table, out, values)
        return table

    def __repr__(self) -> str:
        return (f"OrdinalEncoder(columns={self.columns!r}, encode_lists={self.encode_lists!r}, "
                f"output_columns={self.output_columns!r})")


class _HotEncoder(Preprocessor):
    """What the one-hot and multi-hot encoders share: their arguments, and the categories
    ``fit`` numbers (of whole cells, or of list elements when ``_explode_lists``)."""

    _explode_lists = False

    def __init__(self, columns: list[str], *, max_categories: dict[str, int] | None = None,
                 output_columns: list[str] | None = None) -> None:
        super().__init__()
        owner = type(self).__name__
        self.columns = _columns(owner, columns)
        self.max_categories = _max_categories(owner, self.columns, max_categories)
        self.output_columns = _outputs(owner, self.columns, output_columns)

    def _fit(self, ds: "Dataset") -> Preprocessor:
        owner = type(self).__name__
        counts = _count_values(owner, ds, self.columns, explode_lists=self._explode_lists)
        self.stats_ = {f"unique_values({c})": _index_categories(
            owner, c, counts[c], self.max_categories.get(c)) for c in self.columns}
        return self


class OneHotEncoder(_HotEncoder):
    """Replace each category with a one-hot vector (``uint8``, one slot per category).

    Categories are in sorted order; a value unseen by ``fit``, or dropped by
    ``max_categories``, is all zeros. A dataset's vectors are ``fixed_size_list<uint8>[n]``
    (as Ray's). A list cell is one category (encode its elements with
    :class:`MultiHotEncoder`); a batch holding a list column is encoded in pandas (as Ray's),
    its vectors lists of ints.

    Args:
        columns: the columns to encode, each separately.
        max_categories: per column, how many of its most frequent categories to keep
            (a column not named keeps all).
        output_columns: where to write the vectors (default: in place).
    """

    @classmethod
    def preferred_batch_format(cls) -> str:
        return "arrow"

    def _transform_arrow(self, table: pa.Table) -> pa.Table:
        _check_present("OneHotEncoder", table, self.columns)
        _check_no_nulls("OneHotEncoder", table, self.columns)
        if _has_list_column(table, self.columns):
            return _via_pandas(table, self._transform_pandas)
        encoded = []
        for col, out in zip(self.columns, self.output_columns):
            mapping = self.stats_[f"unique_values({col})"]
            encoded.append((out, _one_hot(_codes_of(table.column(col), mapping), len(mapping))))
        for out, values in encoded:
            table = _upsert(table, out, values)
        return table

    def _transform_pandas(self, df: pd.DataFrame) -> pd.DataFrame:
        """The pandas encoding (Ray's fallback for list columns): each vector a list of ints."""
        _check_present("OneHotEncoder", df, self.columns)
        _check_no_nulls("OneHotEncoder", df, self.columns)
        encoded = {}
        for col, out in zip(self.columns, self.output_columns):
            mapping = self.stats_[f"unique_values({col})"]
            series = df[col]
            lists = _is_list_column(series)
            codes = _codes(series, mapping, whole_lists=lists).fillna(-1).to_numpy(dtype=np.int64)
            hot = np.zeros((len(df), len(mapping)), dtype=np.uint8)
            rows = np.nonzero(codes >= 0)[0]
            hot[rows, codes[rows]] = 1
            encoded[out] = pd.Series(hot.tolist(), index=df.index, dtype=object)
        for out, values in encoded.items():
            df[out] = values
        return df

    def __repr__(self) -> str:
        return (f"OneHotEncoder(columns={self.columns!r}, max_categories={self.max_categories!r}, "
                f"output_columns={self.output_columns!r})")


class MultiHotEncoder(_HotEncoder):
    """Replace each list of categories with its counts per category (a list of ints).

    Categories are the sorted elements seen by ``fit`` (the ``max_categories`` most frequent,
    if given); elements not among them are not counted. A scalar cell counts as a
    one-element list.

    Args:
        columns: the columns to encode, each separately.
        max_categories: per column, how many of its most frequent elements to keep.
        output_columns: where to write the counts (default: in place).
    """

    _explode_lists = True

    def _transform_pandas(self, df: pd.DataFrame) -> pd.DataFrame:
        _check_present("MultiHotEncoder", df, self.columns)
        _check_no_nulls("MultiHotEncoder", df, self.columns)
        encoded = {}
        for col, out in zip(self.columns, self.output_columns):
            categories = list(self.stats_[f"unique_values({col})"])
            rows = []
            for value in df[col]:
                counts = Counter(_elements(value))
                rows.append([counts.get(k, 0) for k in categories])
            encoded[out] = pd.Series(rows, index=df.index, dtype=object)
        for out, values in encoded.items():
            df[out] = values
        return df

    def __repr__(self) -> str:
        return (f"MultiHotEncoder(columns={self.columns!r}, "
                f"max_categories={self.max_categories!r}, "
                f"output_columns={self.output_columns!r})")


class LabelEncoder(Preprocessor):
    """Replace each label with its number (0 to n - 1, in sorted order of the labels).

    A label unseen by ``fit`` becomes ``NaN``; :meth:`inverse_transform` maps numbers back.

    Args:
        label_column: the column of labels.
        output_column: where to write the numbers (default: the label column).
    """

    def __init__(self, label_column: str, *, output_column: str | None = None) -> None:
        super().__init__()
        if not isinstance(label_column, str) or not label_column:
            raise PreprocessorArgumentError(
                f"LabelEncoder: label_column must be a column name, got {label_column!r}")
        self.label_column = label_column
        if output_column is not None and not isinstance(output_column, str):
            raise PreprocessorArgumentError(
                f"LabelEncoder: output_column must be a column name, got {output_column!r}")
        self.output_column = output_column or self.label_column

    def get_input_columns(self) -> list[str]:
        return [self.label_column]

    def get_output_columns(self) -> list[str]:
        return [self.output_column]

    def _fit(self, ds: "Dataset") -> Preprocessor:
        col = self.label_column
        counts = _count_values("LabelEncoder", ds, [col], explode_lists=True)
        self.stats_ = {f"unique_values({col})": _index_categories("LabelEncoder", col,
                                                                  counts[col])}
        return self

    def _transform_pandas(self, df: pd.DataFrame) -> pd.DataFrame:
        col = self.label_column
        _check_present("LabelEncoder", df, [col])
        _check_no_nulls("LabelEncoder", df, [col])
        df[self.output_column] = _codes(df[col], self.stats_[f"unique_values({col})"],
                                        whole_lists=_is_list_column(df[col]))
        return df

    def inverse_transform(self, ds: "Dataset") -> "Dataset":
        """``ds`` with the numbers in ``output_column`` mapped back to labels in
        ``label_column`` (a number that is no label's becomes missing).

        Raises:
            PreprocessorNotFittedException: ``fit`` was not called.
        """
        if self.fit_status() is not Preprocessor.FitStatus.FITTED:
            raise PreprocessorNotFittedException(
                "LabelEncoder: `fit` must be called before `inverse_transform`")
        return ds.map_batches(_InverseLabels(self), batch_format="pandas")

    def __repr__(self) -> str:
        return (f"LabelEncoder(label_column={self.label_column!r}, "
                f"output_column={self.output_column!r})")


class _InverseLabels:
    """``map_batches`` function of :meth:`LabelEncoder.inverse_transform`."""

    def __init__(self, enc: LabelEncoder) -> None:
        mapping = enc.stats_[f"unique_values({enc.label_column})"]
        self.labels = {i: label for label, i in mapping.items()}
        self.label_column, self.output_column = enc.label_column, enc.output_column
        self.__name__ = "LabelEncoder.inverse_transform"

    def __call__(self, df: pd.DataFrame) -> pd.DataFrame:
        _check_present("LabelEncoder.inverse_transform", df, [self.output_column])
        df[self.label_column] = df[self.output_column].map(self.labels)
        return df


def _categorical(series: pd.Series, dtype: pd.CategoricalDtype) -> pd.Series:
    """``series`` as ``dtype``; a value that is not a category becomes missing."""
    return series.where(series.isin(dtype.categories)).astype(dtype)


class Categorizer(Preprocessor):
    """Turn columns into pandas categoricals (``pd.CategoricalDtype``), e.g. for LightGBM.

    A column's categories are given in ``dtypes`` or are its sorted distinct values seen by
    ``fit`` (nulls left out). A value that is not a category, or null, becomes missing.
    ``stats_`` maps each column name to its ``CategoricalDtype``.

    Args:
        columns: the columns to convert.
        dtypes: known categories, as a dict of column name to ``pd.CategoricalDtype``.
        output_columns: where to write the categoricals (default: in place).
    """

    def __init__(self, columns: list[str], dtypes: dict[str, pd.CategoricalDtype] | None = None,
                 output_columns: list[str] | None = None) -> None:
        super().__init__()
        self.columns = _columns("Categorizer", columns)
        dtypes = dict(dtypes or {})
        for col, dtype in dtypes.items():
            if col not in self.columns:
                raise PreprocessorArgumentError(f"Categorizer: dtypes names column {col!r}, "
                                                f"which is not one of the columns {self.columns!r}")
            if not isinstance(dtype, pd.CategoricalDtype):
                raise PreprocessorArgumentError(f"Categorizer: dtypes[{col!r}] must be a "
                                                f"pandas.CategoricalDtype, got {dtype!r}")
        self.dtypes = dtypes
        self.output_columns = _outputs("Categorizer", self.columns, output_columns)

    def _fit(self, ds: "Dataset") -> Preprocessor:
        stats: dict[str, pd.CategoricalDtype] = dict(self.dtypes)
        to_fit = [c for c in self.columns if c not in self.dtypes]
        if to_fit:
            counts = _count_values("Categorizer", ds, to_fit, explode_lists=False)
            for col in to_fit:
                index = _index_categories("Categorizer", col, counts[col], drop_nulls=True)
                stats[col] = pd.CategoricalDtype(list(index))
        self.stats_ = stats
        return self

    def _transform_pandas(self, df: pd.DataFrame) -> pd.DataFrame:
        _check_present("Categorizer", df, self.columns)
        converted = {out: _categorical(df[col], self.stats_[col])
                     for col, out in zip(self.columns, self.output_columns)}
        for out, values in converted.items():
            df[out] = values
        return df

    def __repr__(self) -> str:
        return (f"Categorizer(columns={self.columns!r}, dtypes={self.dtypes!r}, "
                f"output_columns={self.output_columns!r})")


__all__ = ["Categorizer", "LabelEncoder", "MissingValueError", "MultiHotEncoder", "OneHotEncoder",
           "OrdinalEncoder"]

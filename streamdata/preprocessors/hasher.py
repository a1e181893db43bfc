"""``FeatureHasher`` (Ray's ``ray.data.preprocessors.hasher``): the hashing trick on columns
of token counts.

Each column is a token; its index is a SHA-256 hash of the column's name modulo
``num_features`` (:func:`stable_hash`, the same in every process and on every run, unlike
Python's ``hash``). Each row's counts are summed per index into one array column.

Example:
    >>> import streamdata as sd
    >>> ds = sd.from_items([{"I": 1, "like": 1, "Python": 1}, {"I": 1, "like": 0, "Python": 2}])
    >>> hasher = FeatureHasher(["I", "like", "Python"], num_features=4, output_column="h")
    >>> [r["h"].tolist() for r in hasher.transform(ds).take_all()]
    [[1, 0, 0, 2], [1, 0, 0, 2]]
    >>> stable_hash("like", 4), stable_hash("Python", 4)  # a collision
    (3, 3)
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd

from streamdata.errors import StreamDataError
from streamdata.preprocessor import Preprocessor
from streamdata.preprocessors._util import PreprocessorArgumentError, _check_present, _columns


def stable_hash(value: object, num_features: int) -> int:
    """``value`` (as its ``str``) hashed into ``range(num_features)``: the SHA-256 digest,
    read as a big-endian integer, modulo ``num_features`` (the index Ray computes).

    Example:
        >>> stable_hash("I", 8)
        4
    """
    digest = hashlib.sha256(str(value).encode()).digest()
    return int.from_bytes(digest, "big") % num_features


def _num_features(owner: str, num_features: Any) -> int:
    if isinstance(num_features, bool) or not isinstance(num_features, (int, np.integer)) \
            or num_features < 1:
        raise PreprocessorArgumentError(f"{owner}: num_features must be an int >= 1, "
                                        f"got {num_features!r}")
    return int(num_features)


def _counts(series: pd.Series) -> np.ndarray:
    if not pd.api.types.is_numeric_dtype(series.dtype):
        raise StreamDataError(f"FeatureHasher: column {series.name!r} must hold token counts "
                              f"(numbers), got dtype {series.dtype}")
    if series.isna().any():
        return series.to_numpy(dtype="float64", na_value=np.nan)
    return series.to_numpy()


def _sum_dtype(dtypes: list[np.dtype]) -> np.dtype:
    """The dtype of the summed counts, as Ray's: ``float64`` if any count is a float (or
    null), ``uint64`` if every count is unsigned, else ``int64`` (booleans count as ints).

    Example:
        >>> [str(_sum_dtype([np.dtype(a), np.dtype(b)])) for a, b in
        ...  [("uint8", "uint16"), ("uint8", "bool"), ("int32", "float32")]]
        ['uint64', 'int64', 'float64']
    """
    if all(d.kind == "u" for d in dtypes):
        return np.dtype(np.uint64)
    if all(d.kind in "iub" for d in dtypes) and np.result_type(*dtypes).kind in "iub":
        return np.dtype(np.int64)
    return np.dtype(np.float64)


class FeatureHasher(Preprocessor):
    """Sum columns of token counts into ``num_features`` hashed slots (one array column).

    The input columns are kept. Distinct tokens may share a slot (a collision); a larger
    ``num_features`` makes that rarer. The sums are ``int64`` (``uint64`` if every count
    column is unsigned) or, if a count is a float or null, ``float64`` (as Ray's); a null
    count makes its slot ``NaN``.

    Args:
        columns: the columns of counts, one per token (the column name is the token).
        num_features: the length of the output arrays.
        output_column: the new column of arrays.
    """

    _is_fittable = False

    def __init__(self, columns: list[str], num_features: int, output_column: str) -> None:
        super().__init__()
        self.columns = _columns("FeatureHasher", columns)
        self.num_features = _num_features("FeatureHasher", num_features)
        if not isinstance(output_column, str) or not output_column:
            raise PreprocessorArgumentError(
                f"FeatureHasher: output_column must be a column name, got {output_column!r}")
        self.output_column = output_column

    def get_output_columns(self) -> list[str]:
        return [self.output_column]

    def _transform_pandas(self, df: pd.DataFrame) -> pd.DataFrame:
        _check_present("FeatureHasher", df, self.columns)
        values = [_counts(df[c]) for c in self.columns]
        summed = np.zeros((len(df), self.num_features), dtype=_sum_dtype([v.dtype for v in values]))
        for col, column_values in zip(self.columns, values):
            summed[:, stable_hash(col, self.num_features)] += column_values
        df[self.output_column] = pd.Series(list(summed), index=df.index, dtype=object)
        return df

    def __repr__(self) -> str:
        return (f"FeatureHasher(columns={self.columns!r}, num_features={self.num_features!r}, "
                f"output_column={self.output_column!r})")


__all__ = ["FeatureHasher", "stable_hash"]

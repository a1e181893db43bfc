"""Scalers: ``MinMaxScaler``, ``StandardScaler``, ``MaxAbsScaler`` and ``RobustScaler``
(Ray's ``ray.data.preprocessors.scaler``).

Each fits its statistics in one ``Dataset.aggregate`` pass and keeps them in ``stats_``
under Ray's keys; the transform is per column and per batch (pandas).

Example:
    >>> import streamdata as sd
    >>> ds = sd.from_items([{"x": -4}, {"x": 2}, {"x": 1}])
    >>> scaler = MaxAbsScaler(["x"])
    >>> [r["x"] for r in scaler.fit_transform(ds).take_all()]
    [-1.0, 0.5, 0.25]
    >>> scaler.stats_
    {'abs_max(x)': 4}
    >>> import pandas as pd
    >>> robust = RobustScaler(["x"], output_columns=["x_robust"]).fit(ds)
    >>> robust.stats_
    {'low_quantile(x)': -4.0, 'median(x)': 1.0, 'high_quantile(x)': 2.0}
    >>> robust.transform_batch(pd.DataFrame({"x": [1, 4]}))["x_robust"].tolist()
    [0.0, 0.5]
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real
from typing import TYPE_CHECKING, Any

import numpy as np

from streamdata.preprocessor import Preprocessor
from streamdata.preprocessors._arrow import _scaled, _upsert
from streamdata.preprocessors._util import (
    PreprocessorArgumentError, _check_present, _columns, _outputs,
)

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

    from streamdata.dataset import Dataset

#: a deviation below this scales by 1 (a constant column is only centered), as Ray's
_EPSILON = 1e-8


class MinMaxScaler(Preprocessor):
    """Scale each column to [0, 1] with the minimum and maximum seen by ``fit``.

    A column whose minimum equals its maximum maps to 0 (as Ray does).

    Args:
        columns: the columns to scale.
        output_columns: where to write the scaled values (default: in place).
    """

    def __init__(self, columns: list[str], output_columns: list[str] | None = None) -> None:
        super().__init__()
        self.columns = _columns("MinMaxScaler", columns)
        self.output_columns = _outputs("MinMaxScaler", self.columns, output_columns)

    def _fit(self, ds: "Dataset") -> Preprocessor:
        from streamdata.aggregate import Max, Min
        aggs = [agg(c) for c in self.columns for agg in (Min, Max)]
        self.stats_ = ds.aggregate(*aggs)
        return self

    def _transform_pandas(self, df: Any) -> Any:
        _check_present("MinMaxScaler", df, self.columns)
        for col, out in zip(self.columns, self.output_columns):
            lo, hi = self.stats_[f"min({col})"], self.stats_[f"max({col})"]
            span = (hi - lo) if hi is not None and lo is not None and hi != lo else 1
            df[out] = (df[col] - lo) / span
        return df

    def __repr__(self) -> str:
        return f"MinMaxScaler(columns={self.columns!r}, output_columns={self.output_columns!r})"


class StandardScaler(Preprocessor):
    """Center each column on its mean and divide by its (population) standard deviation.

    A column with (near) zero deviation is only centered, and one ``fit`` saw no value of
    becomes null (as Ray does). Batches are transformed in Arrow (as Ray's): the scaled
    columns are ``double``, and ``transform_batch`` of a Table or a dict returns a Table.

    Args:
        columns: the columns to scale.
        output_columns: where to write the scaled values (default: in place).
    """

    def __init__(self, columns: list[str], output_columns: list[str] | None = None) -> None:
        super().__init__()
        self.columns = _columns("StandardScaler", columns)
        self.output_columns = _outputs("StandardScaler", self.columns, output_columns)

    def _fit(self, ds: "Dataset") -> Preprocessor:
        from streamdata.aggregate import Mean, Std
        aggs = [Mean(c) for c in self.columns] + [Std(c, ddof=0) for c in self.columns]
        self.stats_ = ds.aggregate(*aggs)
        return self

    def _transform_pandas(self, df: Any) -> Any:
        _check_present("StandardScaler", df, self.columns)
        scaled = {}
        for col, out in zip(self.columns, self.output_columns):
            mean, std = self.stats_[f"mean({col})"], self.stats_[f"std({col})"]
            if mean is None or std is None:
                scaled[out] = df[col] * np.nan
            else:
                scaled[out] = (df[col] - mean) / (std if std >= _EPSILON else 1)
        for out, values in scaled.items():
            df[out] = values
        return df

    @classmethod
    def preferred_batch_format(cls) -> str:
        return "arrow"

    def _transform_arrow(self, table: "pa.Table") -> "pa.Table":
        import pyarrow as pa
        _check_present("StandardScaler", table, self.columns)
        scaled = []
        for col, out in zip(self.columns, self.output_columns):  # all read before any is written
            column = table.column(col)
            mean, std = self.stats_[f"mean({col})"], self.stats_[f"std({col})"]
            if mean is None or std is None:  # as Ray: nulls of the column's own type
                scaled.append((out, pa.nulls(len(column), type=column.type)))
            else:
                scaled.append((out, _scaled("StandardScaler", col, column, mean,
                                            std if std >= _EPSILON else 1)))
        for out, values in scaled:
            table = _upsert(table, out, values)
        return table

    def __repr__(self) -> str:
        return f"StandardScaler(columns={self.columns!r}, output_columns={self.output_columns!r})"


class MaxAbsScaler(Preprocessor):
    """Divide each column by the largest absolute value ``fit`` saw in it.

    The sign is kept and values land in [-1, 1]. A column that is all zeros is left as it
    is (divided by 1); one without any value seen by ``fit`` becomes NaN (as Ray does).

    Args:
        columns: the columns to scale.
        output_columns: where to write the scaled values (default: in place).
    """

    def __init__(self, columns: list[str], output_columns: list[str] | None = None) -> None:
        super().__init__()
        self.columns = _columns("MaxAbsScaler", columns)
        self.output_columns = _outputs("MaxAbsScaler", self.columns, output_columns)

    def _fit(self, ds: "Dataset") -> Preprocessor:
        from streamdata.aggregate import AbsMax
        self.stats_ = ds.aggregate(*[AbsMax(c) for c in self.columns])
        return self

    def _transform_pandas(self, df: Any) -> Any:
        _check_present("MaxAbsScaler", df, self.columns)
        scaled = []  # all read before any is written: an output may name another input
        for col in self.columns:
            abs_max = self.stats_[f"abs_max({col})"]
            if abs_max is None:
                scaled.append(np.full(len(df), np.nan))
            else:
                scaled.append(df[col] / (abs_max if abs_max != 0 else 1))
        for out, values in zip(self.output_columns, scaled):
            df[out] = values
        return df

    def __repr__(self) -> str:
        return f"MaxAbsScaler(columns={self.columns!r}, output_columns={self.output_columns!r})"


def _quantile_range(value: Any) -> tuple[float, float]:
    """``quantile_range`` checked: two numbers with 0 <= low <= high <= 1."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2 \
            or not all(isinstance(q, Real) and not isinstance(q, bool) for q in value):
        raise PreprocessorArgumentError(
            f"RobustScaler: quantile_range must be a pair (low, high) of numbers, got {value!r}")
    low, high = value
    if not 0.0 <= low <= high <= 1.0:
        raise PreprocessorArgumentError(
            f"RobustScaler: quantile_range must satisfy 0 <= low <= high <= 1, got {value!r}")
    return (low, high)


class RobustScaler(Preprocessor):
    """Center each column on its median and divide by its inter-quantile range.

    ``x' = (x - median) / (high_quantile - low_quantile)``, the quantiles coming from
    ``quantile_range`` (the quartiles by default). They are approximate
    (:class:`~streamdata.aggregate.ApproximateQuantile`), exact while a column has at most
    ``quantile_precision`` values. A column whose range is 0 maps to zeros; one without any
    value seen by ``fit`` becomes NaN (as Ray does). Outliers barely move the fitted state.

    Args:
        columns: the columns to scale.
        quantile_range: ``(low, high)``, each in [0, 1]; default ``(0.25, 0.75)``.
        output_columns: where to write the scaled values (default: in place).
        quantile_precision: the sketch's ``k`` (more: more exact, more memory).
    """

    DEFAULT_QUANTILE_PRECISION = 800

    def __init__(self, columns: list[str], quantile_range: tuple[float, float] = (0.25, 0.75),
                 output_columns: list[str] | None = None,
                 quantile_precision: int = DEFAULT_QUANTILE_PRECISION) -> None:
        super().__init__()
        self.columns = _columns("RobustScaler", columns)
        self.quantile_range = _quantile_range(quantile_range)
        if isinstance(quantile_precision, bool) or not isinstance(quantile_precision, int) \
                or quantile_precision < 2:
            raise PreprocessorArgumentError(
                f"RobustScaler: quantile_precision must be an int >= 2, got {quantile_precision!r}")
        self.quantile_precision = quantile_precision
        self.output_columns = _outputs("RobustScaler", self.columns, output_columns)

    def _fit(self, ds: "Dataset") -> Preprocessor:
        from streamdata.aggregate import ApproximateQuantile
        low, high = self.quantile_range
        qs = [low, 0.5, high]
        aggs = [ApproximateQuantile(c, qs, quantile_precision=self.quantile_precision)
                for c in self.columns]
        result = ds.aggregate(*aggs)
        stats: dict[str, Any] = {}
        for col in self.columns:
            found = result.get(f"approx_quantile({col})")
            lo, med, hi = found if found and len(found) == 3 else (None, None, None)
            stats[f"low_quantile({col})"] = lo
            stats[f"median({col})"] = med
            stats[f"high_quantile({col})"] = hi
        self.stats_ = stats
        return self

    def _transform_pandas(self, df: Any) -> Any:
        _check_present("RobustScaler", df, self.columns)
        scaled = []  # all read before any is written: an output may name another input
        for col in self.columns:
            lo = self.stats_[f"low_quantile({col})"]
            med = self.stats_[f"median({col})"]
            hi = self.stats_[f"high_quantile({col})"]
            if lo is None or med is None or hi is None:
                scaled.append(np.full(len(df), np.nan))
            elif hi - lo == 0:
                scaled.append(np.zeros_like(df[col]))  # keeps the column's dtype, as Ray
            else:
                scaled.append((df[col] - med) / (hi - lo))
        for out, values in zip(self.output_columns, scaled):
            df[out] = values
        return df

    def __repr__(self) -> str:
        return (f"RobustScaler(columns={self.columns!r}, quantile_range={self.quantile_range!r}, "
                f"output_columns={self.output_columns!r})")


__all__ = ['MaxAbsScaler', 'MinMaxScaler', 'RobustScaler', 'StandardScaler']

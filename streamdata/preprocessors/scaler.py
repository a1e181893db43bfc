"""Scalers: ``MinMaxScaler`` and ``StandardScaler`` (Ray's ``ray.data.preprocessors.scaler``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streamdata.preprocessor import Preprocessor
from streamdata.preprocessors._util import _check_present, _columns, _outputs

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.dataset import Dataset


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

    A column with zero deviation is only centered (as Ray does).

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
        aggs = [a for c in self.columns for a in (Mean(c), Std(c, ddof=0))]
        self.stats_ = ds.aggregate(*aggs)
        return self

    def _transform_pandas(self, df: Any) -> Any:
        _check_present("StandardScaler", df, self.columns)
        for col, out in zip(self.columns, self.output_columns):
            mean, std = self.stats_[f"mean({col})"], self.stats_[f"std({col})"]
            df[out] = (df[col] - mean) / (std if std else 1)
        return df

    def __repr__(self) -> str:
        return f"StandardScaler(columns={self.columns!r}, output_columns={self.output_columns!r})"


__all__ = ['MinMaxScaler', 'StandardScaler']
